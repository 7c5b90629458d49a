/**
 * Unix services of one role that differ in nothing but their name share
 * their instances (planSlots): bounce, defer and trace run in one thread,
 * error and retry in one; services whose -o values differ (smtp and relay)
 * keep their own. End to end, one shared error thread still delivers each
 * transport by its own service: the error transport bounces, the retry
 * transport defers, and `status` lists the thread once, with the services
 * it also serves.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { planSlots } from '../../src/supervisor/role-registry.js';
import { defaultRegistry } from '../../src/supervisor/roles.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

function plan(master: string[], cores = 2): Array<{ key: string; service?: string; also?: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-shared-'));
  writeFileSync(join(dir, 'main.cf'), `queue_directory = ${join(dir, 'spool')}\n`);
  writeFileSync(join(dir, 'master.cf'), master.join('\n') + '\n');
  const config = loadConfig(dir);
  assert.deepEqual(config.problems.filter((p) => p.severity === 'error'), []);
  return planSlots(config, defaultRegistry(), cores).slots
    .filter((s) => s.role !== 'journal' && s.role !== 'anvil')
    .map((s) => ({ key: s.key, service: s.service?.name, also: s.also?.map((a) => a.name) }));
}

test('services of one role with the same settings share their instances', () => {
  const slots = plan([
    'bounce    unix  -       -       n       -       0       bounce',
    'defer     unix  -       -       n       -       0       bounce',
    'trace     unix  -       -       n       -       0       bounce',
    'error     unix  -       -       n       -       -       error',
    'retry     unix  -       -       n       -       -       error',
    'smtp      unix  -       -       n       -       -       smtp',
    'relay     unix  -       -       n       -       -       smtp',
    '  -o syslog_name=postrider/$service_name',
  ]);
  assert.deepEqual(slots, [
    { key: 'bounce|unix:bounce|0', service: 'bounce', also: ['defer', 'trace'] },
    { key: 'error|unix:error|0', service: 'error', also: ['retry'] },
    // "-" on 2 cores: one delivery thread per two cores
    { key: 'smtp|unix:smtp|0', service: 'smtp', also: undefined },
    { key: 'smtp|unix:relay|0', service: 'relay', also: undefined },
  ]);
});

test('a shared service keeps every instance of the group: each serves all its services', () => {
  const slots = plan([
    'smtp      unix  -       -       n       -       2       smtp',
    'relay     unix  -       -       n       -       2       smtp',
  ]);
  assert.deepEqual(slots, [
    { key: 'smtp|unix:smtp|0', service: 'smtp', also: ['relay'] },
    { key: 'smtp|unix:smtp|1', service: 'smtp', also: ['relay'] },
  ]);
});

test('services whose -o values, process limits or $service_name-made values differ keep instances of their own (4 cores: two smtp threads for "-")', () => {
  const slots = plan([
    'smtp      unix  -       -       n       -       -       smtp',
    'relay     unix  -       -       n       -       -       smtp',
    '  -o smtp_helo_name=relay.example',
    'error     unix  -       -       n       -       1       error',
    'retry     unix  -       -       n       -       2       error',
    'bounce    unix  -       -       n       -       1       bounce',
    '  -o syslog_name=postrider/$service_name',
    'defer     unix  -       -       n       -       1       bounce',
    '  -o syslog_name=postrider/$service_name',
  ], 4);
  assert.equal(slots.filter((s) => s.also !== undefined).length, 0, JSON.stringify(slots));
  assert.deepEqual(slots.map((s) => s.key), [
    'smtp|unix:smtp|0', 'smtp|unix:smtp|1',
    'smtp|unix:relay|0', 'smtp|unix:relay|1',
    'error|unix:error|0',
    'error|unix:retry|0', 'error|unix:retry|1',
    'bounce|unix:bounce|0',
    'bounce|unix:defer|0',
  ]);
});

let daemon: RunningDaemon;

before(async () => {
  const tables = mkdtempSync(join(tmpdir(), 'postrider-shared-tables-'));
  const transport = join(tables, 'transport.regexp');
  writeFileSync(transport, ['/@bounced\\.test$/ error:5.1.2 gone for good', '/@later\\.test$/ retry:4.4.1 try later', ''].join('\n'));
  daemon = await startDaemon({
    // smtpd would refuse these recipients at RCPT (as Postfix's does); without that check they reach the error agent.
    params: { transport_maps: `regexp:${transport}`, relay_domains: 'bounced.test, later.test', bounce_notice_recipient: 'postmaster', smtpd_reject_unlisted_recipient: 'no' },
  });
});

after(async () => {
  await daemon?.stop();
});

test('one shared thread bounces for the error transport and defers for the retry transport; status lists it once', async () => {
  const st = JSON.parse((await daemon.cli(['status', '--json'])).stdout) as { actors: Array<{ role: string; service: string; alsoServes?: string[] }> };
  const errors = st.actors.filter((a) => a.role === 'error');
  assert.deepEqual(errors.map((a) => [a.service, a.alsoServes]), [['error', ['retry']]]);

  const bounced = await sendMail(daemon.port, { from: 'a@client.test', to: ['x@bounced.test'], raw: 'Subject: error\r\n\r\nbody\r\n' });
  const later = await sendMail(daemon.port, { from: 'a@client.test', to: ['y@later.test'], raw: 'Subject: retry\r\n\r\nbody\r\n' });
  await waitFor(() => daemon.log().includes(`${bounced.queueId}: to=<x@bounced.test>`) && daemon.log().includes(`${later.queueId}: to=<y@later.test>`), 20_000, 'both deliveries');
  const log = daemon.log();
  assert.match(log, new RegExp(`${bounced.queueId}: to=<x@bounced\\.test>, relay=none, .*dsn=5\\.1\\.2, status=bounced \\(gone for good\\)`));
  assert.match(log, new RegExp(`${later.queueId}: to=<y@later\\.test>, relay=none, .*dsn=4\\.4\\.1, status=deferred \\(try later\\)`));
});
