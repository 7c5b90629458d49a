/**
 * Envelopes through the real daemon to a sink on loopback: a transaction
 * with more recipients than smtpd_recipient_limit delivers to the ones it
 * accepted, and an A-label domain leaves as the same A-label to a next hop
 * that does not offer SMTPUTF8.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/send-mail.js';
import { ehloSession } from '../actors/smtpd/smtpd-test-kit.js';

let sink: SmtpSink;
let daemon: RunningDaemon;

before(async () => {
  sink = await startSmtpSink({ smtputf8: false });
  daemon = await startDaemon({ params: { relayhost: `[127.0.0.1]:${sink.port}` } });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

test('1,100 recipients in one transaction: 250 for the message, and the sink gets it for the first 1,000', async () => {
  const c = await ehloSession(daemon.port);
  assert.equal(await c.cmd('MAIL FROM:<bulk@client.test>'), '250 2.1.0 Ok');
  const replies: string[] = [];
  for (let g = 0; g < 11; g++) {
    let group = '';
    for (let i = 0; i < 100; i++) group += `RCPT TO:<r${g * 100 + i}@remote.test>\r\n`;
    c.send(group);
    for (let i = 0; i < 100; i++) replies.push((await c.reply())!);
  }
  assert.equal(replies.filter((r) => r === '250 2.1.5 Ok').length, 1000);
  assert.equal(replies.filter((r) => r === '452 4.5.3 Error: too many recipients').length, 100);
  assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  const done = (await c.cmd('From: bulk@client.test\r\nSubject: many\r\n\r\nfor a thousand\r\n.'))!;
  assert.match(done, /^250 2\.0\.0 Ok: queued as /);
  assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
  const got = (): Set<string> => new Set(sink.messages.filter((m) => m.mailFrom === 'bulk@client.test').flatMap((m) => m.rcptTo));
  await waitFor(() => got().size >= 1000, 60_000, '1,000 recipients at the sink');
  await daemon.waitRemoved(done.split(' ').at(-1)!, 30_000);
  const rcpts = got();
  assert.equal(rcpts.size, 1000);
  for (let i = 0; i < 1000; i++) assert.ok(rcpts.has(`r${i}@remote.test`), `r${i}`);
});

test('an xn-- recipient reaches a next hop without SMTPUTF8 as the same A-label', async () => {
  const c = await ehloSession(daemon.port);
  assert.equal(await c.cmd('MAIL FROM:<s@xn--mnchen-3ya.test>'), '250 2.1.0 Ok');
  assert.equal(await c.cmd('RCPT TO:<user@xn--bcher-kva.test>'), '250 2.1.5 Ok');
  assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  assert.match((await c.cmd('Subject: idn\r\n\r\nhi\r\n.'))!, /^250 2\.0\.0 Ok: queued as /);
  assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
  // smtp-server (under the sink) would show the domain in Unicode whatever came: read the wire.
  await waitFor(() => sink.wire.includes('RCPT TO:<user@xn--bcher-kva.test>'), 20_000, 'the A-label recipient at the sink');
  assert.ok(sink.wire.includes('MAIL FROM:<s@xn--mnchen-3ya.test>'), 'the sender too');
  assert.ok(!/[^\x00-\x7f]/.test(sink.wire), 'not one byte of UTF-8 to a next hop without SMTPUTF8');
  assert.ok(!/MAIL FROM:<s@xn--mnchen-3ya\.test>[^\r]*SMTPUTF8/.test(sink.wire));
  await waitFor(() => sink.messages.some((m) => m.mailFrom.endsWith('.test') && !m.refused && m.raw.includes('Subject: idn')), 20_000, 'the message');
});
