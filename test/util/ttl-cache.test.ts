import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TtlCache } from '../../src/util/ttl-cache.js';

test('entries expire after the TTL and the oldest goes at the cap', () => {
  const c = new TtlCache<number>(2, 1000);
  c.set('a', 1, 0);
  c.set('b', 2, 0);
  assert.equal(c.get('a', 999), 1);
  assert.equal(c.get('a', 1000), undefined, 'expired at the TTL');
  c.set('c', 3, 10);
  assert.equal(c.get('a', 10), undefined, 'the oldest insertion was dropped at the cap');
  assert.equal(c.get('b', 10), 2);
  assert.equal(c.get('c', 10), 3);
});

test('through() loads once and caches only what keep() accepts', async () => {
  const c = new TtlCache<string>(10, 60_000);
  let loads = 0;
  const load = async (): Promise<string> => `v${++loads}`;
  assert.equal(await c.through('k', load, () => true), 'v1');
  assert.equal(await c.through('k', load, () => true), 'v1');
  assert.equal(loads, 1);
  assert.equal(await c.through('e', load, () => false), 'v2');
  assert.equal(await c.through('e', load, () => false), 'v3', 'a refused answer is asked for again');
});
