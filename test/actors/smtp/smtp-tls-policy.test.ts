/**
 * smtp-tls-policy: the policy table's syntax and keys, resolveTlsPolicy's
 * precedence (table, DANE, MTA-STS, main.cf), MTA-STS mx patterns, and
 * checkPeer's failure types; MTA-STS enforce against a server without
 * STARTTLS or an MX outside the policy, end to end through the smtp agent.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { MapTable } from '../../../src/config/lookup-table.js';
import { DaneResolver } from '../../../src/actors/smtp/smtp-dane.js';
import { SmtpAgent } from '../../../src/actors/smtp/smtp-agent.js';
import type { StsPolicy } from '../../../src/actors/smtp/smtp-tls-policy-types.js';
import { checkPeer, resolveTlsPolicy, stsMxMatches, type TlsPolicyContext } from '../../../src/actors/smtp/smtp-tls-policy.js';
import { tlsModeOf } from '../../../src/actors/smtp/smtp-session.js';
import { lookupTlsPolicy, parseTlsPolicyEntry, tlsPolicyKey } from '../../../src/actors/smtp/smtp-tls-table.js';
import { startDnsServer, type TestDnsServer } from '../../helpers/dns-server.js';
import { startSmtpSink } from '../../helpers/smtp-sink.js';
import { makeTestCa } from '../../helpers/tls-ca.js';
import { captureLog, contentReader, makeConfig, makeRequest } from './smtp-test-kit.js';

describe('smtp_tls_policy_maps syntax', () => {
  test('levels with match=, ciphers= and protocols=; invalid entries say why', () => {
    assert.deepEqual(parseTlsPolicyEntry('secure match=.example.net:example.net'), { level: 'secure', match: ['.example.net', 'example.net'] });
    assert.deepEqual(parseTlsPolicyEntry('fingerprint match=AA:BB|CC:DD, match=EE:FF'), { level: 'fingerprint', match: ['AA:BB', 'CC:DD', 'EE:FF'] });
    assert.deepEqual(parseTlsPolicyEntry('encrypt protocols=TLSv1.2:TLSv1.3 ciphers=HIGH'), { level: 'encrypt', match: [], protocols: 'TLSv1.2:TLSv1.3', ciphers: 'high' });
    assert.deepEqual(parseTlsPolicyEntry('dane-only'), { level: 'dane-only', match: [] });
    assert.match(parseTlsPolicyEntry('strict') as string, /invalid TLS security level "strict"/);
    assert.match(parseTlsPolicyEntry('none ciphers=high') as string, /at security level none/);
    assert.match(parseTlsPolicyEntry('may match=x') as string, /attribute "match" at security level may/);
    assert.match(parseTlsPolicyEntry('encrypt protocols=TLSv9') as string, /unknown protocol/);
    assert.match(parseTlsPolicyEntry('encrypt exclude=RC4') as string, /unsupported attribute "exclude"/);
  });

  test('keys: the nexthop as written; a bare domain falls back to its ".parent" entries, a [host] or :port key does not', () => {
    assert.equal(tlsPolicyKey('Example.COM', 25, true), 'example.com');
    assert.equal(tlsPolicyKey('mail.example.org', 587, false), '[mail.example.org]:587');
    assert.equal(tlsPolicyKey('example.com', 2525, true), 'example.com:2525');
    const t = new MapTable('texthash:tls', 'texthash', new Map([
      ['example.net', 'secure'], ['.example.net', 'verify'], ['.net', 'may'], ['[mx.example.net]', 'encrypt'],
    ]));
    assert.equal(lookupTlsPolicy(t, 'example.net'), 'secure');
    assert.equal(lookupTlsPolicy(t, 'a.b.example.net'), 'verify');
    assert.equal(lookupTlsPolicy(t, 'other.net'), 'may');
    assert.equal(lookupTlsPolicy(t, '[mx.example.net]'), 'encrypt');
    assert.equal(lookupTlsPolicy(t, '[a.example.net]'), undefined);
    assert.equal(lookupTlsPolicy(t, 'a.example.net:2525'), undefined);
  });

  test('MTA-STS mx patterns: a literal name, or "*." for exactly one more label', () => {
    assert.ok(stsMxMatches(['mx1.example.com'], 'MX1.example.com.'));
    assert.ok(stsMxMatches(['*.example.com'], 'mx2.example.com'));
    assert.ok(!stsMxMatches(['*.example.com'], 'a.mx2.example.com'));
    assert.ok(!stsMxMatches(['*.example.com'], 'example.com'));
    assert.ok(!stsMxMatches(['mx1.example.com'], 'mx2.example.com'));
  });
});

describe('resolveTlsPolicy', () => {
  let dns: TestDnsServer;
  before(async () => {
    dns = await startDnsServer({
      'd.test': { MX: [{ preference: 10, exchange: 'mx.d.test' }], ad: true },
      'mx.d.test': { A: ['127.0.0.1'], ad: true },
      '_25._tcp.mx.d.test': { TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 9) }], ad: true },
      'plain.test': { MX: [{ preference: 10, exchange: 'mx.plain.test' }], ad: true },
      'mx.plain.test': { A: ['127.0.0.1'], ad: true },
    });
  });
  after(() => dns.close());

  const sts = (mode: StsPolicy['mode'], mx = ['mx.d.test', '*.plain.test']): StsPolicy => ({ domain: 'x', id: '1', mode, mx, maxAge: 86400, text: '' });
  function ctx(level: TlsPolicyContext['level'], table?: Record<string, string>): TlsPolicyContext {
    return {
      level,
      table: table ? new MapTable('texthash:t', 'texthash', new Map(Object.entries(table))) : undefined,
      fingerprintMatch: [], verifyMatch: ['hostname'], secureMatch: ['nexthop', 'dot-nexthop'],
      dnssec: true,
      dane: new DaneResolver([`127.0.0.1:${dns.port}`]),
    };
  }

  test('a table entry wins over DANE, MTA-STS and main.cf', async () => {
    const p = await resolveTlsPolicy(ctx('dane', { 'd.test': 'verify match=nexthop' }), 'd.test', 'mx.d.test', 25, { viaMx: true, sts: async () => sts('enforce') });
    assert.deepEqual(p, { level: 'verify', source: 'policy-table', match: ['nexthop'] });
  });

  test('usable TLSA records win over MTA-STS (RFC 8461 section 2); without them MTA-STS applies at dane', async () => {
    const dane = await resolveTlsPolicy(ctx('dane'), 'd.test', 'mx.d.test', 25, { viaMx: true, sts: async () => sts('enforce') });
    assert.equal(dane.source, 'dane');
    assert.equal(dane.tlsa?.length, 1);
    assert.equal(tlsModeOf(dane), 'required');
    const viaSts = await resolveTlsPolicy(ctx('dane'), 'plain.test', 'mx.plain.test', 25, { viaMx: true, sts: async () => sts('enforce') });
    assert.equal(viaSts.source, 'mta-sts');
    assert.equal(viaSts.level, 'secure');
    assert.deepEqual(viaSts.match, ['mx.d.test', '*.plain.test']);
    const none = await resolveTlsPolicy(ctx('dane'), 'plain.test', 'mx.plain.test', 25, { viaMx: true });
    assert.deepEqual(none, { level: 'may', source: 'main.cf', match: [] });
  });

  test('MTA-STS: enforce refuses an MX outside the policy; testing never refuses and falls back to plain text; none is ignored', async () => {
    const out = await resolveTlsPolicy(ctx('may'), 'plain.test', 'rogue.example', 25, { viaMx: true, sts: async () => sts('enforce') });
    assert.deepEqual(out.refuse, { dsn: '4.7.5', reason: 'MX host rogue.example does not match the MTA-STS policy of plain.test' });
    const testing = await resolveTlsPolicy(ctx('may'), 'plain.test', 'rogue.example', 25, { viaMx: true, sts: async () => sts('testing') });
    assert.equal(testing.refuse, undefined);
    assert.equal(tlsModeOf(testing), 'opportunistic');
    const off = await resolveTlsPolicy(ctx('encrypt'), 'plain.test', 'mx.plain.test', 25, { viaMx: true, sts: async () => sts('none') });
    assert.deepEqual(off, { level: 'encrypt', source: 'main.cf', match: [] });
    const failing = await resolveTlsPolicy(ctx('may'), 'plain.test', 'mx.plain.test', 25, { viaMx: true, sts: async () => { throw new Error('fetch failed'); } });
    assert.equal(failing.source, 'main.cf');
  });

  test('main.cf levels take their match lists; fingerprint without fingerprints is a configuration problem', async () => {
    assert.deepEqual(await resolveTlsPolicy(ctx('secure'), 'plain.test', 'mx.plain.test', 25), { level: 'secure', source: 'main.cf', match: ['nexthop', 'dot-nexthop'] });
    assert.deepEqual((await resolveTlsPolicy(ctx('fingerprint'), 'plain.test', 'mx.plain.test', 25)).refuse, { dsn: '4.7.5', reason: 'client TLS configuration problem' });
  });
});

describe('checkPeer', () => {
  const ca = makeTestCa('Check CA');
  const leaf = new X509Certificate(ca.issue(['mx.example.com']).leaf);
  const names = { hostname: 'mx.example.com', nexthop: 'example.com' };

  test('failure types for TLSRPT: untrusted, expired, host mismatch, TLSA mismatch; trust words for the log line', () => {
    const verify = { level: 'verify' as const, source: 'main.cf' as const, match: ['hostname'] };
    assert.deepEqual(checkPeer(verify, { chain: [leaf], authorized: true }, names), { ok: true, reason: 'hostname', trust: 'Verified' });
    assert.equal(checkPeer(verify, { chain: [leaf], authorized: false, authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, names).failure, 'certificate-not-trusted');
    assert.equal(checkPeer(verify, { chain: [leaf], authorized: false, authorizationError: 'CERT_HAS_EXPIRED' }, names).failure, 'certificate-expired');
    const mismatch = checkPeer({ ...verify, match: ['other.example.com'] }, { chain: [leaf], authorized: true }, names);
    assert.deepEqual(mismatch, { ok: false, failure: 'certificate-host-mismatch', reason: 'Server certificate not verified', trust: 'Trusted' });
    const spki = leaf.publicKey.export({ type: 'spki', format: 'der' });
    const dane = { level: 'dane' as const, source: 'dane' as const, match: [], tlsa: [{ usage: 3, selector: 1, matchingType: 1, data: createHash('sha256').update(spki).digest() }] };
    assert.equal(checkPeer(dane, { chain: [leaf], authorized: false }, names).trust, 'Verified');
    assert.equal(checkPeer({ ...dane, tlsa: [{ ...dane.tlsa[0], data: Buffer.alloc(32) }] }, { chain: [leaf], authorized: false }, names).failure, 'tlsa-invalid');
    assert.deepEqual(checkPeer({ level: 'encrypt', source: 'main.cf', match: [] }, { chain: [leaf], authorized: false }, names), { ok: true, reason: 'not checked', trust: 'Untrusted' });
  });
});

describe('MTA-STS enforce through the smtp agent', () => {
  test('a server without STARTTLS, an untrusted certificate or an MX outside the policy: deferred, nothing sent; a good one delivers', async () => {
    const ca = makeTestCa('STS CA');
    const plain = await startSmtpSink({ starttls: false });
    const good = await startSmtpSink({ starttls: true, cert: ca.issue(['mx.sts.test']) });
    const dns = await startDnsServer({ 'sts.test': { MX: [{ preference: 10, exchange: 'mx.sts.test' }] }, 'mx.sts.test': { A: ['127.0.0.1'] } });
    const policy: StsPolicy = { domain: 'sts.test', id: '1', mode: 'enforce', mx: ['*.sts.test'], maxAge: 86400, text: 'version: STSv1\nmode: enforce\nmx: *.sts.test\nmax_age: 86400\n' };
    const deliver = async (port: number, over: Partial<StsPolicy> = {}, params: Record<string, string> = {}) => {
      const agent = new SmtpAgent({
        config: makeConfig({ smtp_connection_cache_time_limit: '0s', dns_resolver_servers: `127.0.0.1:${dns.port}`, smtp_tls_security_level: 'may', ...params }),
        log: captureLog().log,
        readContent: contentReader(),
        sts: async (domain) => (domain === 'sts.test' ? { ...policy, ...over } : undefined),
      });
      try {
        return (await agent.deliver(makeRequest({ nexthop: `sts.test:${port}`, to: ['u@sts.test'] }))).outcomes[0];
      } finally {
        await agent.close();
      }
    };
    try {
      const stripped = await deliver(plain.port);
      assert.equal(stripped.state, 'deferred');
      assert.equal(stripped.dsn, '4.7.4');
      assert.equal(plain.messages.length, 0);
      assert.ok(!plain.wire.includes('MAIL FROM'));
      // testing mode delivers as if there were no policy.
      assert.equal((await deliver(plain.port, { mode: 'testing' })).state, 'delivered');
      const untrusted = await deliver(good.port);
      assert.equal(untrusted.reason, 'Server certificate not verified');
      const outside = await deliver(good.port, { mx: ['mx.elsewhere.test'] }, { smtp_tls_CAfile: ca.certFile });
      assert.equal(outside.reason, 'MX host mx.sts.test does not match the MTA-STS policy of sts.test');
      assert.equal(good.messages.length, 0);
      const ok = await deliver(good.port, {}, { smtp_tls_CAfile: ca.certFile });
      assert.equal(ok.state, 'delivered', ok.reason);
      assert.equal(good.messages[0].secure, true);
    } finally {
      await plain.close();
      await good.close();
      await dns.close();
    }
  });
});
