/**
 * DANE (RFC 7672) in the smtp client: TLSA records from the test DNS server,
 * trusted only in answers with the AD bit (smtp_dns_support_level = dnssec);
 * DANE-EE and DANE-TA matches and mismatches against real TLS sinks; a
 * server that does not offer STARTTLS under TLSA records; "dane" without
 * usable records falling back to may / encrypt, "dane-only" deferring with
 * Postfix's texts; an insecure MX RRset making DANE not apply.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { SmtpAgent } from '../../../src/actors/smtp/smtp-agent.js';
import { startDnsServer, type TestDnsServer, type ZoneEntry } from '../../helpers/dns-server.js';
import { sinkSet, type SmtpSink, type SmtpSinkOptions } from '../../helpers/smtp-sink.js';
import { makeTestCa, type TestCa } from '../../helpers/tls-ca.js';
import { makeTestCert } from '../../helpers/tls-cert.js';
import { captureLog, contentReader, makeConfig, makeRequest } from './smtp-test-kit.js';

let dns: TestDnsServer;
let ca: TestCa;
let otherCa: TestCa;
const sinks = sinkSet();

before(async () => {
  dns = await startDnsServer({
    'dane.test': { MX: [{ preference: 10, exchange: 'mx.dane.test' }], ad: true },
    'mx.dane.test': { A: ['127.0.0.1'], ad: true },
    'insecure.test': { MX: [{ preference: 10, exchange: 'mx.dane.test' }] },
  });
  ca = makeTestCa('DANE Test CA');
  otherCa = makeTestCa('Another CA');
});
after(async () => {
  await sinks.closeAll();
  await dns.close();
});

const sink = (opts?: SmtpSinkOptions): Promise<SmtpSink> => sinks.start(opts);

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();
const der = (pem: Buffer) => new X509Certificate(pem).raw;
const spki = (pem: Buffer) => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });

/** Publishes TLSA records for mx.dane.test on the sink's port (secure unless told). */
function tlsa(s: SmtpSink, records: ZoneEntry['TLSA'], ad = true): void {
  dns.zone[`_${s.port}._tcp.mx.dane.test`] = { TLSA: records, ad };
}

async function deliver(s: SmtpSink, params: Record<string, string> = {}, domain = 'dane.test') {
  const { log, lines } = captureLog();
  const agent = new SmtpAgent({
    config: makeConfig({
      smtp_connection_cache_time_limit: '0s',
      dns_resolver_servers: `127.0.0.1:${dns.port}`,
      smtp_dns_support_level: 'dnssec',
      smtp_tls_security_level: 'dane',
      smtp_tls_loglevel: '1',
      ...params,
    }),
    log,
    readContent: contentReader(),
  });
  try {
    const outcome = (await agent.deliver(makeRequest({ nexthop: `${domain}:${s.port}`, to: [`u@${domain}`] }))).outcomes[0];
    return { outcome, lines };
  } finally {
    await agent.close();
  }
}

function assertNothingSent(s: SmtpSink): void {
  assert.equal(s.messages.length, 0);
  assert.ok(!s.wire.includes('MAIL FROM'), 'no MAIL FROM in plain text');
}

