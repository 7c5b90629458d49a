/**
 * REQUIRETLS (RFC 8689) end to end on real daemons, with certificates from a
 * test CA: a client -> Postrider A -> Postrider B -> a sink that offers
 * REQUIRETLS, every hop verified TLS with REQUIRETLS kept on MAIL FROM; a
 * stripped STARTTLS bounces the message (5.7.10) before any MAIL FROM, and
 * the notice, headers only, goes to the sender without REQUIRETLS; a
 * REQUIRETLS message deferred across a restart of A still goes with
 * REQUIRETLS.
 */
import { test, after, before } from 'node:test';
import { connect } from 'node:net';
import assert from 'node:assert/strict';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { freePort, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { makeTestCa } from '../helpers/tls-ca.js';

const ca = makeTestCa();
const leaf = ca.issue(['mx.postrider.test', '127.0.0.1', '127.0.0.2']);
const TLS = {
  smtpd_tls_security_level: 'may',
  smtpd_tls_cert_file: leaf.certFile,
  smtpd_tls_key_file: leaf.keyFile,
  smtp_tls_security_level: 'may',
  smtp_tls_CAfile: ca.certFile,
};

let final: SmtpSink;
let stripped: SmtpSink;
let home: SmtpSink;
let later: SmtpSink | undefined;
let laterPort: number;
let b: RunningDaemon;
let a: RunningDaemon;

before(async () => {
  final = await startSmtpSink({ starttls: true, cert: leaf, requireTls: true });
  stripped = await startSmtpSink({ host: '127.0.0.2', starttls: false });
  home = await startSmtpSink({ starttls: false });
  laterPort = await freePort();
  b = await startDaemon({ params: { ...TLS, relayhost: `[127.0.0.1]:${final.port}` } });
  a = await startDaemon({
    params: {
      ...TLS,
      relayhost: `[127.0.0.1]:${home.port}`,
      transport_maps: `inline:{ hop.test=smtp:[127.0.0.1]:${b.port}, stripped.test=smtp:[127.0.0.2]:${stripped.port}, later.test=smtp:[127.0.0.1]:${laterPort} }`,
    },
  });
});

after(async () => {
  await a?.stop();
  await b?.stop();
  for (const s of [final, stripped, home, later]) await s?.close();
});

const client = { tls: { ca: ca.cert, servername: 'mx.postrider.test' }, requireTls: true };

test('client -> Postrider -> Postrider -> server: verified TLS and REQUIRETLS on every hop', async () => {
  const raw = 'From: s@client.test\r\nTo: x@hop.test\r\nSubject: two hops\r\n\r\nover TLS only\r\n';
  const r = await sendMail(a.port, { from: 's@client.test', to: ['x@hop.test'], raw, requiretls: true }, client);
  assert.match(r.response, /^250 2\.0\.0 Ok: queued as/);
  await waitFor(() => final.messages.some((m) => m.rcptTo.includes('x@hop.test')), 30_000, 'the second hop');
  const got = final.messages.find((m) => m.rcptTo.includes('x@hop.test'))!;
  assert.equal(got.secure, true);
  assert.equal(got.mailParams.REQUIRETLS, true);
  const text = got.raw.toString('utf8');
  assert.equal(text.match(/^Received: /gm)?.length, 2, 'through both daemons');
  assert.match(text, /over TLS only/);
  await a.waitRemoved(r.queueId!, 10_000);
  assert.match(a.log(), new RegExp(`${r.queueId}: to=<x@hop\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${b.port},.*status=sent`));
});

test('a stripped STARTTLS: bounced 5.7.10, nothing sent in the clear; the notice (headers only) goes without REQUIRETLS', async () => {
  const raw = 'From: s@client.test\r\nTo: y@stripped.test\r\nSubject: must not leak\r\n\r\nthe secret body\r\n';
  const r = await sendMail(a.port, { from: 's@client.test', to: ['y@stripped.test'], raw, requiretls: true }, client);
  assert.match(r.response, /^250 /);
  await waitFor(() => home.messages.some((m) => m.mailFrom === '' && m.rcptTo.includes('s@client.test')), 30_000, 'the notice');
  assert.equal(stripped.messages.length, 0);
  assert.doesNotMatch(stripped.wire, /MAIL FROM|the secret body/);
  const notice = home.messages.find((m) => m.mailFrom === '' && m.rcptTo.includes('s@client.test'))!;
  assert.equal(notice.mailParams.REQUIRETLS, undefined);
  const text = notice.raw.toString('utf8');
  assert.match(text, /Status: 5\.7\.10/);
  assert.match(text, /Sender requested REQUIRETLS, but TLS service was not offered\s+by host 127\.0\.0\.2\[127\.0\.0\.2\]/);
  assert.match(text, /Content-Type: text\/rfc822-headers/);
  assert.match(text, /Subject: must not leak/);
  assert.doesNotMatch(text, /the secret body/);
  assert.match(a.log(), new RegExp(`${r.queueId}: to=<y@stripped\\.test>, .*dsn=5\\.7\\.10, status=bounced`));
});

test('smtpd neither offers nor takes REQUIRETLS outside TLS', async () => {
  const socket = connect({ host: '127.0.0.1', port: a.port });
  socket.setEncoding('latin1');
  let input = '';
  socket.on('data', (d: string) => { input += d; });
  const reply = async (re: RegExp): Promise<string> => {
    await waitFor(() => re.test(input), 10_000, String(re));
    const m = re.exec(input)!;
    input = input.slice(m.index + m[0].length);
    return m[0];
  };
  await reply(/^220 .*\r\n/m);
  socket.write('EHLO client.test\r\n');
  const ehlo = await reply(/(?:^250-.*\r\n)*^250 .*\r\n/m);
  assert.match(ehlo, /STARTTLS/);
  assert.doesNotMatch(ehlo, /REQUIRETLS/);
  socket.write('MAIL FROM:<s@client.test> REQUIRETLS\r\n');
  assert.equal(await reply(/^\d{3} .*\r\n/m), '555 5.5.4 Unsupported option: REQUIRETLS\r\n');
  socket.end('QUIT\r\n');
});

test('a deferred REQUIRETLS message keeps REQUIRETLS across a restart', async () => {
  const raw = 'From: s@client.test\r\nTo: z@later.test\r\nSubject: later\r\n\r\nstill REQUIRETLS\r\n';
  const r = await sendMail(a.port, { from: 's@client.test', to: ['z@later.test'], raw, requiretls: true }, client);
  assert.match(r.response, /^250 /);
  await waitFor(() => new RegExp(`${r.queueId}: to=<z@later\\.test>, .*status=deferred`).test(a.log()), 30_000, 'the deferral');
  await a.stop();
  await a.restart();
  later = await startSmtpSink({ port: laterPort, starttls: true, cert: leaf, requireTls: true });
  await a.cli(['flush']);
  await waitFor(() => later!.messages.length > 0, 30_000, 'delivery after the restart');
  assert.equal(later.messages[0].mailParams.REQUIRETLS, true);
  assert.equal(later.messages[0].secure, true);
});
