/**
 * fuzz-prng: a case is a pure function of its seed, so the generator must
 * give the same sequence for the same seed on every run, different ones for
 * different seeds, and stay in the ranges it promises.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { caseSeed, formatSeed, parseSeed, Prng } from '../../perf/fuzz/fuzz-prng.js';

test('the same seed gives the same sequence, another seed another', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const c = new Prng(43);
  const seqA = Array.from({ length: 50 }, () => a.next());
  const seqB = Array.from({ length: 50 }, () => b.next());
  const seqC = Array.from({ length: 50 }, () => c.next());
  assert.deepEqual(seqA, seqB);
  assert.notDeepEqual(seqA, seqC);
  assert.ok(seqA.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff));
});

test('int, range and pick stay in bounds and reach every value', () => {
  const r = new Prng(7);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const x = r.int(10);
    assert.ok(x >= 0 && x < 10);
    seen.add(x);
    const y = r.range(-3, 3);
    assert.ok(y >= -3 && y <= 3);
  }
  assert.equal(seen.size, 10);
  assert.equal(r.int(0), 0);
  assert.equal(r.int(1), 0);
  const picked = new Set(Array.from({ length: 200 }, () => r.pick(['a', 'b', 'c'])));
  assert.deepEqual([...picked].sort(), ['a', 'b', 'c']);
});

test('weighted choices follow their weights and never pick a zero weight', () => {
  const r = new Prng(9);
  const counts = { a: 0, b: 0, z: 0 };
  for (let i = 0; i < 10_000; i++) counts[r.weighted<'a' | 'b' | 'z'>([[90, 'a'], [10, 'b'], [0, 'z']])]++;
  assert.equal(counts.z, 0);
  assert.ok(counts.a > 8500 && counts.a < 9500, JSON.stringify(counts));
});

test('case seeds of one campaign differ, and depend on the campaign seed', () => {
  const seeds = new Set(Array.from({ length: 1000 }, (_, i) => caseSeed(1, i)));
  assert.equal(seeds.size, 1000);
  assert.notEqual(caseSeed(1, 0), caseSeed(2, 0));
  assert.equal(caseSeed(5, 17), caseSeed(5, 17));
});

test('seeds print as 0x hex and read back, decimal too; junk is refused', () => {
  assert.equal(formatSeed(0x1234), '0x00001234');
  assert.equal(parseSeed(formatSeed(0xdeadbeef)), 0xdeadbeef);
  assert.equal(parseSeed('4660'), 4660);
  assert.equal(parseSeed('0xZZ'), undefined);
  assert.equal(parseSeed('99999999999'), undefined);
  assert.equal(parseSeed(''), undefined);
});
