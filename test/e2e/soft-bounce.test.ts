/**
 * soft_bounce end to end: a 5xx from the next hop leaves the message queued
 * and deferred (status=SOFTBOUNCE in the log), no bounce goes to the sender,
 * and the message is delivered once the next hop takes it.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;
let refuse = true;

before(async () => {
  sink = await startSmtpSink({ rcpt: (to) => (refuse && to.startsWith('picky@') ? { code: 550, message: '5.1.1 <' + to + '>: User unknown' } : null) });
  daemon = await startDaemon({ params: { relayhost: `[127.0.0.1]:${sink.port}`, soft_bounce: 'yes', syslog_name: 'mailhub' } });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

test('soft_bounce: a hard bounce becomes a deferral; the message stays queued, no bounce is sent, and it goes out once accepted', async () => {
  const r = await sendMail(daemon.port, { from: 's@client.test', to: ['picky@remote.test'], raw: 'From: s@client.test\r\nSubject: keep me\r\n\r\nhello\r\n' });
  assert.match(r.response, /^250 /);
  // syslog_name prefixes every line: mailhub/smtp[N].
  const softLine = new RegExp(`mailhub/smtp\\[\\d+\\]: ${r.queueId}: to=<picky@remote\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:\\d+, .*dsn=4\\.1\\.1, status=SOFTBOUNCE \\(host 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\] said: 550 5\\.1\\.1`);
  await waitFor(() => softLine.test(daemon.log()), 20_000, 'SOFTBOUNCE line');
  const q = await daemon.cli(['queue', '--json']);
  const entry = q.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { queue_id: string; queue_name: string }).find((e) => e.queue_id === r.queueId);
  assert.equal(entry?.queue_name, 'deferred', q.stdout);
  assert.ok(!sink.messages.some((m) => m.mailFrom === ''), 'no bounce was sent');
  assert.ok(!/status=bounced/.test(daemon.log()));
  refuse = false;
  await daemon.cli(['flush']);
  await daemon.waitRemoved(r.queueId!, 30_000);
  assert.ok(sink.messages.some((m) => m.rcptTo.includes('picky@remote.test') && !m.refused));
  assert.ok(!sink.messages.some((m) => m.mailFrom === ''), 'still no bounce');
});
