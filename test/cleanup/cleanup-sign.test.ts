/**
 * cleanup-sign: DKIM signatures made by cleanup, checked by an independent
 * verifier (python3-dkim) and by mailauth's; which mail is signed
 * (dkim_sign_local_only, the SigningTable by address then domain); the
 * signature's parameters (dkim_canonicalization, dkim_signed_headers).
 */
process.env.TZ = 'UTC';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimVerify } from 'mailauth';
import type { Cleanup } from '../../src/cleanup/cleanup.js';
import { logLines, makeCleanup, queued, smtpInput } from './cleanup-fixture.js';
import { dkimpySkip, dkimpyVerify, ed25519Key, rsaKey, type TestKey } from '../helpers/dkim-tools.js';

let dir: string;
let rsa: TestKey;
let ed: TestKey;
const open: Cleanup[] = [];

const MESSAGE = 'From: Alice <alice@sender.example>\r\nTo: bob@rcpt.example\r\nSubject: signed\r\nDate: Sat, 28 Nov 2026 20:31:07 +0000\r\nMessage-ID: <1@sender.example>\r\n\r\nHello,\r\nthis body is signed.\r\n';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cleanup-sign-'));
  rsa = rsaKey(2048);
  ed = ed25519Key();
  await writeFile(join(dir, 'rsa.pem'), rsa.pem);
  await writeFile(join(dir, 'ed.pem'), ed.pem);
  await writeFile(
    join(dir, 'keytable'),
    'rsa._domainkey.sender.example sender.example:rsa:rsa.pem\ned._domainkey.sender.example sender.example:ed:ed.pem\nboss._domainkey.sender.example sender.example:boss:rsa.pem\n',
  );
  await writeFile(join(dir, 'signingtable'), 'sender.example rsa._domainkey.sender.example\nboss@sender.example boss._domainkey.sender.example\ned.example ed._domainkey.sender.example\n');
  await writeFile(join(dir, 'signingtable-ed'), 'sender.example ed._domainkey.sender.example\n');
  await writeFile(join(dir, 'signingtable-both'), 'sender.example rsa._domainkey.sender.example, ed._domainkey.sender.example\n');
});

after(async () => {
  for (const c of open) await c.close();
  await rm(dir, { recursive: true, force: true });
});

function cleanup(params: Record<string, string>): Cleanup {
  const c = makeCleanup({ dkim_key_table: 'texthash:keytable', dkim_signing_table: 'texthash:signingtable', dkim_sign_local_only: 'no', ...params }, dir);
  open.push(c);
  return c;
}

function records(): Record<string, string> {
  return { 'rsa._domainkey.sender.example': rsa.record, 'ed._domainkey.sender.example': ed.record, 'boss._domainkey.sender.example': rsa.record };
}

/** mailauth's verdicts, one per signature, with the test's records as DNS. */
async function mailauthVerdicts(message: Buffer): Promise<string[]> {
  const txt = records();
  const resolver = async (name: string, type: string): Promise<string[][]> => {
    const r = txt[name.toLowerCase()];
    if (type !== 'TXT' || !r) throw Object.assign(new Error(`no ${type} for ${name}`), { code: 'ENOTFOUND' });
    return [[r]];
  };
  const result = await dkimVerify(message, { resolver: resolver as never });
  return result.results.map((r) => `${r.signingDomain}/${r.selector}:${r.status.result}`);
}

test('an RSA 2048 signature over the message as queued verifies with python3-dkim and with mailauth; one signature per message', { skip: dkimpySkip }, async () => {
  const m = queued(await cleanup({}).process(smtpInput(MESSAGE)));
  const text = Buffer.from(m.content);
  assert.match(text.toString(), /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=sender\.example;(.|\r\n)*\r\nReceived: from mail\.sender\.example/);
  assert.equal(text.toString().match(/^DKIM-Signature:/gm)?.length, 1);
  assert.equal(m.headerLength, text.indexOf('\r\n\r\n') + 4);
  assert.equal(dkimpyVerify(text, records()), true);
  assert.deepEqual(await mailauthVerdicts(text), ['sender.example/rsa:pass']);
  assert.ok(logLines.some((l) => l.includes('4ZxYqT1abcDEF: DKIM-Signature field added (s=rsa, d=sender.example)')));
  // The signature covers what the store keeps: a changed body no longer verifies.
  const tampered = Buffer.from(text.toString().replace('this body is signed', 'this body is changed'));
  assert.equal(dkimpyVerify(tampered, records()), false);
});

