/**
 * reuse-port and planSlots for listeners: which Node versions have the
 * listen option reusePort, the test-only switch that turns it off, and how
 * many smtpd threads an inet service gets with and without it (maxproc,
 * one per core for "-", one with a note where reusePort is missing); unix
 * services and listeners of roles that do not share an address are as
 * before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reusePortSupport, versionHasReusePort } from '../../src/supervisor/reuse-port.js';
import { planSlots, type RoleSpec, type SupervisorConfig } from '../../src/supervisor/role-registry.js';
import type { MasterService } from '../../src/config/config-types.js';

test('reusePort: Node >= 22.12 (or >= 23.1) on Linux; the test switch turns it off', () => {
  assert.equal(versionHasReusePort('20.19.0'), false);
  assert.equal(versionHasReusePort('22.11.0'), false);
  assert.equal(versionHasReusePort('22.12.0'), true);
  assert.equal(versionHasReusePort('23.0.0'), false);
  assert.equal(versionHasReusePort('23.1.0'), true);
  assert.equal(versionHasReusePort('24.11.1'), true);
  assert.deepEqual(reusePortSupport({}, '24.11.1', 'linux'), { supported: true });
  assert.match(reusePortSupport({}, '20.19.0', 'linux').reason!, /Node v20\.19\.0 has no listen option reusePort/);
  assert.equal(reusePortSupport({}, '24.11.1', 'win32').supported, false);
  assert.equal(reusePortSupport({ POSTRIDER_TEST_NO_REUSEPORT: '1' }, '24.11.1', 'linux').supported, false);
});

function svc(name: string, type: 'inet' | 'unix', command: string, maxproc: number | null): MasterService {
  return { name, type, private: true, unpriv: true, chroot: false, wakeup: '-', maxproc, command, args: [], overrides: {}, file: 'master.cf', line: 1 };
}

const entry = new URL('file:///nowhere.js');
const REGISTRY: RoleSpec[] = [
  { role: 'smtpd', entry, peers: [], defaultInstances: () => 1, reusePort: true },
  { role: 'listen', entry, peers: [], defaultInstances: () => 1 },
  { role: 'smtp', entry, peers: [], defaultInstances: (c) => Math.max(2, c) },
];

function config(master: MasterService[]): SupervisorConfig {
  return { dir: '/etc/postrider', params: {}, master, problems: [] };
}

test('planSlots: an inet smtpd service runs maxproc threads, one per core for "-"; one and a note without reusePort', () => {
  const c = config([svc('127.0.0.1:2525', 'inet', 'smtpd', null), svc('127.0.0.1:2587', 'inet', 'smtpd', 2), svc('127.0.0.1:9', 'inet', 'listen', 4), svc('smtp', 'unix', 'smtp', null)]);
  const on = planSlots(c, REGISTRY, 8, { reusePort: true });
  const count = (p: typeof on, name: string): number => p.slots.filter((s) => s.service?.name === name).length;
  assert.equal(count(on, '127.0.0.1:2525'), 8, 'one per core');
  assert.equal(count(on, '127.0.0.1:2587'), 2, 'maxproc');
  assert.equal(count(on, '127.0.0.1:9'), 1, 'a listener role that does not share its address: one');
  assert.equal(count(on, 'smtp'), 8, 'unix services as before');
  assert.deepEqual(on.narrowed, []);
  assert.deepEqual(on.slots.filter((s) => s.service?.name === '127.0.0.1:2587').map((s) => s.key), ['smtpd|inet:127.0.0.1:2587|0', 'smtpd|inet:127.0.0.1:2587|1'], 'stable keys per thread');

  const off = planSlots(c, REGISTRY, 8, { reusePort: false });
  assert.equal(count(off, '127.0.0.1:2525'), 1);
  assert.equal(count(off, '127.0.0.1:2587'), 1);
  assert.deepEqual(off.narrowed.map((n) => [n.service.name, n.wanted]), [['127.0.0.1:2525', 8], ['127.0.0.1:2587', 2]]);
  assert.equal(count(off, 'smtp'), 8);

  const one = planSlots(c, REGISTRY, 1, { reusePort: false });
  assert.deepEqual(one.narrowed.map((n) => n.service.name), ['127.0.0.1:2587'], 'nothing narrowed where one thread was asked for');
});
