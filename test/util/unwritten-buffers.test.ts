import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unwrittenBuffers } from '../../src/util/unwritten-buffers.js';

test('what a short gathered write leaves: whole buffers dropped, the partly written one sliced, nothing copied', () => {
  const a = Buffer.from('abc');
  const b = Buffer.from('defg');
  const c = Buffer.from('hi');
  assert.deepEqual(unwrittenBuffers([a, b, c], 0).map(String), ['abc', 'defg', 'hi']);
  assert.deepEqual(unwrittenBuffers([a, b, c], 3).map(String), ['defg', 'hi']);
  const left = unwrittenBuffers([a, b, c], 5);
  assert.deepEqual(left.map(String), ['fg', 'hi']);
  assert.equal(left[0].buffer, b.buffer, 'a view of the caller\'s buffer, not a copy');
  assert.deepEqual(unwrittenBuffers([a, b, c], 9), []);
});
