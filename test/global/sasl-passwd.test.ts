/** sasl-passwd: scrypt hashes, verification (with the dummy hash for unknown users), the saslpasswd file helper, and AUTH over sockets: failures, security options. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dummyHash, hashSecret, saslAddUser, SaslFileError, verifyLogin, verifySecret, verifySecretAsync } from '../../src/global/sasl-passwd.js';
import { readSmtpdSettings } from '../../src/actors/smtpd/smtpd-settings.js';
import { MainConfig } from '../../src/config/main-config.js';
import { makeTestCert } from '../helpers/tls-cert.js';
import { ehloSession, logLines, startSmtpd, starttls, until } from '../actors/smtpd/smtpd-test-kit.js';

test('hashSecret makes salted scrypt hashes that verifySecret accepts for the right secret only', async () => {
  const a = hashSecret('s3cret');
  const b = hashSecret('s3cret');
  assert.match(a, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  assert.notEqual(a, b, 'salted');
  assert.equal(verifySecret('s3cret', a), true);
  assert.equal(verifySecret('s3cret!', a), false);
  assert.equal(await verifySecretAsync('s3cret', b), true);
  assert.equal(await verifySecretAsync('nope', b), false);
});

test('malformed or hostile hashes never match and never throw', async () => {
  for (const bad of ['', 'plain', 'scrypt$1$8$1$aa$bb', 'scrypt$99999999$8$1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==', 'scrypt$16384$8$1$$', 'md5$x']) {
    assert.equal(verifySecret('x', bad), false, bad);
    assert.equal(await verifySecretAsync('x', bad), false, bad);
  }
});

test('saslAddUser appends, replaces, keeps other lines, and writes mode 0600', () => {
  const dir = mkdtempSync(join(tmpdir(), 'saslpasswd-'));
  const file = join(dir, 'sasl_passwd');
  writeFileSync(file, '# users\nbob scrypt$1$1$1$x$y\n');
  saslAddUser(file, 'alice', 'one');
  saslAddUser(file, 'alice', 'two');
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(lines[0], '# users');
  assert.equal(lines[1], 'bob scrypt$1$1$1$x$y');
  assert.equal(lines.filter((l) => l.startsWith('alice ')).length, 1);
  const hash = lines.find((l) => l.startsWith('alice '))!.split(' ')[1];
  assert.equal(verifySecret('two', hash), true);
  assert.equal(verifySecret('one', hash), false);
  const fresh = join(dir, 'new_passwd');
  saslAddUser(fresh, 'carol', 'x');
  assert.equal(statSync(fresh).mode & 0o777, 0o600);
  assert.throws(() => saslAddUser(file, 'bad user', 'x'), (e: unknown) => e instanceof SaslFileError && e.code === 'ERR_SASL_FILE');
});

test('verifyLogin: an unknown user, or an unusable hash, costs the same scrypt run as a known one', async () => {
  const table = new Map([['alice', hashSecret('right')], ['broken', 'scrypt$not-a-hash']]);
  const calls: string[] = [];
  // The real verification, counted: both paths must reach it exactly once, with a hash of the same cost.
  const counted = (secret: string, hash: string): Promise<boolean> => {
    calls.push(hash);
    return verifySecretAsync(secret, hash);
  };
  const lookup = (user: string): string | undefined => table.get(user);
  assert.equal(await verifyLogin(lookup, 'alice', 'right', counted), true);
  assert.equal(await verifyLogin(lookup, 'alice', 'wrong', counted), false);
  assert.equal(await verifyLogin(lookup, 'mallory', 'right', counted), false);
  assert.equal(await verifyLogin(lookup, 'broken', 'right', counted), false);
  assert.equal(await verifyLogin(lookup, '', 'right', counted), false);
  assert.equal(calls.length, 5, 'one key derivation per attempt, hit or miss');
  const cost = (h: string): string => h.split('$').slice(0, 4).join('$');
  assert.deepEqual(calls.map(cost), Array(5).fill(cost(table.get('alice')!)));
  assert.equal(calls[2], dummyHash());
  assert.equal(calls[3], dummyHash());
  assert.equal(dummyHash(), dummyHash(), 'made once');
  assert.equal(await verifySecretAsync('right', dummyHash()), false, 'the dummy matches no secret a client knows');
});

test('AUTH: an unknown user and a wrong secret get the same reply; failures count as errors (tarpit, then 421)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smtpd-sasl-'));
  saslAddUser(join(dir, 'sasl_passwd'), 'alice@test.example', 'correct horse');
  const h = await startSmtpd(
    {
      mynetworks: '192.0.2.0/24',
      smtpd_sasl_auth_enable: 'yes',
      smtpd_tls_auth_only: 'no',
      smtpd_sasl_password_maps: 'texthash:sasl_passwd',
      smtpd_soft_error_limit: '100',
      smtpd_hard_error_limit: '3',
    },
    dir,
  );
  try {
    const c = await ehloSession(h.port);
    const plain = (u: string, p: string): string => `AUTH PLAIN ${Buffer.from(`\0${u}\0${p}`).toString('base64')}`;
    const failed = '535 5.7.8 Error: authentication failed: authentication failure';
    assert.equal(await c.cmd(plain('alice@test.example', 'guess')), failed);
    assert.equal(await c.cmd(plain('nobody@test.example', 'guess')), failed);
    assert.equal(await c.cmd('AUTH CRAM-MD5'), '535 5.7.8 Error: authentication failed: no mechanism available');
    assert.equal(await c.cmd(plain('alice@test.example', 'correct horse')), '421 4.7.0 mx.test.example Error: too many errors');
    assert.ok(await c.closedByServer());
    await until(() => logLines.some((l) => l.includes('localhost[127.0.0.1]: SASL PLAIN authentication failed: authentication failure')));
  } finally {
    await h.stop();
  }
});

test('smtpd_sasl_security_options = noplaintext: no AUTH without TLS; smtpd_sasl_tls_security_options brings it back over TLS', async () => {
  const cert = makeTestCert('localhost');
  const dir = mkdtempSync(join(tmpdir(), 'smtpd-sasl-'));
  saslAddUser(join(dir, 'sasl_passwd'), 'alice@test.example', 'correct horse');
  const base = {
    mynetworks: '192.0.2.0/24',
    smtpd_sasl_auth_enable: 'yes',
    smtpd_tls_auth_only: 'no',
    smtpd_sasl_password_maps: 'texthash:sasl_passwd',
    smtpd_sasl_security_options: 'noanonymous, noplaintext',
    smtpd_tls_security_level: 'may',
    smtpd_tls_cert_file: cert.certFile,
    smtpd_tls_key_file: cert.keyFile,
  };
  const token = `AUTH PLAIN ${Buffer.from('\0alice@test.example\0correct horse').toString('base64')}`;
  const h = await startSmtpd({ ...base, smtpd_sasl_tls_security_options: 'noanonymous' }, dir);
  try {
    const c = await ehloSession(h.port);
    const ehlo = (await c.cmd('EHLO client.test.example'))!;
    assert.ok(!ehlo.includes('AUTH'), ehlo);
    assert.equal(await c.cmd(token), '503 5.5.1 Error: authentication not enabled');
    c.close();
    const t = await starttls(h.port, cert.cert);
    assert.ok((await t.cmd('EHLO client.test.example')).includes('AUTH PLAIN LOGIN'));
    assert.equal(await t.cmd(token), '235 2.7.0 Authentication successful');
    t.close();
  } finally {
    await h.stop();
  }
  // smtpd_sasl_tls_security_options defaults to $smtpd_sasl_security_options: no plaintext mechanism over TLS either.
  const n = await startSmtpd(base, dir);
  try {
    const t = await starttls(n.port, cert.cert);
    assert.ok(!(await t.cmd('EHLO client.test.example')).includes('AUTH'));
    assert.equal(await t.cmd(token), '503 5.5.1 Error: authentication not enabled');
    t.close();
    await until(() => logLines.some((l) => l.includes('smtpd_sasl_security_options rule out PLAIN and LOGIN')));
  } finally {
    await n.stop();
  }
  assert.throws(() => readSmtpdSettings(new MainConfig({ smtpd_sasl_security_options: 'noanonymous, nosuchthing' }, dir)), /unknown SASL security option "nosuchthing"/);
});
