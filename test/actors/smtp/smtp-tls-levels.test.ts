/**
 * smtp TLS levels: none, may, encrypt, fingerprint, verify and secure
 * against real TLS sinks with certificates of a test CA, reached through MX
 * records of the test DNS server; smtp_tls_policy_maps, smtp_tls_CApath,
 * protocols and ciphers, and Postfix's TLS log lines. Each level delivers
 * with a good certificate, defers a bad one with Postfix's reason, and never
 * sends in plain text to a server that does not offer STARTTLS.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SmtpAgent } from '../../../src/actors/smtp/smtp-agent.js';
import { startDnsServer, type TestDnsServer } from '../../helpers/dns-server.js';
import { sinkSet, type SmtpSink, type SmtpSinkOptions } from '../../helpers/smtp-sink.js';
import { makeTestCa, type TestCa, type IssuedCert } from '../../helpers/tls-ca.js';
import { makeTestCert } from '../../helpers/tls-cert.js';
import { captureLog, contentReader, makeConfig, makeRequest } from './smtp-test-kit.js';

let dns: TestDnsServer;
let ca: TestCa;
let otherCa: TestCa;
let mxCert: IssuedCert;
const sinks = sinkSet();

before(async () => {
  dns = await startDnsServer({
    'example.test': { MX: [{ preference: 10, exchange: 'mx1.example.test' }] },
    'mx1.example.test': { A: ['127.0.0.1'] },
  });
  ca = makeTestCa('Postrider Test CA');
  otherCa = makeTestCa('Someone Else CA');
  mxCert = ca.issue(['mx1.example.test']);
});
after(async () => {
  await sinks.closeAll();
  await dns.close();
});

const sink = (opts?: SmtpSinkOptions): Promise<SmtpSink> => sinks.start(opts);

/** One delivery to example.test (MX mx1.example.test) on the sink's port; the outcome and the log lines. */
async function deliver(s: SmtpSink, params: Record<string, string>, nexthop = `example.test:${s.port}`) {
  const { log, lines } = captureLog();
  const agent = new SmtpAgent({
    config: makeConfig({ smtp_connection_cache_time_limit: '0s', dns_resolver_servers: `127.0.0.1:${dns.port}`, ...params }),
    log,
    readContent: contentReader(),
  });
  try {
    const outcome = (await agent.deliver(makeRequest({ nexthop, to: ['u@example.test'] }))).outcomes[0];
    return { outcome, lines };
  } finally {
    await agent.close();
  }
}

/** The sink got nothing: no message, and no MAIL command in plain text. */
function assertNothingSent(s: SmtpSink): void {
  assert.equal(s.messages.length, 0);
  assert.ok(!s.wire.includes('MAIL FROM'), 'no MAIL FROM went over the wire in plain text');
}

const NOT_OFFERED = /^TLS is required, but was not offered by host mx1\.example\.test\[127\.0\.0\.1\]$/;
const ESTABLISHED = (trust: string, port: number) =>
  new RegExp(`${trust} TLS connection established to mx1\\.example\\.test\\[127\\.0\\.0\\.1\\]:${port}: TLSv1\\.[23] with cipher \\S+ \\(\\d+/\\d+ bits\\)`);

function fingerprintsOf(cert: Buffer): { cert: string; pkey: string } {
  const x = new X509Certificate(cert);
  const pkey = createHash('sha256').update(x.publicKey.export({ type: 'spki', format: 'der' })).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
  return { cert: x.fingerprint256, pkey };
}

