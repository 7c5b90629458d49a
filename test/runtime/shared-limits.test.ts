/**
 * shared-limits: the host-wide delivery counters the qmgr of every queue
 * shard takes slots from. A limit is never exceeded, counted across shards
 * (also by real threads racing for it), a pair of slots is taken both or
 * none, a restarted shard clears what its dead predecessor held (a lock
 * too), and a table that saw many more keys than it holds keeps counting
 * exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { createLimitTable, SharedLimits } from '../../src/runtime/shared-limits.js';

test('one limit across shards: the third slot is refused whichever shard asks, and a release frees one', () => {
  const table = createLimitTable(3);
  const [a, b, c] = [0, 1, 2].map((s) => new SharedLimits(table, s));
  assert.equal(a.acquire('d1', 2), true);
  assert.equal(b.acquire('d1', 2), true);
  assert.equal(c.acquire('d1', 2), false);
  assert.equal(a.acquire('d1', 2), false);
  assert.equal(c.acquire('d2', 2), true, 'another destination has its own limit');
  assert.equal(a.inFlight('d1'), 2);
  b.release('d1');
  assert.equal(c.acquire('d1', 2), true);
  assert.equal(a.inFlight('d1'), 2);
});

test('a destination and its transport are taken both or none', () => {
  const table = createLimitTable(2);
  const [a, b] = [0, 1].map((s) => new SharedLimits(table, s));
  assert.equal(a.acquire('smtp\u0000x', 5, 'smtp\u0001', 1), true);
  assert.equal(b.acquire('smtp\u0000y', 5, 'smtp\u0001', 1), false, 'the transport limit is reached');
  assert.equal(b.inFlight('smtp\u0000y'), 0, 'the destination slot was not kept');
  a.release('smtp\u0000x', 'smtp\u0001');
  assert.equal(b.acquire('smtp\u0000y', 5, 'smtp\u0001', 1), true);
});

test('a restarted shard clears what its dead predecessor held, the lock included', () => {
  const table = createLimitTable(2);
  const dead = new SharedLimits(table, 1);
  assert.equal(dead.acquire('d', 1), true);
  const other = new SharedLimits(table, 0);
  assert.equal(other.acquire('d', 1), false);
  // The dead incarnation died holding the lock (word 0 holds its shard + 1).
  Atomics.store(new Int32Array(table), 0, 2);
  new SharedLimits(table, 1).reset();
  assert.equal(other.acquire('d', 1), true);
});

test('a release wakes a shard waiting for a slot', async () => {
  const table = createLimitTable(2);
  const [a, b] = [0, 1].map((s) => new SharedLimits(table, s));
  assert.equal(a.acquire('d', 1), true);
  const seen = b.generation();
  assert.equal(b.acquire('d', 1), false);
  const woken = new Promise<void>((resolve) => b.wake(seen, resolve));
  a.release('d');
  await woken;
  assert.equal(b.acquire('d', 1), true);
});

test('many more keys than the table holds, over time: counts stay exact', () => {
  const table = createLimitTable(2, 64);
  const a = new SharedLimits(table, 0);
  const b = new SharedLimits(table, 1);
  // A few destinations stay busy while thousands come and go.
  for (const d of ['busy1', 'busy2', 'busy3']) assert.equal(a.acquire(d, 2), true);
  for (let i = 0; i < 5000; i++) {
    const d = `passing${i}`;
    assert.equal(b.acquire(d, 1), true, `${d} free`);
    assert.equal(a.acquire(d, 1), false, `${d} at its limit`);
    b.release(d);
  }
  for (const d of ['busy1', 'busy2', 'busy3']) {
    assert.equal(b.acquire(d, 2), true);
    assert.equal(b.acquire(d, 2), false, `${d} kept its count through the rebuilds`);
  }
});

test('three threads racing for one destination never hold more than its limit', async () => {
  const table = createLimitTable(3);
  const probe = new SharedArrayBuffer(12);
  const limit = 2;
  const url = new URL('./shared-limits-worker.js', import.meta.url);
  const results = await Promise.all([0, 1, 2].map((shard) => new Promise<{ taken: number; refused: number }>((resolve, reject) => {
    const w = new Worker(url, { workerData: { table, probe, shard, rounds: 20_000, limit } });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  const most = Atomics.load(new Int32Array(probe), 1);
  assert.ok(most <= limit, `${most} in flight at once`);
  assert.ok(results.every((r) => r.taken > 0), 'every thread got slots');
  assert.equal(new SharedLimits(table, 0).inFlight('smtp\u0000[sink]:25'), 0, 'every slot given back');
});
