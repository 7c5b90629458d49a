/**
 * The restart rule: OTP's intensity limit fails a start that cannot come
 * up; once the daemon serves, crashes past the limit are throttled with a
 * growing delay (never a stopped daemon), and an actor that dies before it
 * was ready waits service_throttle_time, as Postfix's master throttles a
 * bad command startup.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { RestartIntensity, RestartPolicy } from '../../src/supervisor/restart-policy.js';
import { makeConfig, readLog, service, tempDir, testRegistry } from './harness.js';

test('RestartIntensity counts restarts inside the window only', () => {
  const r = new RestartIntensity(2, 10);
  assert.equal(r.record(0), false);
  assert.equal(r.record(1000), false);
  assert.equal(r.record(2000), true);
  assert.equal(r.record(60_000), false, 'the old ones left the window');
});

test('RestartPolicy reads its limits from main.cf, with the defaults for missing or malformed values', () => {
  const p = RestartPolicy.fromParams({ supervisor_restart_limit: '4', supervisor_restart_window: '2m', service_throttle_time: '30s' }, '/');
  assert.deepEqual([p.limit, p.windowSeconds, p.throttleSeconds], [4, 120, 30]);
  const d = RestartPolicy.fromParams({ supervisor_restart_limit: 'many' }, '/');
  assert.deepEqual([d.limit, d.windowSeconds, d.throttleSeconds], [10, 60, 60]);
});

test('before the daemon serves, more restarts than the limit are fatal', () => {
  const p = new RestartPolicy(2, 60, 60);
  const slot = {};
  assert.deepEqual(p.decide(slot, 'echo[1]', 0, false, true), { kind: 'now' });
  assert.deepEqual(p.decide(slot, 'echo[1]', 1, false, false), { kind: 'now' });
  assert.deepEqual(p.decide(slot, 'echo[1]', 2, false, true), { kind: 'fatal', reason: 'restart intensity exceeded: 3 restarts in 60 s; last: echo[1]' });
});

test('once the daemon serves, restarts past the limit are throttled with a doubling delay up to service_throttle_time, per actor', () => {
  const p = new RestartPolicy(2, 60, 5);
  const slot = {};
  const other = {};
  const delays: number[] = [];
  for (let i = 0; i < 8; i++) {
    const d = p.decide(slot, 'smtpd[1]', i * 100, true, true);
    assert.notEqual(d.kind, 'fatal', 'never fatal once serving');
    delays.push(d.kind === 'later' ? d.delayMs : 0);
  }
  assert.deepEqual(delays, [0, 0, 1000, 2000, 4000, 5000, 5000, 5000]);
  assert.deepEqual(p.decide(other, 'qmgr[1]', 900, true, true), { kind: 'now' }, 'another actor is not slowed by this one');
  assert.deepEqual(p.decide(slot, 'smtpd[1]', 200_000, true, true), { kind: 'now' }, 'old restarts left the window');
  const bad = p.decide({}, 'smtpd[2]', 0, true, false);
  assert.deepEqual(bad, { kind: 'later', delayMs: 5000, reason: 'smtpd[2]: bad command startup -- throttling' });
});

test('a serving tree survives crashes past the limit: it throttles, logs and keeps serving', async () => {
  const t = tempDir();
  const config = makeConfig(t.dir, [service('echo', 'echo', { maxproc: 1 }), service('caller', 'caller', { maxproc: 1 })], {
    supervisor_restart_limit: '2',
    supervisor_restart_window: '60s',
    service_throttle_time: '2s',
  });
  const sup = new Supervisor({ config, registry: testRegistry({ spare: true }), controlSocket: false });
  let fatal: string | undefined;
  sup.on('fatal', (reason: string) => (fatal = reason));
  try {
    await sup.start();
    const delays: number[] = [];
    sup.on('throttle', (t: { delayMs: number }) => delays.push(t.delayMs));
    for (let i = 0; i < 5; i++) {
      const restarted = once(sup, 'restart');
      sup.fault('echo', 1, 'exit');
      await restarted;
    }
    assert.equal(fatal, undefined, 'the tree did not stop');
    assert.deepEqual(delays, [1000, 2000, 2000]);
    assert.equal(await sup.callActor('echo', 'echo', 'still here', { timeoutMs: 5000 }), 'still here');
    assert.ok(existsSync(join(t.dir, 'queue', 'pid', 'master.pid')), 'the pid file stays');
    const log = readLog(t.dir);
    assert.match(log, /postrider\/master\[\d+\]: warning: restart intensity exceeded: 3 restarts of echo\[1\] in 60 s -- throttling; restarting echo\[1\] in 1 s/);
    assert.doesNotMatch(log, /fatal:/);
  } finally {
    await sup.stop();
    t.cleanup();
  }
  assert.equal(await sup.done, 0, 'a clean stop afterwards');
});

test('a set-up that fails refuses start() with the reason and leaves nothing running', async () => {
  const t = tempDir();
  const config = makeConfig(t.dir, [service('broken', 'broken', { maxproc: 1 })]);
  const sup = new Supervisor({ config, registry: testRegistry(), controlSocket: false });
  try {
    await assert.rejects(sup.start(), { code: 'ERR_SETUP_FAILED', message: 'broken[1]: set-up failed: cannot open the store' });
    assert.equal(existsSync(join(t.dir, 'queue', 'pid', 'master.pid')), false);
  } finally {
    t.cleanup();
  }
});

test('fault injection is refused unless debug_fault_injection = yes', async () => {
  const t = tempDir();
  const config = makeConfig(t.dir, [service('echo', 'echo', { maxproc: 1 })], { debug_fault_injection: 'no' });
  const sup = new Supervisor({ config, registry: testRegistry({ spare: false }), controlSocket: false });
  try {
    await sup.start();
    assert.throws(() => sup.fault('echo', 1, 'exit'), { code: 'ERR_FAULT_DISABLED' });
    assert.equal(((await sup.callActor('echo', 'echo', 'still here')) as string), 'still here');
  } finally {
    await sup.stop();
    t.cleanup();
  }
});
