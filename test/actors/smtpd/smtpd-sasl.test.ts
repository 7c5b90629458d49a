/** smtpd-sasl: scrypt hashes, verification, and the saslpasswd file helper. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashSecret, saslAddUser, SaslFileError, verifySecret, verifySecretAsync } from '../../../src/actors/smtpd/smtpd-sasl.js';

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
