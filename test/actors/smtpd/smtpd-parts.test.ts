/** The small pieces: reply parsing, bare LF scanning and normalising, DNSBL names, listen addresses. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReply, smtpError, smtpReply } from '../../../src/util/smtp-reply.js';
import { hasBareLF } from '../../../src/actors/smtpd/smtpd-connection.js';
import { MessageCollector } from '../../../src/actors/smtpd/smtpd-message.js';
import { normalizeBareLF } from '../../../src/util/line-ends.js';
import { rblQueryName } from '../../../src/actors/smtpd/smtpd-dns.js';
import { parseListenAddress } from '../../../src/actors/smtpd/smtpd.js';
import { MainConfig } from '../../../src/config/main-config.js';
import { SpoolFile } from '../../../src/store/store-spool.js';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('smtpReply / smtpError / parseReply keep codes and enhanced codes together', () => {
  assert.equal(smtpReply(554, '5.7.1', 'Relay access denied'), '554 5.7.1 Relay access denied');
  const e = smtpError(450, '4.1.8', 'Domain not found');
  assert.equal(e.responseCode, 450);
  assert.equal(e.message, '4.1.8 Domain not found');
  assert.equal(e.reply, '450 4.1.8 Domain not found');
  assert.equal(e.code, 'ERR_SMTP_REPLY');
  assert.deepEqual(parseReply('550 5.7.0 No spam'), { code: 550, dsn: '5.7.0', text: 'No spam' });
  assert.deepEqual(parseReply('450 try later'), { code: 450, dsn: '4.7.1', text: 'try later' });
  assert.deepEqual(parseReply('550 4.7.0 mismatched class'), { code: 550, dsn: '5.7.1', text: '4.7.0 mismatched class' });
  assert.equal(parseReply('REJECT'), undefined);
  assert.equal(parseReply('250 ok'), undefined);
});

test('hasBareLF finds LF without CR, also across chunk boundaries', () => {
  assert.equal(hasBareLF(Buffer.from('a\r\nb\r\n'), false), false);
  assert.equal(hasBareLF(Buffer.from('a\nb'), false), true);
  assert.equal(hasBareLF(Buffer.from('\nb'), true), false);
  assert.equal(hasBareLF(Buffer.from('\nb'), false), true);
  assert.equal(hasBareLF(Buffer.from('a\r\rb'), false), false);
});

test('normalizeBareLF turns bare LF into CRLF and leaves CRLF and bare CR alone', () => {
  const same = Buffer.from('a\r\nb\r\n');
  assert.equal(normalizeBareLF(same), same);
  assert.equal(normalizeBareLF(Buffer.from('\na\nb\r\nc\rd\n')).toString(), '\r\na\r\nb\r\nc\rd\r\n');
  const m = new MessageCollector(5);
  m.add(Buffer.from('abc'));
  m.add(Buffer.from('def'));
  assert.equal(m.oversized, true);
});

test('past the spool threshold the collector writes to a spool file, bare LF normalised across chunks; over the limit it deletes the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smtpd-spool-'));
  try {
    const m = new MessageCollector(1000, true, { threshold: 8, create: () => SpoolFile.create(dir, 'Q1') });
    // A CR ending one chunk and the LF opening the next are one line end; an LF after LF is bare.
    for (const c of ['Subject: x\r', '\n\nbody\r', '\nline\n', '\n', 'end\r\n']) m.add(Buffer.from(c));
    assert.ok(m.spooled);
    assert.equal(m.content().length, 0);
    assert.equal(await m.spooled.finish(), 33);
    assert.equal(readFileSync(join(dir, 'spool', 'Q1'), 'latin1'), 'Subject: x\r\n\r\nbody\r\nline\r\n\r\nend\r\n');
    const big = new MessageCollector(20, true, { threshold: 8, create: () => SpoolFile.create(dir, 'Q2') });
    big.add(Buffer.alloc(15, 0x61));
    const spool = big.spooled;
    assert.ok(spool);
    big.add(Buffer.alloc(15, 0x62));
    assert.equal(big.oversized, true);
    assert.equal(big.spooled, undefined);
    await spool.abort();
    assert.deepEqual(readdirSync(join(dir, 'spool')), ['Q1']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DNSBL query names and listen addresses', () => {
  assert.equal(rblQueryName('192.0.2.1', 'zen.example'), '1.2.0.192.zen.example');
  assert.equal(rblQueryName('::ffff:10.0.0.1', 'l.test'), '1.0.0.10.l.test');
  assert.equal(rblQueryName('2001:db8::1', 'l.test'), '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.l.test');
  const cfg = new MainConfig({ inet_interfaces: 'loopback-only' }, '/');
  assert.deepEqual(parseListenAddress('127.0.0.1:2525', cfg), { host: '127.0.0.1', port: 2525 });
  assert.deepEqual(parseListenAddress('[::1]:25', cfg), { host: '::1', port: 25 });
  assert.deepEqual(parseListenAddress('2525', cfg), { host: '127.0.0.1', port: 2525 });
  assert.deepEqual(parseListenAddress('smtp', new MainConfig({ inet_interfaces: 'all' }, '/')), { host: undefined, port: 25 });
  // inet_protocols = ipv4: every interface, IPv4 only.
  assert.deepEqual(parseListenAddress('smtp', new MainConfig({ inet_interfaces: 'all', inet_protocols: 'ipv4' }, '/')), { host: '0.0.0.0', port: 25 });
  assert.throws(() => parseListenAddress('nonsense', cfg), (e: { code?: string }) => e.code === 'ERR_SMTPD_CONFIG');
});