test('an Ed25519 signature verifies with python3-dkim and with mailauth; a table entry may name two keys', { skip: dkimpySkip }, async () => {
  const m = queued(await cleanup({ dkim_signing_table: 'texthash:signingtable-ed' }).process(smtpInput(MESSAGE)));
  const text = Buffer.from(m.content);
  assert.match(text.toString(), /^DKIM-Signature: v=1; a=ed25519-sha256;/);
  assert.equal(dkimpyVerify(text, records()), true);
  assert.deepEqual(await mailauthVerdicts(text), ['sender.example/ed:pass']);
  const both = Buffer.from(queued(await cleanup({ dkim_signing_table: 'texthash:signingtable-both' }).process(smtpInput(MESSAGE))).content);
  assert.equal(both.toString().match(/^DKIM-Signature:/gm)?.length, 2);
  assert.deepEqual((await mailauthVerdicts(both)).sort(), ['sender.example/ed:pass', 'sender.example/rsa:pass']);
  assert.equal(dkimpyVerify(both, records(), 0), true);
  assert.equal(dkimpyVerify(both, records(), 1), true);
});

test('the SigningTable is looked up by the From: address, then its domain; an unlisted author is not signed', async () => {
  const c = cleanup({});
  const boss = Buffer.from(queued(await c.process(smtpInput(MESSAGE.replace('alice@sender.example', 'boss@sender.example')))).content).toString();
  assert.match(boss, /^DKIM-Signature: [^]*s=boss;/);
  const other = Buffer.from(queued(await c.process(smtpInput(MESSAGE.replace('alice@sender.example', 'alice@elsewhere.example')))).content).toString();
  assert.doesNotMatch(other, /DKIM-Signature/);
});

test('dkim_sign_local_only = yes signs mail from mynetworks, SASL clients and sendmail only', async () => {
  const c = cleanup({ dkim_sign_local_only: 'yes', mynetworks: '127.0.0.0/8' });
  const signed = (r: Awaited<ReturnType<Cleanup['process']>>): boolean => Buffer.from(queued(r).content).toString().startsWith('DKIM-Signature:');
  assert.equal(signed(await c.process(smtpInput(MESSAGE))), false, 'a remote client outside mynetworks');
  assert.equal(signed(await c.process(smtpInput(MESSAGE, { client: { name: 'localhost', addr: '127.0.0.1', protocol: 'ESMTP' } }))), true, 'mynetworks');
  assert.equal(signed(await c.process(smtpInput(MESSAGE, { client: { name: 'x', addr: '192.0.2.10', protocol: 'ESMTPSA', saslUser: 'alice' } }))), true, 'SASL');
  assert.equal(signed(await c.process(smtpInput(MESSAGE, { local: true }))), true, 'sendmail');
});

test('dkim_canonicalization and dkim_signed_headers shape the signature, which still verifies', { skip: dkimpySkip }, async () => {
  const m = queued(await cleanup({ dkim_canonicalization: 'simple/simple', dkim_signed_headers: 'From, Subject' }).process(smtpInput(MESSAGE)));
  const text = Buffer.from(m.content);
  const sig = /^DKIM-Signature:((?:[^\r]|\r\n[ \t])*)/.exec(text.toString())![1].replace(/\r\n\s*/g, '');
  assert.match(sig, /c=simple\/simple;/);
  const h = /h=([^;]*);/.exec(sig)![1].split(':').map((n) => n.trim().toLowerCase());
  assert.deepEqual(h.sort(), ['from', 'subject']);
  assert.equal(dkimpyVerify(text, records()), true);
  // With only From and Subject signed, a changed To: still verifies; a changed Subject does not.
  assert.equal(dkimpyVerify(Buffer.from(text.toString().replace('To: bob@', 'To: eve@')), records()), true);
  assert.equal(dkimpyVerify(Buffer.from(text.toString().replace('Subject: signed', 'Subject: forged')), records()), false);
});

test('a key file that is missing stops cleanup from starting, naming the file', () => {
  assert.throws(() => makeCleanup({ dkim_key_table: 'inline:{ k=sender.example:k:missing.pem }', dkim_signing_table: 'inline:{ sender.example=k }' }, dir), (err: Error) => {
    assert.match(err.message, /dkim_key_table: cannot read key file .*missing\.pem: ENOENT/);
    return true;
  });
});
