/**
 * sendmail's modes and options through the real daemon, as a script written
 * for Postfix's sendmail uses them: -F and -B reach the next hop (the From:
 * header cleanup adds, BODY=8BITMIME), -bp lists the queue, -q flushes it,
 * and -bs submits over SMTP on standard input into the queue.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;
let refuse = true;

before(async () => {
  sink = await startSmtpSink({ rcpt: (to) => (to.startsWith('later@') && refuse ? { code: 451, message: '4.3.2 not now' } : null) });
  daemon = await startDaemon({
    params: { relayhost: `[127.0.0.1]:${sink.port}`, minimal_backoff_time: '300s', maximal_backoff_time: '600s', queue_run_delay: '300s' },
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

test('-F names the sender in the From: header Postrider adds, and -B 8BITMIME goes out as BODY=8BITMIME', async () => {
  const r = await daemon.cli(['sendmail', '-F', 'Alice Example', '-B', '8BITMIME', '-f', 'alice@client.test', 'full@remote.test'], 'Subject: named\n\ncaf\u00e9\n');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('full@remote.test')), 30_000, 'delivery');
  const got = sink.messages.find((m) => m.rcptTo.includes('full@remote.test'))!;
  assert.match(got.raw.toString('utf8'), /^From: Alice Example <alice@client\.test>\r$/m);
  assert.equal(String(got.mailParams.BODY ?? got.mailParams.body ?? '').toUpperCase(), '8BITMIME');
});

test('-bp lists the queue as mailq, and -q flushes it', async () => {
  const r = await daemon.cli(['sendmail', '-f', 'q@client.test', 'later@remote.test'], 'Subject: later\n\nx\n');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(async () => (await daemon.cli(['sendmail', '-bp'])).stdout.includes('later@remote.test'), 30_000, 'listed by -bp');
  const listing = await daemon.cli(['sendmail', '-bp']);
  assert.equal(listing.code, 0, listing.stderr);
  assert.match(listing.stdout, /^-Queue ID- +--Size-- ----Arrival Time---- -Sender\/Recipient-------/);
  await waitFor(async () => /\(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 451 4\.3\.2 not now/.test((await daemon.cli(['sendmail', '-bp'])).stdout), 30_000, 'deferred');
  refuse = false;
  const flush = await daemon.cli(['sendmail', '-q']);
  assert.equal(flush.code, 0, flush.stderr);
  await waitFor(() => sink.messages.some((m) => !m.refused && m.rcptTo.includes('later@remote.test')), 30_000, 'flushed delivery');
});

test('-bs takes a message over SMTP on standard input into the queue, and it is delivered', async () => {
  const session = 'EHLO me\r\nMAIL FROM:<smtp@client.test>\r\nRCPT TO:<viabs@remote.test>\r\nDATA\r\nSubject: via -bs\r\n\r\nhello\r\n.\r\nQUIT\r\n';
  const r = await daemon.cli(['sendmail', '-bs'], session);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^220 .* ESMTP Postrider\r\n/);
  assert.match(r.stdout, /250 2\.0\.0 Ok: queued as \S+\r\n221 2\.0\.0 Bye\r\n$/);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('viabs@remote.test')), 30_000, 'delivery of the -bs message');
  const got = sink.messages.find((m) => m.rcptTo.includes('viabs@remote.test'))!;
  assert.equal(got.mailFrom, 'smtp@client.test');
  assert.ok(got.raw.toString('utf8').includes('Subject: via -bs'));
});
