/** Tests of the journal frame: round trip, and each way a frame can be damaged. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { crc32Range, encodeFrame, scanFrame, FRAME_HEADER } from '../../src/store/store-frame.js';

function flat(kind: number, meta: Buffer, blob?: Buffer): Buffer {
  const f = encodeFrame(kind, meta, blob);
  return Buffer.concat(f.blob ? [f.head, f.blob] : [f.head]);
}

test('a frame round-trips kind, meta and blob, and zeros after it read as the end', () => {
  const meta = Buffer.from('meta-bytes');
  const blob = Buffer.from('the content of a message');
  const buf = Buffer.concat([flat(7, meta, blob), Buffer.alloc(64)]);
  const f = scanFrame(buf, 0);
  assert.equal(f.status, 'ok');
  if (f.status !== 'ok') return;
  assert.equal(f.kind, 7);
  assert.deepEqual(buf.subarray(f.metaStart, f.metaEnd), meta);
  assert.deepEqual(buf.subarray(f.blobOffset, f.blobOffset + f.blobLength), blob);
  assert.equal(encodeFrame(7, meta, blob).blobOffset, f.blobOffset);
  assert.equal(scanFrame(buf, f.end).status, 'end');
  assert.equal(scanFrame(buf, buf.length).status, 'end');
});

test('a flipped body bit fails the checksum but keeps the frame end', () => {
  const one = flat(1, Buffer.from('abc'), Buffer.from('xyz'));
  const buf = Buffer.concat([one, one]);
  buf[FRAME_HEADER + 6] ^= 0x10;
  const f = scanFrame(buf, 0);
  assert.equal(f.status, 'bad-crc');
  if (f.status === 'bad-crc') {
    assert.equal(f.end, one.length);
    assert.equal(scanFrame(buf, f.end).status, 'ok');
  }
});

test('a flipped length bit is a bad length, a cut frame is short', () => {
  const one = flat(1, Buffer.from('abc'), Buffer.alloc(100, 1));
  const flipped = Buffer.from(one);
  flipped[1] ^= 0x01;
  assert.equal(scanFrame(flipped, 0).status, 'bad-length');
  assert.equal(scanFrame(one.subarray(0, one.length - 10), 0).status, 'short');
  assert.equal(scanFrame(one.subarray(0, 5), 0).status, 'short');
});

test('the head checksum in JavaScript is zlib crc32, and zlib continues it over the blob', () => {
  const buf = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 131 + 7) & 0xff));
  for (const [from, to] of [[0, 0], [0, 1], [5, 300], [12, 3000]]) {
    assert.equal(crc32Range(buf, from, to), crc32(buf.subarray(from, to)));
  }
  assert.equal(crc32(buf.subarray(300), crc32Range(buf, 12, 300)), crc32(buf.subarray(12)));
});
