/**
 * shared-limits-worker: one thread of the shared-limits test, standing for a
 * shard's qmgr: it takes slots of one destination, counts itself in flight
 * in a shared word while it holds one, and records the most it saw.
 */
import { workerData, parentPort } from 'node:worker_threads';
import { SharedLimits } from '../../src/runtime/shared-limits.js';

const { table, probe, shard, rounds, limit } = workerData as { table: SharedArrayBuffer; probe: SharedArrayBuffer; shard: number; rounds: number; limit: number };
const limits = new SharedLimits(table, shard);
const inFlight = new Int32Array(probe);
// Start together (word 2 counts the threads ready), so the threads do race.
Atomics.add(inFlight, 2, 1);
while (Atomics.load(inFlight, 2) < 3) Atomics.wait(inFlight, 2, Atomics.load(inFlight, 2), 5);
let taken = 0;
let refused = 0;
// At least `rounds` tries, and on until this thread has held a slot once: on two busy cores a
// thread may be scheduled only while the others hold both slots. A slot that is never given
// back still ends the loop (at the deadline) with nothing taken, and the test fails.
const deadline = Date.now() + 10_000;
for (let i = 0; i < rounds || (taken === 0 && Date.now() < deadline); i++) {
  if (!limits.acquire('smtp\u0000[sink]:25', limit, 'smtp\u0001', 100)) {
    refused++;
    continue;
  }
  taken++;
  const now = Atomics.add(inFlight, 0, 1) + 1;
  // the most seen, kept in word 1
  for (let seen = Atomics.load(inFlight, 1); now > seen; seen = Atomics.load(inFlight, 1)) {
    if (Atomics.compareExchange(inFlight, 1, seen, now) === seen) break;
  }
  for (let spin = 0; spin < 200; spin++) Atomics.load(inFlight, 0);
  Atomics.sub(inFlight, 0, 1);
  limits.release('smtp\u0000[sink]:25', 'smtp\u0001');
}
parentPort!.postMessage({ taken, refused });