describe('smtp_tls_security_level', () => {
  test('none: plain text even when the server offers STARTTLS', async () => {
    const s = await sink({ starttls: true, cert: mxCert });
    const { outcome } = await deliver(s, { smtp_tls_security_level: 'none' });
    assert.equal(outcome.state, 'delivered', outcome.reason);
    assert.equal(s.messages[0].secure, false);
  });

  test('may: TLS with any certificate, logged as Untrusted or Trusted per smtp_tls_CAfile at smtp_tls_loglevel 1', async () => {
    const s = await sink({ starttls: true, cert: mxCert });
    const untrusted = await deliver(s, { smtp_tls_security_level: 'may', smtp_tls_loglevel: '1', smtp_tls_CAfile: otherCa.certFile });
    assert.equal(untrusted.outcome.state, 'delivered', untrusted.outcome.reason);
    assert.ok(untrusted.lines.some((l) => ESTABLISHED('Untrusted', s.port).test(l)), untrusted.lines.join('\n'));
    const trusted = await deliver(s, { smtp_tls_security_level: 'may', smtp_tls_loglevel: '1', smtp_tls_CAfile: ca.certFile });
    assert.ok(trusted.lines.some((l) => ESTABLISHED('Trusted', s.port).test(l)), trusted.lines.join('\n'));
    assert.deepEqual(s.messages.map((m) => m.secure), [true, true]);
    // smtp_tls_loglevel 0 (the default) logs no TLS line.
    const quiet = await deliver(s, { smtp_tls_security_level: 'may' });
    assert.ok(!quiet.lines.some((l) => l.includes('TLS connection established')));
  });

  test('encrypt: any certificate over TLS; a server without STARTTLS is deferred 4.7.4 and gets nothing', async () => {
    const good = await sink({ starttls: true, cert: makeTestCert('whatever.test') });
    const r = await deliver(good, { smtp_tls_security_level: 'encrypt' });
    assert.equal(r.outcome.state, 'delivered', r.outcome.reason);
    assert.equal(good.messages[0].secure, true);
    const plain = await sink({ starttls: false });
    const { outcome } = await deliver(plain, { smtp_tls_security_level: 'encrypt' });
    assert.equal(outcome.state, 'deferred');
    assert.equal(outcome.dsn, '4.7.4');
    assert.match(outcome.reason, NOT_OFFERED);
    assertNothingSent(plain);
  });

  test('verify: a CA-signed certificate naming the MX host delivers (Verified); another CA, another name or no STARTTLS defer', async () => {
    const good = await sink({ starttls: true, cert: mxCert });
    const ok = await deliver(good, { smtp_tls_security_level: 'verify', smtp_tls_CAfile: ca.certFile, smtp_tls_loglevel: '1' });
    assert.equal(ok.outcome.state, 'delivered', ok.outcome.reason);
    assert.ok(ok.lines.some((l) => ESTABLISHED('Verified', good.port).test(l)), ok.lines.join('\n'));

    const untrusted = await sink({ starttls: true, cert: otherCa.issue(['mx1.example.test']) });
    const r1 = await deliver(untrusted, { smtp_tls_security_level: 'verify', smtp_tls_CAfile: ca.certFile, smtp_tls_loglevel: '1' });
    assert.equal(r1.outcome.state, 'deferred');
    assert.equal(r1.outcome.dsn, '4.7.5');
    assert.equal(r1.outcome.reason, 'Server certificate not verified');
    assert.ok(r1.lines.some((l) => ESTABLISHED('Untrusted', untrusted.port).test(l)), r1.lines.join('\n'));
    assertNothingSent(untrusted);

    const misnamed = await sink({ starttls: true, cert: ca.issue(['mx9.example.test']) });
    const r2 = await deliver(misnamed, { smtp_tls_security_level: 'verify', smtp_tls_CAfile: ca.certFile });
    assert.equal(r2.outcome.state, 'deferred');
    assert.equal(r2.outcome.reason, 'Server certificate not verified');
    assertNothingSent(misnamed);

    // smtp_tls_verify_cert_match: the name asked for is the one listed.
    const r3 = await deliver(misnamed, { smtp_tls_security_level: 'verify', smtp_tls_CAfile: ca.certFile, smtp_tls_verify_cert_match: 'hostname, mx9.example.test' });
    assert.equal(r3.outcome.state, 'delivered', r3.outcome.reason);

    const plain = await sink({ starttls: false });
    const r4 = await deliver(plain, { smtp_tls_security_level: 'verify', smtp_tls_CAfile: ca.certFile });
    assert.match(r4.outcome.reason, NOT_OFFERED);
    assertNothingSent(plain);
  });

  test('secure: the certificate must name the nexthop or a subdomain of it (smtp_tls_secure_cert_match), never just any MX name', async () => {
    const nexthopCert = await sink({ starttls: true, cert: ca.issue(['example.test']) });
    const r1 = await deliver(nexthopCert, { smtp_tls_security_level: 'secure', smtp_tls_CAfile: ca.certFile });
    assert.equal(r1.outcome.state, 'delivered', r1.outcome.reason);
    const subdomain = await sink({ starttls: true, cert: mxCert });
    const r2 = await deliver(subdomain, { smtp_tls_security_level: 'secure', smtp_tls_CAfile: ca.certFile });
    assert.equal(r2.outcome.state, 'delivered', r2.outcome.reason);
    const elsewhere = await sink({ starttls: true, cert: ca.issue(['mx1.example.other']) });
    const r3 = await deliver(elsewhere, { smtp_tls_security_level: 'secure', smtp_tls_CAfile: ca.certFile });
    assert.equal(r3.outcome.state, 'deferred');
    assert.equal(r3.outcome.dsn, '4.7.5');
    assert.equal(r3.outcome.reason, 'Server certificate not verified');
    assertNothingSent(elsewhere);
    const r4 = await deliver(elsewhere, { smtp_tls_security_level: 'secure', smtp_tls_CAfile: ca.certFile, smtp_tls_secure_cert_match: 'nexthop, .example.other' });
    assert.equal(r4.outcome.state, 'delivered', r4.outcome.reason);
    const plain = await sink({ starttls: false });
    const r5 = await deliver(plain, { smtp_tls_security_level: 'secure', smtp_tls_CAfile: ca.certFile });
    assert.match(r5.outcome.reason, NOT_OFFERED);
    assertNothingSent(plain);
  });

  test('fingerprint: the certificate or public-key digest (smtp_tls_fingerprint_cert_match, sha256) delivers with no CA; another defers', async () => {
    const selfSigned = makeTestCert('anything.test');
    const s = await sink({ starttls: true, cert: selfSigned });
    const fp = fingerprintsOf(selfSigned.cert);
    const byCert = await deliver(s, { smtp_tls_security_level: 'fingerprint', smtp_tls_fingerprint_cert_match: fp.cert, smtp_tls_loglevel: '1' });
    assert.equal(byCert.outcome.state, 'delivered', byCert.outcome.reason);
    assert.ok(byCert.lines.some((l) => ESTABLISHED('Verified', s.port).test(l)), byCert.lines.join('\n'));
    const byKey = await deliver(s, { smtp_tls_security_level: 'fingerprint', smtp_tls_fingerprint_cert_match: fp.pkey.toLowerCase() });
    assert.equal(byKey.outcome.state, 'delivered', byKey.outcome.reason);
    // smtp_tls_fingerprint_digest: a sha1 digest of the certificate matches only when sha1 is the digest.
    const sha1 = new X509Certificate(selfSigned.cert).fingerprint;
    const r1 = await deliver(s, { smtp_tls_security_level: 'fingerprint', smtp_tls_fingerprint_cert_match: sha1 });
    assert.equal(r1.outcome.state, 'deferred');
    assert.equal(r1.outcome.reason, 'Server certificate not verified');
    const r2 = await deliver(s, { smtp_tls_security_level: 'fingerprint', smtp_tls_fingerprint_cert_match: sha1, smtp_tls_fingerprint_digest: 'sha1' });
    assert.equal(r2.outcome.state, 'delivered', r2.outcome.reason);
    assert.equal(s.messages.length, 3);
    const plain = await sink({ starttls: false });
    const r3 = await deliver(plain, { smtp_tls_security_level: 'fingerprint', smtp_tls_fingerprint_cert_match: fp.cert });
    assert.match(r3.outcome.reason, NOT_OFFERED);
    assertNothingSent(plain);
  });
});

