/**
 * cleanup-content: line-end normalisation and the header/body split.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headerValue, normalizeLineEnds, splitMessage, unfoldHeader } from '../../src/cleanup/cleanup-content.js';

test('normalizeLineEnds leaves CRLF input as the same bytes and fixes bare LF only', () => {
  const crlf = Buffer.from('a\r\nb\r\n');
  assert.equal(normalizeLineEnds(crlf), crlf);
  assert.equal(normalizeLineEnds(Buffer.from('\na\nb\r\nc\rd\n')).toString(), '\r\na\r\nb\r\nc\rd\r\n');
  assert.equal(normalizeLineEnds(new Uint8Array(Buffer.from('x\n'))).toString(), 'x\r\n');
});

test('splitMessage finds headers, folded lines and the body', () => {
  const buf = Buffer.from('Subject: a\r\n b\r\nX-Y : z\r\nTo:\r\n\r\nbody\r\n');
  const s = splitMessage(buf, 102400);
  assert.deepEqual(s.headers.map((h) => h.name), ['subject', 'x-y', 'to']);
  assert.equal(unfoldHeader(buf, s.headers[0]), 'Subject: a b');
  assert.equal(headerValue(buf, s.headers[1]), 'z');
  assert.equal(buf.subarray(s.bodyStart).toString(), 'body\r\n');
  assert.equal(s.headerEnd, buf.indexOf('\r\n\r\n') + 2);
});

test('splitMessage: a leading continuation or a non-header line starts the body', () => {
  const a = Buffer.from(' leading space\r\nSubject: x\r\n');
  assert.deepEqual(splitMessage(a, 102400), { headers: [], headerEnd: 0, bodyStart: 0 });
  const b = Buffer.from('Subject: x\r\nFrom x@y Mon\r\n');
  const s = splitMessage(b, 102400);
  assert.equal(s.headers.length, 1);
  assert.equal(b.subarray(s.bodyStart).toString(), 'From x@y Mon\r\n');
});

test('splitMessage: a folded header crossing header_size_limit goes to the body whole', () => {
  const buf = Buffer.from('A: 1\r\nB: 2\r\n 3333333333\r\n\r\nz');
  const s = splitMessage(buf, 16);
  assert.deepEqual(s.headers.map((h) => h.name), ['a']);
  assert.equal(buf.subarray(s.bodyStart).toString(), 'B: 2\r\n 3333333333\r\n\r\nz');
});
