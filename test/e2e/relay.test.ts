/**
 * End to end through the real daemon: client -> smtpd -> cleanup -> journal
 * -> qmgr -> smtp -> a sink on loopback, and back through bounce.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;
let tempFailures = 0;

before(async () => {
  sink = await startSmtpSink({
    rcpt: (to) => {
      if (to.startsWith('nobody@')) return { code: 550, message: '5.1.1 <' + to + '>: Recipient address rejected: User unknown' };
      if (to.startsWith('later@') && tempFailures++ < 1) return { code: 451, message: '4.3.2 try again later' };
      return null;
    },
  });
  daemon = await startDaemon({ params: { relayhost: `[127.0.0.1]:${sink.port}`, message_size_limit: '30000000' } });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

test('relays a message with its body byte-exact and logs Postfix lines', async () => {
  const body = 'Line one\r\n.starts with a dot\r\n8-bit: caf\u00e9 \u2713\r\n' + 'x'.repeat(998) + '\r\n';
  const raw = `From: a@client.test\r\nTo: b@remote.test\r\nSubject: relay\r\nMessage-ID: <relay.1@client.test>\r\n\r\n${body}`;
  const r = await sendMail(daemon.port, { from: 'a@client.test', to: ['b@remote.test'], raw: Buffer.from(raw, 'utf8') });
  assert.match(r.response, /^250 2\.0\.0 Ok: queued as [0-9A-Za-z]+/);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('b@remote.test')), 20_000, 'relay');
  const got = sink.messages.find((m) => m.rcptTo.includes('b@remote.test'))!;
  const text = got.raw.toString('utf8');
  assert.ok(text.endsWith(body), 'body arrives byte-exact');
  assert.match(text, /^Received: from client\.test \(localhost \[127\.0\.0\.1\]\)/);
  assert.ok(text.includes('Message-ID: <relay.1@client.test>'));
  await daemon.waitRemoved(r.queueId!, 10_000);
  const log = daemon.log();
  assert.match(log, new RegExp(`postrider/smtpd\\[\\d+\\]: ${r.queueId}: client=localhost\\[127\\.0\\.0\\.1\\]`));
  assert.match(log, new RegExp(`${r.queueId}: message-id=<relay\\.1@client\\.test>`));
  assert.match(log, new RegExp(`${r.queueId}: from=<a@client\\.test>, size=\\d+, nrcpt=1 \\(queue active\\)`));
  assert.match(log, new RegExp(`${r.queueId}: to=<b@remote\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${sink.port}, delay=[\\d.]+, delays=[\\d.]+/[\\d.]+/[\\d.]+/[\\d.]+, dsn=2\\.0\\.0, status=sent \\(250 `));
});

test('a 5xx from the next hop bounces with an RFC 3464 report to the sender', async () => {
  const raw = 'From: s@client.test\r\nTo: nobody@remote.test\r\nSubject: will bounce\r\n\r\nhello\r\n';
  const r = await sendMail(daemon.port, { from: 's@client.test', to: ['nobody@remote.test'], raw });
  assert.match(r.response, /^250 /);
  await waitFor(() => sink.messages.some((m) => m.mailFrom === '' && m.rcptTo.includes('s@client.test')), 20_000, 'bounce');
  const dsn = sink.messages.find((m) => m.mailFrom === '' && m.rcptTo.includes('s@client.test'))!.raw.toString('utf8');
  assert.match(dsn, /Content-Type: multipart\/report; report-type=delivery-status/i);
  assert.match(dsn, /Final-Recipient: rfc822; ?nobody@remote\.test/i);
  assert.match(dsn, /Action: failed/);
  assert.match(dsn, /Status: 5\.1\.1/);
  assert.match(dsn, /Diagnostic-Code: smtp; ?550 5\.1\.1/);
  assert.match(dsn, /Remote-MTA: dns; ?127\.0\.0\.1/, 'the next hop that refused is named');
  assert.ok(dsn.includes('Subject: will bounce'), 'the original headers are returned');
});

test('a 4xx defers, and the message is delivered after the backoff', async () => {
  const raw = 'From: s@client.test\r\nTo: later@remote.test\r\nSubject: later\r\n\r\nretry me\r\n';
  const r = await sendMail(daemon.port, { from: 's@client.test', to: ['later@remote.test'], raw });
  assert.match(r.response, /^250 /);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('later@remote.test') && !m.refused), 30_000, 'delivery after backoff');
  await daemon.waitRemoved(r.queueId!, 10_000);
  const log = daemon.log();
  assert.match(log, new RegExp(`${r.queueId}: to=<later@remote\\.test>, relay=.*status=deferred \\(host 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\] said: 451 4\\.3\\.2 try again later`));
  assert.match(log, new RegExp(`${r.queueId}: to=<later@remote\\.test>, relay=.*status=sent`));
});

test('status --json lists every actor with role, instance, thread id, restarts and uptime', async () => {
  const r = await daemon.cli(['status', '--json']);
  assert.equal(r.code, 0);
  const status = JSON.parse(r.stdout);
  const roles = new Set(status.actors.map((a: { role: string }) => a.role));
  for (const role of ['smtpd', 'qmgr', 'journal', 'smtp', 'trivial-rewrite', 'bounce', 'pickup']) assert.ok(roles.has(role), `actor ${role} runs`);
  for (const a of status.actors) {
    assert.equal(typeof a.threadId, 'number');
    assert.equal(typeof a.restarts, 'number');
    assert.equal(typeof a.uptimeSeconds, 'number');
  }
});

test('a 10 MB attachment is relayed byte-exact', async () => {
  const attachment = randomBytes(10 * 1024 * 1024).toString('base64').replace(/.{76}/g, '$&\r\n');
  const raw =
    'From: big@client.test\r\nTo: big@remote.test\r\nSubject: big\r\nMIME-Version: 1.0\r\n' +
    'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n' +
    '--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
    attachment + '\r\n--b1--\r\n';
  const r = await sendMail(daemon.port, { from: 'big@client.test', to: ['big@remote.test'], raw });
  assert.match(r.response, /^250 /);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('big@remote.test')), 60_000, 'big relay');
  const got = sink.messages.find((m) => m.rcptTo.includes('big@remote.test'))!.raw.toString('latin1');
  assert.ok(got.endsWith(raw), 'the whole message arrives unchanged after the Received header');
});

test('logrotate reopens maillog_file', async () => {
  renameSync(daemon.logFile, daemon.logFile + '.1');
  const r = await daemon.cli(['logrotate']);
  assert.equal(r.code, 0, r.stderr);
  await sendMail(daemon.port, { from: 'rot@client.test', to: ['rot@remote.test'], raw: 'Subject: after rotate\r\n\r\nx\r\n' });
  await waitFor(() => existsSync(daemon.logFile) && readFileSync(daemon.logFile, 'utf8').includes('from=<rot@client.test>'), 10_000, 'lines in the new log file');
  assert.ok(!readFileSync(daemon.logFile + '.1', 'utf8').includes('from=<rot@client.test>'), 'the old file gets no new lines');
});
