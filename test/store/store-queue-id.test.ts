/** Tests of queue ids: shape, arrival order, uniqueness across threads and restarts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueueIdGenerator, queueIdTime } from '../../src/store/store-queue-id.js';

test('ids are 12 base62 characters and sort by arrival time', () => {
  const g = new QueueIdGenerator(5);
  const ids: string[] = [];
  for (let t = 1_700_000_000_000; t < 1_700_000_000_000 + 5000; t += 7) ids.push(g.next(t), g.next(t));
  for (const id of ids) assert.match(id, /^[0-9A-Za-z]{12}$/);
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(queueIdTime(ids[0]), 1_700_000_000_000);
});

test('two generators with different salts never collide, even in the same millisecond', () => {
  const a = new QueueIdGenerator(0);
  const b = new QueueIdGenerator(63);
  const seen = new Set<string>();
  for (let i = 0; i < 20000; i++) {
    const t = 1_700_000_000_000 + (i >> 8);
    seen.add(a.next(t));
    seen.add(b.next(t));
  }
  assert.equal(seen.size, 40000);
});

test('a clock that steps back does not reuse or reorder ids', () => {
  const g = new QueueIdGenerator(1);
  const first = g.next(2_000_000_000_000);
  const second = g.next(1_999_999_999_000);
  assert.ok(second > first);
});

test('a restarted generator (new instance, later clock) gives later ids', async () => {
  const before = new QueueIdGenerator(3);
  const ids = Array.from({ length: 1000 }, () => before.next());
  await new Promise((r) => setTimeout(r, 5));
  const after = new QueueIdGenerator(3).next();
  assert.ok(ids.every((id) => id < after));
  assert.equal(new Set(ids).size, ids.length);
});

test('a salt outside 0..3843 is refused', () => {
  assert.throws(() => new QueueIdGenerator(-1), RangeError);
  assert.throws(() => new QueueIdGenerator(1.5), RangeError);
});

test('an id spells its millisecond, sequence and salt in base62, digit by digit', () => {
  const digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const base62 = (n: number, width: number): string => {
    let s = '';
    for (let i = 0; i < width; i++) {
      s = digits[n % 62] + s;
      n = Math.floor(n / 62);
    }
    return s;
  };
  const g = new QueueIdGenerator(62 * 7 + 61);
  const t = 1_764_000_000_123;
  for (let seq = 0; seq < 5000; seq++) assert.equal(g.next(t), base62(t, 7) + base62(seq, 3) + '7z');
  assert.equal(g.next(t + 1), `${base62(t + 1, 7)}000${'7z'}`);
});
