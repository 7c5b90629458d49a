/**
 * Logging to syslog: `postrider start` with an empty maillog_file sends
 * every thread's lines as datagrams to syslog_socket, with the facility of
 * syslog_facility and Postfix's tags; check refuses a maillog_file whose
 * directory does not exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { configDir, postrider } from '../cli/cli-harness.js';
import { freePort } from '../helpers/daemon.js';
import { startSyslogReceiver, syslogReceiverSkip } from '../helpers/syslog-receiver.js';

test('maillog_file empty: postrider start logs to syslog_socket with syslog_facility', { skip: syslogReceiverSkip() }, async () => {
  const rx = await startSyslogReceiver();
  const port = await freePort();
  const c = configDir(
    `maillog_file =\nsyslog_socket = ${rx.socket}\nsyslog_facility = local3\nsyslog_name = rider\nmyhostname = mx.example\n`,
    `127.0.0.1:${port} inet n - n - 1 smtpd\n`,
  );
  try {
    const started = await postrider(['-c', c.dir, 'start']);
    assert.equal(started.code, 0, started.stderr);
    // local3.info = 19 * 8 + 6
    assert.match(await rx.waitFor(/daemon started/), /^<158>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d rider\/master\[\d+\]: daemon started -- version /);
    await new Promise<void>((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      s.on('error', reject);
      s.once('data', () => s.end('QUIT\r\n'));
      s.on('close', () => resolve());
    });
    assert.match(await rx.waitFor(/connect from localhost\[127\.0\.0\.1\]/), /^<158>.* rider\/smtpd\[\d+\]: connect from localhost\[127\.0\.0\.1\]$/);
    assert.match(await rx.waitFor(/disconnect from/), /quit=1 commands=1$/);
  } finally {
    await postrider(['-c', c.dir, 'stop']);
    c.cleanup();
    rx.close();
  }
});

test('check refuses a maillog_file whose directory does not exist, and an unknown syslog_facility', async () => {
  const c = configDir('', '');
  try {
    c.write(`maillog_file = ${join(c.dir, 'no', 'such', 'maillog')}\nsyslog_facility = mial\n`, '');
    const r = await postrider(['-c', c.dir, 'check']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /postrider: error: .*maillog_file = .*: the directory .*no\/such does not exist/);
    assert.match(r.stderr, /postrider: error: .*syslog_facility = mial: expected one of kern, user, mail/);
  } finally {
    c.cleanup();
  }
});
