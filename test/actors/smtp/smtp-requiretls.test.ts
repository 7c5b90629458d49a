/**
 * REQUIRETLS (RFC 8689) in the smtp client, with real TLS on loopback: a
 * test CA signs the sinks' certificates and is smtp_tls_CAfile. REQUIRETLS
 * mail goes only over verified TLS to a server that offers REQUIRETLS, with
 * REQUIRETLS on MAIL FROM; a stripped STARTTLS, an untrusted or non-matching
 * certificate and a server without REQUIRETLS bounce it (5.7.10, 5.7.30)
 * before any MAIL FROM, never in the clear; the next MX host is tried first.
 * smtp_requiretls_policy's relaxed words, requiretls_enable = no, and a
 * "TLS-Required: No" message under a TLS level that would otherwise defer.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpSink, type SmtpSink, type SmtpSinkOptions } from '../../helpers/smtp-sink.js';
import { makeTestCa } from '../../helpers/tls-ca.js';
import { makeTestCert } from '../../helpers/tls-cert.js';
import { CONTENT, deliverToSink } from './smtp-test-kit.js';
import { cacheTagOf, demandOf, requireTlsPolicy, sessionVerdict } from '../../../src/actors/smtp/smtp-requiretls.js';

const ca = makeTestCa();
const goodCert = ca.issue(['mx.test.example', '127.0.0.1', '127.0.0.2']);
const otherNameCert = ca.issue(['elsewhere.test.example']);
const selfSigned = makeTestCert('localhost');

const sinks: SmtpSink[] = [];
after(async () => {
  for (const s of sinks) await s.close();
});

/** A sink that counts MAIL FROM commands, so a test can see none came. */
async function sink(opts: SmtpSinkOptions): Promise<SmtpSink & { mails: () => number }> {
  let mails = 0;
  const s = await startSmtpSink({ ...opts, mail: () => { mails++; return null; } });
  sinks.push(s);
  return Object.assign(s, { mails: () => mails });
}

const TLS_PARAMS = { smtp_tls_security_level: 'may', smtp_tls_CAfile: ca.certFile };

test('REQUIRETLS mail goes over verified TLS to a server that offers REQUIRETLS, with REQUIRETLS on MAIL FROM', async () => {
  const s = await sink({ starttls: true, cert: goodCert, requireTls: true });
  const { res, lines } = await deliverToSink(s.port, CONTENT, TLS_PARAMS, { requiretls: true });
  assert.equal(res.outcomes[0].state, 'delivered', res.outcomes[0].reason);
  assert.equal(s.messages.length, 1);
  assert.equal(s.messages[0].secure, true);
  assert.equal(s.messages[0].mailParams.REQUIRETLS, true);
  assert.ok(lines.some((l) => /status=sent/.test(l)), lines.join('\n'));
  // Ordinary mail to the same server goes without the parameter.
  const plain = await deliverToSink(s.port, CONTENT, TLS_PARAMS);
  assert.equal(plain.res.outcomes[0].state, 'delivered');
  assert.equal(s.messages[1].mailParams.REQUIRETLS, undefined);
});

