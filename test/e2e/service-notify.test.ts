/**
 * The daemon under a Type=notify systemd unit, with a real notification
 * socket (a unix datagram socket the test binds) and systemd's own
 * systemd-notify: READY=1 with the daemon's pid as MAINPID arrives once the
 * SMTP port greets; `postrider reload` sends RELOADING=1 (with a
 * MONOTONIC_USEC on the system's monotonic clock) then READY=1, whose
 * STATUS says why when the reload is refused; `postrider
 * stop` sends STOPPING=1 and nothing follows. A local delivery command
 * does not see NOTIFY_SOCKET, even when export_environment names it.
 * With the unit's POSTRIDER_LOG=syslog and maillog_file empty, start-fg
 * logs to syslog_socket as `postrider start` does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { notifyReceiverSkip, startNotifyReceiver, type Notification } from '../helpers/notify-receiver.js';
import { sendMail } from '../helpers/send-mail.js';
import { startSyslogReceiver, syslogReceiverSkip } from '../helpers/syslog-receiver.js';

function field(n: Notification, name: string): string | undefined {
  const f = n.fields.find((x) => x.startsWith(`${name}=`));
  return f?.slice(name.length + 1);
}

test('start-fg tells systemd READY=1 once SMTP greets, RELOADING=1 then READY=1 around a reload, STOPPING=1 at stop; children do not get NOTIFY_SOCKET', { skip: notifyReceiverSkip() }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-notify-e2e-'));
  chmodSync(dir, 0o755);
  const out = join(dir, 'out');
  mkdirSync(out);
  // the command runs as default_privs when the daemon is root
  chmodSync(out, 0o1777);
  writeFileSync(join(dir, 'aliases'), `cmd: "|env > ${out}/env"\n`);
  const port = await freePort();
  const receiver = await startNotifyReceiver(port);
  let d: RunningDaemon | undefined;
  try {
    d = await startDaemon({
      port,
      env: { NOTIFY_SOCKET: receiver.socket },
      params: {
        mydestination: '$myhostname, localhost',
        alias_maps: `hash:${join(dir, 'aliases')}`,
        alias_database: `hash:${join(dir, 'aliases')}`,
        export_environment: 'TZ MAIL_CONFIG LANG NOTIFY_SOCKET',
        queue_shard_count: '1',
      },
    });
    const [ready] = await receiver.waitForCount(1);
    assert.equal(ready.fields[0], 'READY=1');
    assert.equal(field(ready, 'MAINPID'), String(d.child.pid));
    assert.match(field(ready, 'STATUS') ?? '', /^accepting mail; configuration /);
    assert.match(ready.greeting ?? '', /^220 /, 'the SMTP port greets when systemd hears READY=1');

    const sent = await sendMail(port, { from: 'cron@example.org', to: ['cmd@localhost'], raw: 'Subject: env\r\n\r\nwhat do you see\r\n' });
    await d.waitRemoved(sent.queueId!);
    const env = readFileSync(join(out, 'env'), 'utf8').split('\n');
    assert.ok(env.includes('RECIPIENT=cmd@localhost'), env.join('\n'));
    assert.equal(env.filter((l) => l.startsWith('NOTIFY_SOCKET=')).length, 0, env.join('\n'));

    const before = process.hrtime.bigint() / 1000n;
    const r = await d.cli(['reload']);
    assert.equal(r.code, 0, r.stderr);
    const [, reloading, reloaded] = await receiver.waitForCount(3);
    const after = process.hrtime.bigint() / 1000n;
    assert.equal(reloading.fields[0], 'RELOADING=1');
    // CLOCK_MONOTONIC is one clock for the whole system: the daemon's reading falls between the test's two
    const usec = BigInt(field(reloading, 'MONOTONIC_USEC') ?? '0');
    assert.ok(usec >= before && usec <= after, `MONOTONIC_USEC ${usec} within ${before}..${after}`);
    assert.equal(reloaded.fields[0], 'READY=1');
    assert.match(field(reloaded, 'STATUS') ?? '', /reloaded at /);
    assert.match(reloaded.greeting ?? '', /^220 /);

    // a reload the supervisor refuses (the shard count is fixed at start): RELOADING=1, then READY=1 saying why
    const mainCf = join(d.configDir, 'main.cf');
    const kept = readFileSync(mainCf, 'utf8');
    writeFileSync(mainCf, kept.replace(/^queue_shard_count = 1$/m, 'queue_shard_count = 2'));
    const bad = await d.cli(['reload']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /reload refused: queue_shard_count changed \(1 to 2 shards\)/);
    writeFileSync(mainCf, kept);
    const [, , , reloadingAgain, refused] = await receiver.waitForCount(5);
    assert.equal(reloadingAgain.fields[0], 'RELOADING=1');
    assert.equal(refused.fields[0], 'READY=1');
    assert.match(field(refused, 'STATUS') ?? '', /^accepting mail; reload refused: queue_shard_count changed \(1 to 2 shards\); .* \(at \d{4}-/);

    const s = await d.cli(['stop']);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(await d.exited, 0);
    const stopping = (await receiver.waitForCount(6))[5];
    assert.equal(stopping.fields[0], 'STOPPING=1');
    assert.equal(receiver.messages.length, 6, JSON.stringify(receiver.messages));
  } finally {
    await d?.kill();
    receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('start-fg as the unit runs it (POSTRIDER_LOG=syslog, maillog_file empty) logs to syslog_socket with the role tags', { skip: syslogReceiverSkip() }, async () => {
  const rx = await startSyslogReceiver();
  let d: RunningDaemon | undefined;
  try {
    d = await startDaemon({ env: { POSTRIDER_LOG: 'syslog' }, params: { maillog_file: '', syslog_socket: rx.socket } });
    // mail.info = 2 * 8 + 6
    assert.match(await rx.waitFor(/daemon started/), /^<22>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d postrider\/master\[\d+\]: daemon started -- version /);
    await sendMail(d.port, { from: 'cron@example.org', to: ['postmaster@localhost'], raw: 'Subject: hi\r\n\r\nhi\r\n' }).catch(() => undefined);
    assert.match(await rx.waitFor(/connect from localhost/), /^<22>.* postrider\/smtpd\[\d+\]: connect from localhost\[127\.0\.0\.1\]$/);
    assert.equal(await d.stop(), 0);
  } finally {
    await d?.kill();
    rx.close();
  }
});
