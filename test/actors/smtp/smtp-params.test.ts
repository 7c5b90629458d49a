/** smtp-params: the client's parameters as read, with Postfix's defaults. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSmtpParams } from '../../../src/actors/smtp/smtp-params.js';
import { makeConfig } from './smtp-test-kit.js';

const COMMAND_TIMEOUTS = ['smtp_mail_timeout', 'smtp_rcpt_timeout', 'smtp_data_init_timeout', 'smtp_data_xfer_timeout', 'smtp_data_done_timeout', 'smtp_rset_timeout'];

test('per-command timeouts: nodemailer has one inactivity timer, so the longest of them governs every command', () => {
  // Postfix's defaults: smtp_data_done_timeout (600s) is the longest.
  assert.equal(readSmtpParams(makeConfig()).commandTimeout, 600_000);
  for (const name of COMMAND_TIMEOUTS) {
    assert.equal(readSmtpParams(makeConfig({ [name]: '900s' })).commandTimeout, 900_000, name);
  }
  const short = Object.fromEntries(COMMAND_TIMEOUTS.map((n) => [n, '5s']));
  assert.equal(readSmtpParams(makeConfig({ ...short, smtp_rcpt_timeout: '7s' })).commandTimeout, 7000);
  assert.equal(readSmtpParams(makeConfig({ smtp_helo_timeout: '42s' })).heloTimeout, 42_000);
});

test('smtp_connect_timeout is the TCP connect timeout', () => {
  assert.equal(readSmtpParams(makeConfig()).connectTimeout, 30_000);
  assert.equal(readSmtpParams(makeConfig({ smtp_connect_timeout: '3s' })).connectTimeout, 3000);
});

test('smtp_tls_security_level: each of Postfix\'s eight levels is kept as written; the match lists and digests take Postfix\'s defaults', () => {
  for (const level of ['none', 'may', 'encrypt', 'dane', 'dane-only', 'fingerprint', 'verify', 'secure']) {
    assert.equal(readSmtpParams(makeConfig({ smtp_tls_security_level: level.toUpperCase() })).tlsLevel, level);
  }
  const p = readSmtpParams(makeConfig());
  assert.equal(p.tlsLevel, 'none');
  assert.deepEqual(p.tlsVerifyMatch, ['hostname']);
  assert.deepEqual(p.tlsSecureMatch, ['nexthop', 'dot-nexthop']);
  assert.equal(p.tlsFingerprintDigest, 'sha256');
  assert.equal(p.dnssec, false);
  assert.deepEqual(readSmtpParams(makeConfig({ smtp_tls_secure_cert_match: 'nexthop:.example.com' })).tlsSecureMatch, ['nexthop', '.example.com']);
  assert.equal(readSmtpParams(makeConfig({ smtp_dns_support_level: 'dnssec' })).dnssec, true);
});
