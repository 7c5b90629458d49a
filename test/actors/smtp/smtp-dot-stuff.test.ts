/**
 * The DATA escaping gives nodemailer's output byte for byte: random
 * contents made of CR, LF, dots and letters go through nodemailer's own
 * DataStream in random chunks, and through dotStuff chunk by chunk and
 * whole, ended as smtp-data ends it; the bytes must be equal, final "."
 * line included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Transform } from 'node:stream';
import { dotStuff } from '../../../src/actors/smtp/smtp-dot-stuff.js';
import { lineEndBeforeDot } from '../../../src/actors/smtp/smtp-data.js';
import { prng } from '../../helpers/prng.js';

const require = createRequire(import.meta.url);
// Not an exported path of nodemailer: reached by file, as the reference to compare with.
const DataStream = require(join(dirname(require.resolve('nodemailer')), 'smtp-connection', 'data-stream.js')) as { default?: new () => Transform } & (new () => Transform);
const Reference = (DataStream.default ?? DataStream) as new () => Transform;

/** nodemailer's bytes for the content in these chunks, its final "." line included. */
function reference(chunks: Buffer[]): Promise<Buffer> {
  const s = new Reference();
  const out: Buffer[] = [];
  s.on('data', (d: Buffer) => out.push(d));
  return new Promise((resolve, reject) => {
    s.on('end', () => resolve(Buffer.concat(out)));
    s.on('error', reject);
    for (const c of chunks) s.write(c);
    s.end();
  });
}

/** dotStuff over the chunks, each given the byte before it, ended as smtp-data ends a message. */
function ours(chunks: Buffer[]): Buffer {
  const out: Buffer[] = [];
  let last: number | false = false;
  for (const c of chunks) {
    if (!c.length) continue;
    out.push(dotStuff(c, last));
    last = c[c.length - 1];
  }
  const whole = Buffer.concat(chunks);
  return Buffer.concat([...out, Buffer.from(lineEndBeforeDot(whole) + '.\r\n', 'latin1')]);
}

/** What smtp-data sends: the whole content stuffed at once, then its end. */
function whole(chunks: Buffer[]): Buffer {
  const content = Buffer.concat(chunks);
  return Buffer.concat([dotStuff(content, false), Buffer.from(lineEndBeforeDot(content) + '.\r\n', 'latin1')]);
}

async function same(chunks: Buffer[], what: string): Promise<void> {
  const want = await reference(chunks);
  assert.deepEqual(ours(chunks), want, `in chunks: ${what}`);
  assert.deepEqual(whole(chunks), want, `whole: ${what}`);
}

test('dotStuff: lines starting with a dot are doubled, bare CR and LF become CRLF, a dot after a bare CR is doubled', () => {
  assert.equal(dotStuff(Buffer.from('a\r\n.b\r\n'), false).toString(), 'a\r\n..b\r\n');
  assert.equal(dotStuff(Buffer.from('.x'), false).toString(), '..x');
  assert.equal(dotStuff(Buffer.from('a\nb'), false).toString(), 'a\r\nb');
  assert.equal(dotStuff(Buffer.from('a\rb'), false).toString(), 'a\r\nb');
  assert.equal(dotStuff(Buffer.from('a\r.\r'), false).toString(), 'a\r\n..\r');
  // Across chunks: the byte before decides.
  assert.equal(dotStuff(Buffer.from('.y'), 0x0a).toString(), '..y');
  assert.equal(dotStuff(Buffer.from('.y'), 0x0d).toString(), '\n..y');
  assert.equal(dotStuff(Buffer.from('\ny'), 0x0d).toString(), '\ny');
  const clean = Buffer.from('nothing to change\r\nhere\r\n');
  assert.equal(dotStuff(clean, 0x0a), clean, 'an unchanged chunk is passed on, not copied');
});

test('dotStuff and the end smtp-data adds write what nodemailer writes, for 3,000 random contents in random chunks', async () => {
  const alphabet = [0x0d, 0x0a, 0x2e, 0x61, 0x62];
  for (let seed = 1; seed <= 3000; seed++) {
    const r = prng(seed);
    const len = Math.floor(r() * 120);
    const bytes = Buffer.alloc(len);
    for (let i = 0; i < len; i++) bytes[i] = alphabet[Math.floor(r() * alphabet.length)];
    const chunks: Buffer[] = [];
    for (let at = 0; at < len; ) {
      const n = 1 + Math.floor(r() * 9);
      chunks.push(bytes.subarray(at, at + n));
      at += n;
    }
    await same(chunks, `case ${seed}: ${JSON.stringify(bytes.toString('latin1'))}`);
  }
});

test('a 64 KiB message in 16 KiB chunks comes out as nodemailer writes it', async () => {
  const line = 'x'.repeat(70);
  const text = Array.from({ length: 900 }, (_, i) => (i % 7 === 0 ? '.' : '') + line + (i % 50 === 0 ? '\n' : '\r\n')).join('');
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 16384) chunks.push(bytes.subarray(at, at + 16384));
  await same(chunks, '64 KiB');
});

test('CRLF contents, now and then a dot at a line start, in random chunks: the one-scan pass-through and the long way give nodemailer\'s bytes', async () => {
  for (let seed = 1; seed <= 500; seed++) {
    const r = prng(seed * 7919);
    const lines = Array.from({ length: 1 + Math.floor(r() * 40) }, () => (r() < 0.1 ? '.' : '') + 'y'.repeat(Math.floor(r() * 30)));
    const bytes = Buffer.from(lines.join('\r\n') + (r() < 0.8 ? '\r\n' : ''));
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; ) {
      const n = 1 + Math.floor(r() * 200);
      chunks.push(bytes.subarray(at, at + n));
      at += n;
    }
    await same(chunks, `case ${seed}: ${JSON.stringify(bytes.toString('latin1'))}`);
  }
});