test('REQUIRETLS and a stripped STARTTLS: bounced 5.7.10, nothing sent in the clear', async () => {
  const s = await sink({ starttls: false, requireTls: true });
  const { res, lines } = await deliverToSink(s.port, CONTENT, TLS_PARAMS, { requiretls: true });
  const o = res.outcomes[0];
  assert.equal(o.state, 'bounced');
  assert.equal(o.dsn, '5.7.10');
  assert.match(o.reason, /^Sender requested REQUIRETLS, but TLS service was not offered by host 127\.0\.0\.1\[127\.0\.0\.1\]$/);
  assert.equal(s.mails(), 0);
  assert.equal(s.messages.length, 0);
  assert.doesNotMatch(s.wire, /MAIL FROM|DATA/);
  assert.ok(lines.some((l) => /status=bounced \(Sender requested REQUIRETLS/.test(l)), lines.join('\n'));
});

test('REQUIRETLS to a TLS server without REQUIRETLS: bounced 5.7.30 before MAIL FROM', async () => {
  const s = await sink({ starttls: true, cert: goodCert, requireTls: false });
  const { res } = await deliverToSink(s.port, CONTENT, TLS_PARAMS, { requiretls: true });
  const o = res.outcomes[0];
  assert.equal(o.state, 'bounced');
  assert.equal(o.dsn, '5.7.30');
  assert.match(o.reason, /^Sender requested REQUIRETLS, but no server was found that supports REQUIRETLS\. The last attempted server was 127\.0\.0\.1\[127\.0\.0\.1\]$/);
  assert.equal(s.mails(), 0);
});

test('REQUIRETLS to a server whose certificate is not trusted, or names another host: bounced 5.7.10', async () => {
  const untrusted = await sink({ starttls: true, cert: selfSigned, requireTls: true });
  const r1 = await deliverToSink(untrusted.port, CONTENT, TLS_PARAMS, { requiretls: true });
  assert.equal(r1.res.outcomes[0].state, 'bounced');
  assert.equal(r1.res.outcomes[0].dsn, '5.7.10');
  assert.match(r1.res.outcomes[0].reason, /but no trusted server certificate was found/);
  assert.equal(untrusted.mails(), 0);

  const mismatch = await sink({ starttls: true, cert: otherNameCert, requireTls: true });
  const r2 = await deliverToSink(mismatch.port, CONTENT, TLS_PARAMS, { requiretls: true });
  assert.equal(r2.res.outcomes[0].state, 'bounced');
  assert.equal(r2.res.outcomes[0].dsn, '5.7.10');
  assert.match(r2.res.outcomes[0].reason, /but no matching server certificate was found/);
  assert.equal(mismatch.mails(), 0);

  // Ordinary mail at smtp_tls_security_level = may still goes to both (unverified TLS).
  const r3 = await deliverToSink(untrusted.port, CONTENT, TLS_PARAMS);
  assert.equal(r3.res.outcomes[0].state, 'delivered');
});

test('REQUIRETLS: a host that cannot take it is skipped for the next one, which can', async () => {
  const first = await sink({ host: '127.0.0.1', starttls: true, cert: goodCert, requireTls: false });
  const second = await sink({ host: '127.0.0.2', starttls: true, cert: goodCert, requireTls: true });
  const { res } = await deliverToSink(first.port, CONTENT, TLS_PARAMS, {
    requiretls: true,
    nexthop: `[127.0.0.1]:${first.port}, [127.0.0.2]:${second.port}`,
  });
  assert.equal(res.outcomes[0].state, 'delivered', res.outcomes[0].reason);
  assert.equal(first.mails(), 0);
  assert.equal(second.messages.length, 1);
  assert.equal(second.messages[0].mailParams.REQUIRETLS, true);
});

test('smtp_requiretls_policy = opportunistic+starttls and opportunistic; requiretls_enable = no', async () => {
  const tlsNoReq = await sink({ starttls: true, cert: selfSigned, requireTls: false });
  const plain = await sink({ starttls: false });
  const starttls = { ...TLS_PARAMS, smtp_requiretls_policy: 'opportunistic+starttls' };
  // TLS without certificate checks or REQUIRETLS is enough...
  const a = await deliverToSink(tlsNoReq.port, CONTENT, starttls, { requiretls: true });
  assert.equal(a.res.outcomes[0].state, 'delivered', a.res.outcomes[0].reason);
  assert.equal(tlsNoReq.messages[0].secure, true);
  assert.equal(tlsNoReq.messages[0].mailParams.REQUIRETLS, undefined);
  // ...but no TLS is not.
  const b = await deliverToSink(plain.port, CONTENT, starttls, { requiretls: true });
  assert.equal(b.res.outcomes[0].state, 'bounced');
  assert.equal(b.res.outcomes[0].dsn, '5.7.10');
  assert.equal(plain.mails(), 0);
  // opportunistic: delivered even in plain text; requiretls_enable = no likewise.
  const c = await deliverToSink(plain.port, CONTENT, { ...TLS_PARAMS, smtp_requiretls_policy: 'opportunistic' }, { requiretls: true });
  assert.equal(c.res.outcomes[0].state, 'delivered');
  const d = await deliverToSink(plain.port, CONTENT, { ...TLS_PARAMS, requiretls_enable: 'no' }, { requiretls: true });
  assert.equal(d.res.outcomes[0].state, 'delivered');
  assert.equal(plain.messages.length, 2);
});

test('"TLS-Required: No": delivered without TLS or with an untrusted certificate where the TLS level would defer', async () => {
  const plain = await sink({ starttls: false });
  const untrusted = await sink({ starttls: true, cert: selfSigned });
  const encrypt = { smtp_tls_security_level: 'encrypt', smtp_tls_CAfile: ca.certFile };
  const verify = { smtp_tls_security_level: 'verify', smtp_tls_CAfile: ca.certFile };
  const deferred = await deliverToSink(plain.port, CONTENT, encrypt);
  assert.equal(deferred.res.outcomes[0].state, 'deferred');
  assert.equal(deferred.res.outcomes[0].dsn, '4.7.4');
  const a = await deliverToSink(plain.port, CONTENT, encrypt, { tlsRequiredNo: true });
  assert.equal(a.res.outcomes[0].state, 'delivered', a.res.outcomes[0].reason);
  assert.equal(plain.messages.length, 1);
  const notVerified = await deliverToSink(untrusted.port, CONTENT, verify);
  assert.equal(notVerified.res.outcomes[0].state, 'deferred');
  const b = await deliverToSink(untrusted.port, CONTENT, verify, { tlsRequiredNo: true });
  assert.equal(b.res.outcomes[0].state, 'delivered', b.res.outcomes[0].reason);
  assert.equal(untrusted.messages[0].secure, true);
  // tls_required_enable = no: the header is not honoured.
  const c = await deliverToSink(plain.port, CONTENT, { ...encrypt, tls_required_enable: 'no' }, { tlsRequiredNo: true });
  assert.equal(c.res.outcomes[0].state, 'deferred');
  // With REQUIRETLS the header is ignored (RFC 8689 section 4.1).
  const d = await deliverToSink(plain.port, CONTENT, encrypt, { tlsRequiredNo: true, requiretls: true });
  assert.equal(d.res.outcomes[0].state, 'bounced');
  assert.equal(plain.messages.length, 1);
});

test('the REQUIRETLS decisions: demand, TLS plan and verdict', () => {
  const settings = { enable: true, policy: 'enforce' as const, tlsRequiredEnable: true };
  assert.equal(demandOf({ requiretls: true, tlsRequiredNo: true }, settings), 'enforce');
  assert.equal(demandOf({ tlsRequiredNo: true }, settings), 'tls-required-no');
  assert.equal(demandOf({}, settings), 'none');
  assert.equal(demandOf({ requiretls: true }, { ...settings, enable: false }), 'none');

  // A policy that verifies is kept; any other becomes secure with match=hostname.
  const dane = { level: 'dane' as const, source: 'dane' as const, match: [], tlsa: [{ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32) }] };
  assert.equal(requireTlsPolicy(dane, 'enforce'), dane);
  assert.deepEqual(requireTlsPolicy({ level: 'may', source: 'main.cf', match: [] }, 'enforce'), { level: 'secure', source: 'requiretls', match: ['hostname'] });
  assert.equal(requireTlsPolicy({ level: 'dane', source: 'dane', match: [] }, 'enforce').level, 'secure');
  assert.equal(requireTlsPolicy({ level: 'secure', source: 'mta-sts', match: ['mx.example'] }, 'tls-required-no').level, 'may');

  const may = { level: 'may' as const, source: 'main.cf' as const, match: [] };
  assert.equal(requireTlsPolicy(may, 'opportunistic+starttls').level, 'encrypt');
  assert.equal(requireTlsPolicy(may, 'none'), may);
  // Sessions for a demand are cached apart from ordinary ones.
  assert.equal(cacheTagOf('none'), '');
  assert.notEqual(cacheTagOf('enforce'), '');
  assert.notEqual(cacheTagOf('tls-required-no'), cacheTagOf('enforce'));

  const ok = { peer: 'mx[192.0.2.1]', relay: 'mx[192.0.2.1]:25', tls: true, verified: true, extensions: ['REQUIRETLS'] };
  assert.equal(sessionVerdict('enforce', ok), undefined);
  assert.equal(sessionVerdict('enforce', { ...ok, extensions: [] })?.dsn, '5.7.30');
  assert.equal(sessionVerdict('enforce', { ...ok, verified: false })?.dsn, '5.7.10');
  assert.equal(sessionVerdict('opportunistic+starttls', { ...ok, verified: false, extensions: [] }), undefined);
  assert.equal(sessionVerdict('opportunistic+starttls', { ...ok, tls: false })?.state, 'bounced');
  assert.equal(sessionVerdict('opportunistic', { ...ok, tls: false }), undefined);
});
