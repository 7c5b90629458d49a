/**
 * Postrider's smtp client sends BDAT to a real Postfix as its next hop:
 * a private Postfix instance (perf/harness/postfix-mta.sh, loopback only,
 * relaying everything to a sink of this test) offers CHUNKING; a recording
 * TCP proxy between the client and Postfix shows "BDAT <size> LAST" on the
 * wire and no DATA, and the message reaches the sink through Postfix byte
 * for byte after the Received: header Postfix adds. Skipped, with the
 * reason, when Postfix is not installed or the test does not run as root
 * (Postfix's master needs it).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SmtpAgent } from '../../../src/actors/smtp/smtp-agent.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { captureLog, contentReader, makeConfig, makeRequest } from './smtp-test-kit.js';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const SCRIPT = join(ROOT, 'perf/harness/postfix-mta.sh');

const skip = !existsSync('/usr/sbin/postfix')
  ? 'Postfix is not installed (.ci/run installs the postfix package)'
  : process.getuid?.() !== 0
    ? 'needs root: Postfix\'s master runs as root'
    : false;

/** A free loopback port (closed again before Postfix takes it). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A TCP proxy to `port` that keeps every byte clients send. */
async function startProxy(port: number): Promise<{ port: number; sent: () => string; close: () => Promise<void> }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (d: Buffer) => chunks.push(d));
    client.pipe(upstream);
    upstream.pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    sent: () => Buffer.concat(chunks).toString('latin1'),
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

let dir = '';
let sink: SmtpSink | undefined;
let started = false;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'postrider-pf-'));
  sink = await startSmtpSink();
});

after(async () => {
  if (started) await run('bash', [SCRIPT, 'stop', dir]).catch(() => undefined);
  await sink?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the smtp client sends BDAT to a real Postfix, which relays the message byte for byte', { skip, timeout: 120_000 }, async () => {
  const pfPort = await freePort();
  await run('bash', [SCRIPT, 'start', dir, String(pfPort), `[127.0.0.1]:${sink!.port}`]);
  started = true;
  const proxy = await startProxy(pfPort);
  try {
    const content = Buffer.from(
      'From: a@example.org\r\nTo: b@example.com\r\nSubject: BDAT through Postfix\r\nDate: Sat, 05 Dec 2026 05:00:00 +0000\r\n'
      + 'Message-ID: <bdat-postfix@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
      + '.a line that starts with a dot\r\n..two dots\r\n.\r\nGrüße, naïve café\r\n' + ('x'.repeat(900) + '\r\n').repeat(80) + 'end\r\n',
      'utf8',
    );
    const { log } = captureLog();
    const agent = new SmtpAgent({ config: makeConfig({ smtp_connection_cache_time_limit: '0s' }), log, readContent: contentReader(content) });
    const res = await agent.deliver(makeRequest({
      nexthop: `[127.0.0.1]:${proxy.port}`,
      location: { segment: 1, offset: 0, length: content.length },
      headerLength: content.indexOf('\r\n\r\n') + 4,
      size: content.length,
      bodyType: '8BITMIME',
    }));
    await agent.close();
    assert.equal(res.outcomes[0].state, 'delivered', res.outcomes[0].reason);
    // Postfix answers BDAT LAST with the size of what it queued: "250 2.0.0 Ok: N bytes queued as ID".
    assert.match(res.outcomes[0].reason, /^250 2\.0\.0 Ok: \d+ bytes queued as [0-9A-F]+$/);
    const wire = proxy.sent();
    assert.match(wire, /^EHLO client\.test\r\n/);
    assert.ok(wire.includes(`MAIL FROM:<a@example.org> BODY=8BITMIME SIZE=${content.length}\r\nRCPT TO:<b@example.com> ORCPT=rfc822;b@example.com\r\nBDAT ${content.length} LAST\r\n`), wire.slice(0, 300));
    assert.ok(!/\r\nDATA\r\n/.test(wire), 'no DATA command');

    // Postfix relays to the sink (with DATA: its own client has no BDAT).
    for (let i = 0; i < 600 && sink!.messages.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(sink!.messages.length, 1, 'Postfix relayed the message');
    const got = sink!.messages[0].raw;
    assert.match(got.toString('latin1'), /^Received: from client\.test \(\S+ \[127\.0\.0\.1\]\)/);
    assert.deepEqual(got.subarray(got.length - content.length), content, 'byte for byte after Postfix\'s Received: header');
    assert.deepEqual(sink!.messages[0].rcptTo, ['b@example.com']);
    assert.equal(sink!.messages[0].mailParams.BODY, '8BITMIME');
  } finally {
    await proxy.close();
  }
});
