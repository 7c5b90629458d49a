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
import { pickLane } from '../../src/actors/qmgr/qmgr-lanes.js';

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

test('lanes across shards: each lane within its share wherever the slots are taken, all three slots or none', () => {
  const table = createLimitTable(2);
  const [a, b] = [0, 1].map((s) => new SharedLimits(table, s));
  const dest = 'smtp\u0000[relay]:25';
  // A limit of 3 over 2 lanes from lane 1: lane 1 holds two, lane 0 one.
  const lanes = {
    key: (lane: number) => `${dest}\u0002${lane}`,
    pick: (busy: (lane: number) => number) => pickLane(3, 2, 1, busy),
  };
  assert.equal(a.acquireLane(dest, 3, 'smtp\u0001', 100, lanes), 1);
  assert.equal(b.acquireLane(dest, 3, 'smtp\u0001', 100, lanes), 1, 'the other shard sees lane 1 has room for one more');
  assert.equal(b.acquireLane(dest, 3, 'smtp\u0001', 100, lanes), 0, 'lane 1 is full for the host: lane 0');
  assert.equal(a.acquireLane(dest, 3, 'smtp\u0001', 100, lanes), -1, 'the destination is at its limit');
  assert.equal(a.inFlight(`${dest}\u0002${1}`), 2);
  b.release(dest, 'smtp\u0001', `${dest}\u0002${1}`);
  assert.equal(a.acquireLane(dest, 3, 'smtp\u0001', 100, lanes), 1, 'a released lane slot is taken again');
  // A lane choice that finds nothing takes neither the destination's nor the transport's slot.
  const none = { key: lanes.key, pick: () => -1 };
  assert.equal(a.acquireLane('smtp\u0000other', 3, 'smtp\u0001', 100, none), -1);
  assert.equal(a.inFlight('smtp\u0000other'), 0);
  assert.equal(a.inFlight('smtp\u0001'), 3);
});

test('lane keys with deliveries in flight survive a table rebuild, and so do the keys taken with them', () => {
  const table = createLimitTable(1, 32);
  const a = new SharedLimits(table, 0);
  const lanes = (dest: string) => ({ key: (lane: number) => `${dest}\u0002${lane}`, pick: (busy: (lane: number) => number) => pickLane(1, 1, 0, busy) });
  assert.equal(a.acquireLane('held', 1, 't', 1000, lanes('held')), 0);
  for (let i = 0; i < 500; i++) {
    const d = `pass${i}`;
    assert.equal(a.acquireLane(d, 1, 't', 1000, lanes(d)), 0, `${d} free`);
    a.release(d, 't', `${d}\u0002${0}`);
  }
  assert.equal(a.acquireLane('held', 1, 't', 1000, lanes('held')), -1, 'held kept its count');
  assert.equal(a.inFlight('held\u00020'), 1);
  assert.equal(a.inFlight('t'), 1);
});