describe('DANE', () => {
  test('DANE-EE (3 1 1): the server key named by a secure TLSA record delivers whatever the certificate names; another key defers 4.7.5', async () => {
    const cert = makeTestCert('not-the-mx.example');
    const s = await sink({ starttls: true, cert });
    tlsa(s, [{ usage: 3, selector: 1, matchingType: 1, data: sha256(spki(cert.cert)) }]);
    const ok = await deliver(s);
    assert.equal(ok.outcome.state, 'delivered', ok.outcome.reason);
    assert.equal(s.messages[0].secure, true);
    assert.ok(ok.lines.some((l) => /Verified TLS connection established to mx\.dane\.test\[127\.0\.0\.1\]:\d+: TLSv1\.[23] with cipher/.test(l)), ok.lines.join('\n'));

    const other = makeTestCert('mx.dane.test');
    const bad = await sink({ starttls: true, cert: other });
    tlsa(bad, [{ usage: 3, selector: 0, matchingType: 1, data: sha256(der(cert.cert)) }]);
    for (const level of ['dane', 'dane-only']) {
      const r = await deliver(bad, { smtp_tls_security_level: level });
      assert.equal(r.outcome.state, 'deferred');
      assert.equal(r.outcome.dsn, '4.7.5');
      assert.equal(r.outcome.reason, 'Server certificate not verified');
    }
    assertNothingSent(bad);
  });

  test('DANE-EE (3 0 0 and 3 1 2): the full certificate and a SHA-512 key digest match too', async () => {
    const cert = makeTestCert('mx.dane.test');
    const s = await sink({ starttls: true, cert });
    tlsa(s, [{ usage: 3, selector: 0, matchingType: 0, data: der(cert.cert) }]);
    assert.equal((await deliver(s)).outcome.state, 'delivered');
    tlsa(s, [{ usage: 3, selector: 1, matchingType: 2, data: createHash('sha512').update(spki(cert.cert)).digest() }]);
    assert.equal((await deliver(s)).outcome.state, 'delivered');
    assert.equal(s.messages.length, 2);
  });

  test('DANE-TA (2 0 1): a chain to the CA named by TLSA with the MX name delivers; another CA or another name defers', async () => {
    const good = await sink({ starttls: true, cert: ca.issue(['mx.dane.test']) });
    tlsa(good, [{ usage: 2, selector: 0, matchingType: 1, data: sha256(der(ca.cert)) }]);
    const ok = await deliver(good);
    assert.equal(ok.outcome.state, 'delivered', ok.outcome.reason);
    assert.equal(good.messages[0].secure, true);

    const foreign = await sink({ starttls: true, cert: otherCa.issue(['mx.dane.test']) });
    tlsa(foreign, [{ usage: 2, selector: 0, matchingType: 1, data: sha256(der(ca.cert)) }]);
    const r1 = await deliver(foreign);
    assert.equal(r1.outcome.state, 'deferred');
    assert.equal(r1.outcome.dsn, '4.7.5');
    assert.equal(r1.outcome.reason, 'Server certificate not verified');
    assertNothingSent(foreign);

    const misnamed = await sink({ starttls: true, cert: ca.issue(['elsewhere.example']) });
    tlsa(misnamed, [{ usage: 2, selector: 1, matchingType: 1, data: sha256(spki(ca.cert)) }]);
    const r2 = await deliver(misnamed, { smtp_tls_security_level: 'dane-only' });
    assert.equal(r2.outcome.state, 'deferred');
    assert.equal(r2.outcome.reason, 'Server certificate not verified');
    assertNothingSent(misnamed);
  });

  test('TLSA records and a server that does not offer STARTTLS: deferred 4.7.4, never sent in plain text', async () => {
    const plain = await sink({ starttls: false });
    tlsa(plain, [{ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 7) }]);
    for (const level of ['dane', 'dane-only']) {
      const r = await deliver(plain, { smtp_tls_security_level: level });
      assert.equal(r.outcome.state, 'deferred');
      assert.equal(r.outcome.dsn, '4.7.4');
      assert.match(r.outcome.reason, /^TLS is required, but was not offered by host mx\.dane\.test\[127\.0\.0\.1\]$/);
    }
    assertNothingSent(plain);
  });

  test('no TLSA records: dane is may (plain text if need be); dane-only defers "no TLSA records found" without connecting', async () => {
    const plain = await sink({ starttls: false });
    const r1 = await deliver(plain);
    assert.equal(r1.outcome.state, 'delivered', r1.outcome.reason);
    assert.equal(plain.messages[0].secure, false);
    const before = plain.connections;
    const r2 = await deliver(plain, { smtp_tls_security_level: 'dane-only' });
    assert.equal(r2.outcome.state, 'deferred');
    assert.equal(r2.outcome.dsn, '4.7.5');
    assert.equal(r2.outcome.reason, 'no TLSA records found');
    assert.equal(plain.connections, before);
  });

  test('TLSA records without the AD bit, or an insecure MX RRset, are not DANE: dane is may, dane-only defers', async () => {
    const cert = makeTestCert('mx.dane.test');
    const s = await sink({ starttls: true, cert });
    // A record that would not match: ignored when not secure.
    tlsa(s, [{ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 1) }], false);
    const r1 = await deliver(s);
    assert.equal(r1.outcome.state, 'delivered', r1.outcome.reason);
    const r2 = await deliver(s, { smtp_tls_security_level: 'dane-only' });
    assert.equal(r2.outcome.reason, 'no TLSA records found');
    tlsa(s, [{ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 1) }], true);
    const r3 = await deliver(s, {}, 'insecure.test');
    assert.equal(r3.outcome.state, 'delivered', r3.outcome.reason);
    const r4 = await deliver(s, { smtp_tls_security_level: 'dane-only' }, 'insecure.test');
    assert.equal(r4.outcome.state, 'deferred');
    assert.equal(r4.outcome.dsn, '4.7.5');
    assert.equal(r4.outcome.reason, 'non DNSSEC destination');
    assert.equal(s.messages.length, 2);
  });

  test('only unusable TLSA records (PKIX usages): dane is encrypt, dane-only defers "TLSA records unusable"', async () => {
    const plain = await sink({ starttls: false });
    tlsa(plain, [{ usage: 1, selector: 1, matchingType: 1, data: Buffer.alloc(32, 2) }]);
    const r1 = await deliver(plain);
    assert.equal(r1.outcome.dsn, '4.7.4');
    const r2 = await deliver(plain, { smtp_tls_security_level: 'dane-only' });
    assert.equal(r2.outcome.reason, 'TLSA records unusable');
    assertNothingSent(plain);
    const tls = await sink({ starttls: true, cert: makeTestCert('whatever.example') });
    tlsa(tls, [{ usage: 0, selector: 0, matchingType: 1, data: Buffer.alloc(32, 2) }]);
    const r3 = await deliver(tls);
    assert.equal(r3.outcome.state, 'delivered', r3.outcome.reason);
    assert.equal(tls.messages[0].secure, true);
  });

  test('without smtp_dns_support_level = dnssec: dane is may, dane-only is a configuration problem; TLSA is not even asked', async () => {
    const cert = makeTestCert('mx.dane.test');
    const s = await sink({ starttls: true, cert });
    tlsa(s, [{ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 3) }]);
    const asked = dns.queries.length;
    const r1 = await deliver(s, { smtp_dns_support_level: 'enabled' });
    assert.equal(r1.outcome.state, 'delivered', r1.outcome.reason);
    assert.ok(r1.lines.some((l) => l.includes('dane configured with dnssec lookups disabled')), r1.lines.join('\n'));
    const r2 = await deliver(s, { smtp_dns_support_level: 'enabled', smtp_tls_security_level: 'dane-only' });
    assert.equal(r2.outcome.state, 'deferred');
    assert.equal(r2.outcome.reason, 'client TLS configuration problem');
    assert.ok(!dns.queries.slice(asked).some((q) => q.endsWith(' TLSA')));
  });
});
