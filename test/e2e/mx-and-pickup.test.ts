/**
 * End to end through the real daemon: MX resolution against a DNS server on
 * loopback (preference order, fallback to the next MX), connection reuse
 * and the per-destination concurrency limit seen at the receiving server,
 * and `postrider sendmail` with the daemon down (the message waits in the
 * maildrop and pickup queues it once the daemon runs).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startDaemon, runCli, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
/** A second receiving server, so idle cached connections to the first do not count here. */
let manySink: SmtpSink;
let dns: TestDnsServer;
let daemon: RunningDaemon;

before(async () => {
  sink = await startSmtpSink();
  manySink = await startSmtpSink();
  dns = await startDnsServer({
    // mx1 (preferred) has nothing listening on the port: the next MX takes the mail.
    'mx.test': { MX: [{ preference: 10, exchange: 'mx1.mx.test' }, { preference: 20, exchange: 'mx2.mx.test' }] },
    'mx1.mx.test': { A: ['127.0.0.2'] },
    'mx2.mx.test': { A: ['127.0.0.1'] },
  });
  daemon = await startDaemon({
    params: {
      dns_resolver_servers: `127.0.0.1:${dns.port}`,
      transport_maps: `inline:{ mx.test=smtp:mx.test:${sink.port}, many.test=smtp:[127.0.0.1]:${manySink.port} }`,
      default_destination_concurrency_limit: '3',
      initial_destination_concurrency: '2',
    },
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
  await manySink?.close();
  await dns?.close();
});

test('delivers by MX preference and falls back to the next MX', async () => {
  const r = await sendMail(daemon.port, { from: 's@client.test', to: ['user@mx.test'], raw: 'Subject: mx\r\n\r\nvia mx\r\n' });
  assert.match(r.response, /^250 /);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('user@mx.test')), 20_000, 'delivery via mx2');
  assert.ok(dns.queries.some((q) => q.startsWith('mx.test MX')), 'the MX was looked up');
  const { readFileSync } = await import('node:fs');
  // The agent logs after the next hop answered: wait for the line.
  const line = new RegExp(`${r.queueId}: to=<user@mx\\.test>, relay=mx2\\.mx\\.test\\[127\\.0\\.0\\.1\\]:${sink.port}, .*status=sent`);
  await waitFor(() => line.test(readFileSync(daemon.logFile, 'utf8')), 10_000, 'the delivery log line');
});

test('reuses connections and never exceeds the destination concurrency limit', async () => {
  const before = manySink.connections;
  const n = 40;
  await Promise.all(
    Array.from({ length: n }, (_, i) => sendMail(daemon.port, { from: 's@client.test', to: [`u${i}@many.test`], raw: `Subject: many ${i}\r\n\r\nbody\r\n` })),
  );
  await waitFor(() => Array.from({ length: n }, (_, i) => `u${i}@many.test`).every((a) => manySink.messages.some((m) => m.rcptTo.includes(a))), 30_000, 'all delivered');
  const used = manySink.connections - before;
  assert.ok(manySink.maxTransactions <= 3, `at most 3 deliveries at once (saw ${manySink.maxTransactions})`);
  // Each smtp agent caches its own idle sessions, at most its lane's share of the limit (qmgr-lanes).
  assert.ok(manySink.maxConcurrent <= 3, `at most 3 sessions for the host (saw ${manySink.maxConcurrent})`);
  assert.ok(used < n, `connections are reused (${used} connections for ${n} messages)`);
});

test('sendmail works with the daemon down; pickup queues the message once it runs', async () => {
  await daemon.stop();
  const r = await runCli(daemon.configDir, ['sendmail', '-f', 'local@client.test', 'picked@many.test'], 'Subject: from sendmail\n\nwritten while down\n');
  assert.equal(r.code, 0, r.stderr);
  const waiting = readdirSync(join(daemon.queueDir, 'maildrop')).filter((f) => !f.startsWith('.'));
  assert.equal(waiting.length, 1, 'the message waits in the maildrop');
  await daemon.restart();
  await waitFor(() => manySink.messages.some((m) => m.rcptTo.includes('picked@many.test')), 20_000, 'pickup delivery');
  const got = manySink.messages.find((m) => m.rcptTo.includes('picked@many.test'))!;
  const text = got.raw.toString('utf8');
  assert.ok(text.includes('Subject: from sendmail\r\n'), 'LF became CRLF');
  assert.ok(text.endsWith('written while down\r\n'));
  assert.match(text, /Message-I[dD]: </, 'a local submission gets a Message-ID');
  assert.equal(got.mailFrom, 'local@client.test');
  assert.equal(readdirSync(join(daemon.queueDir, 'maildrop')).filter((f) => !f.startsWith('.')).length, 0);
});

test('sendmail -N, -R and -V travel through pickup into the queue and on to the next hop', async () => {
  const r = await runCli(daemon.configDir, ['sendmail', '-f', 'local@client.test', '-N', 'never', '-R', 'hdrs', '-V', 'env-42', 'dsn@many.test'], 'Subject: dsn options\n\nbody\n');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => manySink.messages.some((m) => m.rcptTo.includes('dsn@many.test')), 20_000, 'pickup delivery');
  const got = manySink.messages.find((m) => m.rcptTo.includes('dsn@many.test'))!;
  assert.equal(got.mailParams.RET, 'HDRS');
  assert.equal(got.mailParams.ENVID, 'env-42');
  assert.equal(got.rcptParams[0].NOTIFY, 'NEVER');
});