describe('smtp_tls_policy_maps', () => {
  function table(lines: string[]): string {
    const dir = mkdtempSync(join(tmpdir(), 'postrider-tls-policy-'));
    const file = join(dir, 'tls_policy');
    writeFileSync(file, lines.join('\n') + '\n');
    return `texthash:${file}`;
  }

  test('an entry for the nexthop (with its :port) overrides smtp_tls_security_level; others keep the main.cf level', async () => {
    const bad = await sink({ starttls: true, cert: otherCa.issue(['mx1.example.test']) });
    const maps = table([`example.test:${bad.port} verify`]);
    const r1 = await deliver(bad, { smtp_tls_security_level: 'may', smtp_tls_policy_maps: maps, smtp_tls_CAfile: ca.certFile });
    assert.equal(r1.outcome.state, 'deferred');
    assert.equal(r1.outcome.reason, 'Server certificate not verified');
    assertNothingSent(bad);
    const other = await sink({ starttls: true, cert: otherCa.issue(['mx1.example.test']) });
    const r2 = await deliver(other, { smtp_tls_security_level: 'may', smtp_tls_policy_maps: maps, smtp_tls_CAfile: ca.certFile });
    assert.equal(r2.outcome.state, 'delivered', r2.outcome.reason);
  });

  test('match= names of a secure entry, a [host]:port key, and an entry demanding TLS of a server without it', async () => {
    const s = await sink({ starttls: true, cert: ca.issue(['relay.example.org']) });
    const plain = await sink({ starttls: false });
    const maps = table([
      `example.test:${s.port} secure match=nexthop:relay.example.org`,
      `[127.0.0.1]:${plain.port} encrypt`,
    ]);
    const r1 = await deliver(s, { smtp_tls_policy_maps: maps, smtp_tls_CAfile: ca.certFile });
    assert.equal(r1.outcome.state, 'delivered', r1.outcome.reason);
    assert.equal(s.messages[0].secure, true);
    const r2 = await deliver(plain, { smtp_tls_policy_maps: maps }, `[127.0.0.1]:${plain.port}`);
    assert.equal(r2.outcome.state, 'deferred');
    assert.equal(r2.outcome.dsn, '4.7.4');
    assertNothingSent(plain);
  });

  test('fingerprint entries with several match= attributes, ciphers= and protocols=; an invalid entry defers without connecting', async () => {
    const selfSigned = makeTestCert('fp.test');
    const s = await sink({ starttls: true, cert: selfSigned, tlsOptions: { maxVersion: 'TLSv1.2' } });
    const fp = fingerprintsOf(selfSigned.cert);
    const maps = table([`example.test:${s.port} fingerprint match=00:11 match=${fp.cert}|AA:BB ciphers=high`]);
    const r1 = await deliver(s, { smtp_tls_policy_maps: maps });
    assert.equal(r1.outcome.state, 'delivered', r1.outcome.reason);
    // protocols=TLSv1.3 against a server that stops at TLS 1.2: the handshake fails, the mail waits.
    const r2 = await deliver(s, { smtp_tls_policy_maps: table([`example.test:${s.port} encrypt protocols=TLSv1.3`]) });
    assert.equal(r2.outcome.state, 'deferred');
    assert.match(r2.outcome.reason, /^Cannot start TLS: handshake failure with host mx1\.example\.test\[127\.0\.0\.1\]/);
    const before = s.connections;
    const r3 = await deliver(s, { smtp_tls_policy_maps: table([`example.test:${s.port} verify match=x ciphers=bogus`]) });
    assert.equal(r3.outcome.state, 'deferred');
    assert.equal(r3.outcome.dsn, '4.7.5');
    assert.equal(r3.outcome.reason, 'client TLS configuration problem');
    assert.equal(s.connections, before);
    assert.equal(s.messages.length, 1);
  });
});

