/**
 * hopcount_limit through the real daemon: a message that arrives over SMTP
 * with too many Received: headers gets "554 5.4.0 Error: too many hops" at
 * the end of DATA (and of BDAT LAST), one from sendmail is returned to its
 * sender with 5.4.0, and two Postrider instances relaying to each other
 * stop a message within 50 hops.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;

before(async () => {
  sink = await startSmtpSink();
  daemon = await startDaemon({ params: { relayhost: `[127.0.0.1]:${sink.port}` } });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

function looped(hops: number, subject: string): string {
  let headers = '';
  for (let i = hops; i > 0; i--) headers += `Received: from h${i}.loop.test by h${i + 1}.loop.test; Sat, 5 Dec 2026 04:00:00 +0000\r\n`;
  return `${headers}From: a@client.test\r\nTo: b@remote.test\r\nSubject: ${subject}\r\n\r\nround and round\r\n`;
}

/**
 * One raw session: EHLO, MAIL, RCPT, then `payload` (DATA or BDAT), which may
 * wait for a reply with `until`; returns the last reply.
 */
async function rawSend(port: number, payload: (send: (s: string) => void, until: (re: RegExp, what: string) => Promise<void>) => void | Promise<void>): Promise<string> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.setEncoding('latin1');
  let buffer = '';
  socket.on('data', (d: string) => {
    buffer += d;
  });
  socket.on('error', () => undefined);
  const send = (s: string): void => {
    socket.write(s);
  };
  await waitFor(() => buffer.startsWith('220 '), 20_000, 'greeting');
  send('EHLO client.test\r\n');
  await waitFor(() => /\r\n250 [^\r\n]*\r\n$/.test(buffer), 20_000, 'EHLO reply');
  send('MAIL FROM:<a@client.test>\r\nRCPT TO:<b@remote.test>\r\n');
  await payload(send, (re, what) => waitFor(() => re.test(buffer), 20_000, what));
  await waitFor(() => /\r\n(?:5|4)\d\d [^\r\n]*\r\n$|\r\n250 2\.0\.0 Ok: [^\r\n]*queued[^\r\n]*\r\n$/.test(buffer), 20_000, 'final reply');
  socket.end('QUIT\r\n');
  const lines = buffer.trimEnd().split('\r\n');
  return lines[lines.length - 1];
}

test('51 Received: headers over SMTP: 554 5.4.0 Error: too many hops at the end of DATA and of BDAT LAST', async () => {
  const message = looped(51, 'loop by DATA');
  // The body only after the 354: sent sooner it is pipelining past DATA, which smtpd refuses.
  const data = await rawSend(daemon.port, async (send, until) => {
    send('DATA\r\n');
    await until(/\r\n354 [^\r\n]*\r\n$/, 'the 354 to DATA');
    send(message + '.\r\n');
  });
  assert.equal(data, '554 5.4.0 Error: too many hops');
  const bdatMessage = looped(51, 'loop by BDAT');
  const bdat = await rawSend(daemon.port, (send) => send(`BDAT ${Buffer.byteLength(bdatMessage)} LAST\r\n${bdatMessage}`));
  assert.equal(bdat, '554 5.4.0 Error: too many hops');
  assert.match(daemon.log(), /warning: \w+: message rejected: hopcount exceeded/);
  // 48 on arrival and the one added here: under the limit.
  const r = await sendMail(daemon.port, { from: 'a@client.test', to: ['b@remote.test'], raw: looped(48, 'still fine') });
  assert.match(r.response, /^250 2\.0\.0 Ok: queued as/);
});

test('sendmail mail with too many hops is returned to its sender with 5.4.0', async () => {
  const r = await daemon.cli(['sendmail', '-f', 'alice@client.test', 'bob@remote.test'], looped(51, 'loop by sendmail').replace(/\r\n/g, '\n'));
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => sink.messages.some((m) => m.mailFrom === '' && m.rcptTo.includes('alice@client.test')), 30_000, 'failure notice');
  const dsn = sink.messages.find((m) => m.mailFrom === '' && m.rcptTo.includes('alice@client.test'))!.raw.toString('utf8');
  assert.match(dsn, /Content-Type: multipart\/report; report-type=delivery-status/i);
  assert.match(dsn, /Final-Recipient: rfc822; ?bob@remote\.test/i);
  assert.match(dsn, /Action: failed/);
  assert.match(dsn, /Status: 5\.4\.0/);
  assert.match(dsn, /too many hops/);
  assert.ok(dsn.includes('Subject: loop by sendmail'), 'the original comes back');
  assert.ok(!sink.messages.some((m) => m.rcptTo.includes('bob@remote.test') && m.raw.includes('loop by sendmail')), 'the looping mail itself is not sent on');
  // Each thread writes its log lines a moment after it logs them: the notice may reach the sink first.
  await waitFor(() => /: sender non-delivery notification: \w+/.test(daemon.log()), 5_000, 'the notice logged');
  assert.match(daemon.log(), /postrider\/pickup\[\d+\]: (\w+): to=<bob@remote\.test>, relay=none, delay=0, delays=0\/0\/0\/0, dsn=5\.4\.0, status=bounced \(too many hops\)/);
});

test('two instances relaying to each other stop a message within 50 hops', async () => {
  // Notices to the sender's domain are dropped, so only the looping message travels.
  const params = { transport_maps: 'inline:{ client.test=discard: }' };
  const a = await startDaemon({ params: { ...params, myhostname: 'a.loop.test' } });
  let b: RunningDaemon | undefined;
  try {
    b = await startDaemon({ params: { ...params, myhostname: 'b.loop.test', relayhost: `[127.0.0.1]:${a.port}` } });
    appendFileSync(join(a.configDir, 'main.cf'), `relayhost = [127.0.0.1]:${b.port}\n`);
    assert.equal((await a.cli(['reload'])).code, 0);
    await waitFor(() => /reload: \d+ instances started/.test(a.log()), 20_000, 'reload');
    const r = await sendMail(a.port, { from: 'a@client.test', to: ['x@far.test'], raw: 'From: a@client.test\r\nSubject: ping pong\r\nMessage-ID: <loop.1@client.test>\r\n\r\nloop\r\n' });
    assert.match(r.response, /^250 /);
    const both = (): string => a.log() + b!.log();
    await waitFor(() => /message rejected: hopcount exceeded/.test(both()), 120_000, 'the loop stops');
    // Each instance takes the message in and passes it on; the 50th arrival (49 Received: and its own) is refused.
    const accepted = both().match(/: message-id=<loop\.1@client\.test>/g) ?? [];
    assert.equal(accepted.length, 49, `accepted ${accepted.length} times`);
    await waitFor(() => /dsn=5\.4\.0, status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 554 5\.4\.0 Error: too many hops/.test(both()), 30_000, 'the last hop bounces');
    // And nothing travels after that.
    await new Promise((res) => setTimeout(res, 2000));
    assert.equal((both().match(/: message-id=<loop\.1@client\.test>/g) ?? []).length, 49);
  } finally {
    await b?.stop();
    await a.stop();
  }
});
