/**
 * Expiry end to end: mail that is still deferred after
 * maximal_queue_lifetime is returned to the sender with a DSN, and leaves
 * the queue.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;

before(async () => {
  sink = await startSmtpSink({ rcpt: (to) => (to.startsWith('never@') ? { code: 451, message: '4.2.1 mailbox busy' } : null) });
  daemon = await startDaemon({ params: { relayhost: `[127.0.0.1]:${sink.port}`, maximal_queue_lifetime: '3s', bounce_queue_lifetime: '3s' } });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

test('deferred mail past maximal_queue_lifetime is returned with a DSN and removed', async () => {
  const r = await sendMail(daemon.port, { from: 'owner@client.test', to: ['never@remote.test'], raw: 'Subject: too old\r\n\r\nwill expire\r\n' });
  assert.match(r.response, /^250 /);
  await waitFor(() => sink.messages.some((m) => m.mailFrom === '' && m.rcptTo.includes('owner@client.test')), 30_000, 'the expiry DSN');
  const dsn = sink.messages.find((m) => m.mailFrom === '' && m.rcptTo.includes('owner@client.test'))!.raw.toString('utf8');
  assert.match(dsn, /Final-Recipient: rfc822; ?never@remote\.test/i);
  assert.match(dsn, /Action: failed/);
  assert.match(dsn, /Status: 4\.2\.1/);
  assert.ok(dsn.includes('Subject: too old'));
  await waitFor(() => readFileSync(daemon.logFile, 'utf8').includes(`${r.queueId}: removed`), 10_000, 'removed');
  const log = readFileSync(daemon.logFile, 'utf8');
  assert.match(log, new RegExp(`${r.queueId}: from=<owner@client\\.test>, status=expired, returned to sender`));
  const q = await daemon.cli(['queue', '--json']);
  assert.ok(!q.stdout.includes(r.queueId!), 'the expired message has left the queue');
});