describe('TLS settings', () => {
  test('smtp_tls_CApath: the CA certificates of a directory are trusted at verify', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postrider-capath-'));
    copyFileSync(ca.certFile, join(dir, 'test-ca.pem'));
    const s = await sink({ starttls: true, cert: mxCert });
    const r1 = await deliver(s, { smtp_tls_security_level: 'verify', smtp_tls_CApath: dir });
    assert.equal(r1.outcome.state, 'delivered', r1.outcome.reason);
    const empty = mkdtempSync(join(tmpdir(), 'postrider-capath-'));
    const r2 = await deliver(s, { smtp_tls_security_level: 'verify', smtp_tls_CApath: empty });
    assert.equal(r2.outcome.state, 'deferred');
    assert.equal(r2.outcome.reason, 'Server certificate not verified');
    assert.equal(s.messages.length, 1);
    // A directory that cannot be read defers at verify, and does not stop "may".
    const missing = join(empty, 'missing');
    const r3 = await deliver(s, { smtp_tls_security_level: 'verify', smtp_tls_CApath: missing });
    assert.equal(r3.outcome.state, 'deferred');
    assert.match(r3.outcome.reason, /^cannot read smtp_tls_CApath: /);
    const r4 = await deliver(s, { smtp_tls_security_level: 'may', smtp_tls_CApath: missing });
    assert.equal(r4.outcome.state, 'delivered', r4.outcome.reason);
    assert.equal(s.messages.length, 2);
  });

  test('smtp_tls_mandatory_protocols and smtp_tls_protocols bound the versions; smtp_tls_mandatory_ciphers and smtp_tls_ciphers pick the grade', async () => {
    const s = await sink({ starttls: true, cert: mxCert, tlsOptions: { maxVersion: 'TLSv1.2' } });
    const r1 = await deliver(s, { smtp_tls_security_level: 'encrypt', smtp_tls_mandatory_protocols: '>=TLSv1.3' });
    assert.equal(r1.outcome.state, 'deferred');
    assert.match(r1.outcome.reason, /^Cannot start TLS: handshake failure/);
    // At "may" the failed handshake is retried in plain text: smtp_tls_protocols applies there.
    const r2 = await deliver(s, { smtp_tls_security_level: 'may', smtp_tls_protocols: '>=TLSv1.3' });
    assert.equal(r2.outcome.state, 'delivered', r2.outcome.reason);
    assert.equal(s.messages.at(-1)!.secure, false);
    // The null grade has no cipher a TLS 1.2 server shares.
    const r3 = await deliver(s, { smtp_tls_security_level: 'encrypt', smtp_tls_mandatory_ciphers: 'null' });
    assert.equal(r3.outcome.state, 'deferred');
    const r4 = await deliver(s, { smtp_tls_security_level: 'may', smtp_tls_ciphers: 'null' });
    assert.equal(r4.outcome.state, 'delivered', r4.outcome.reason);
    assert.equal(s.messages.at(-1)!.secure, false);
    const r5 = await deliver(s, { smtp_tls_security_level: 'encrypt', smtp_tls_mandatory_ciphers: 'high' });
    assert.equal(r5.outcome.state, 'delivered', r5.outcome.reason);
    assert.equal(s.messages.at(-1)!.secure, true);
  });
});
