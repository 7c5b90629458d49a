/**
 * hasBareLineEnd: one regular-expression scan says whether any CR or LF
 * stands outside a CRLF pair, as a look at every byte would; and the
 * normalisers that rely on it still turn each bare LF into CRLF.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasBareLineEnd, normalizeBareLF } from '../../src/util/line-ends.js';
import { prngInt } from '../helpers/prng.js';
import { normalizeLineEnds } from '../../src/cleanup/cleanup-content.js';

function byteLook(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x0d && buf[i + 1] !== 0x0a) return true;
    if (buf[i] === 0x0a && (i === 0 || buf[i - 1] !== 0x0d)) return true;
  }
  return false;
}

test('hasBareLineEnd agrees with a byte-by-byte look on 5,000 random contents, 8-bit bytes included', () => {
  const alphabet = [0x0d, 0x0a, 0x0d, 0x0a, 0x61, 0xe9, 0xff, 0x00];
  const rnd = prngInt(99);
  for (let round = 0; round < 5000; round++) {
    const buf = Buffer.from(Array.from({ length: rnd(24) }, () => alphabet[rnd(alphabet.length)]));
    assert.equal(hasBareLineEnd(buf), byteLook(buf), JSON.stringify(buf.toString('latin1')));
  }
  assert.equal(hasBareLineEnd(Buffer.from('a\r\nb\r\n')), false);
  assert.equal(hasBareLineEnd(Buffer.from('a\r\nb\r')), true);
});

test('the normalisers pass CRLF content through as the same bytes and still fix a bare LF', () => {
  const crlf = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  assert.equal(normalizeLineEnds(crlf), crlf);
  assert.equal(normalizeBareLF(crlf), crlf);
  assert.equal(normalizeLineEnds(Buffer.from('a\nb\r\nc\rd\n')).toString('latin1'), 'a\r\nb\r\nc\rd\r\n');
  assert.equal(normalizeBareLF(Buffer.from('\nb\r\n')).toString('latin1'), '\r\nb\r\n');
  assert.equal(normalizeBareLF(Buffer.from('\nb'), true).toString('latin1'), '\nb');
});
