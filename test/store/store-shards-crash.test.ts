/**
 * Crash test of the sharded queue with real processes: a daemon process
 * (a supervisor running the real journal actor as three queue shards, and a
 * driver actor appending to all of them under concurrent load) is killed
 * with SIGKILL at a random moment; recovery of every shard in this process
 * must find every message whose append was acknowledged, in the shard that
 * acknowledged it, and none that was acknowledged done. Rounds:
 * STORE_CRASH_ROUNDS (default 50).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAndKillWhenReady } from '../helpers/kill-when-ready.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readContent, type QueueStore } from '../../src/store/queue-store.js';
import { listShards } from '../../src/store/store-segment.js';
import { contentFor, openStore, tempQueueDir } from './store-fixture.js';

const CHILD = fileURLToPath(new URL('./store-shards-crash-child.js', import.meta.url));
const ROUNDS = Number(process.env.STORE_CRASH_ROUNDS ?? 50);
const SHARDS = 3;

test(`every acknowledged append to a queue shard survives SIGKILL of the daemon (${ROUNDS} rounds, ${SHARDS} shards)`, { timeout: 600_000 }, async () => {
  const { dir, cleanup } = await tempQueueDir();
  const queueDir = join(dir, 'queue');
  const acked = new Map<string, { size: number; shard: number; round: number }>();
  const done = new Set<string>();
  const finishing = new Set<string>();
  let killedWithWork = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const lines = await runAndKillWhenReady(CHILD, [queueDir, String(SHARDS)], Math.floor(Math.random() * 150), 20_000);
      let appended = 0;
      for (const line of lines) {
        const [tag, id, size, shard] = line.split(' ');
        if (tag === 'A') {
          acked.set(id, { size: Number(size), shard: Number(shard), round });
          appended++;
        } else if (tag === 'O') {
          finishing.add(id);
        } else if (tag === 'D') {
          done.add(id);
        }
      }
      if (appended > 0) killedWithWork++;
      assert.deepEqual(listShards(queueDir), [0, 1, 2], `round ${round}: one directory per shard`);
      // The shards are independent stores: recovered side by side, as the daemon's journal threads recover them.
      const opened = await Promise.allSettled(Array.from({ length: SHARDS }, (_, s) => openStore(queueDir, { shard: s, segmentBytes: 256 * 1024 })));
      const stores: QueueStore[] = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      try {
        for (const o of opened) if (o.status === 'rejected') throw o.reason;
        for (const [id, { size, shard, round: ackedIn }] of acked) {
          if (done.has(id)) {
            assert.ok(stores.every((st) => st.get(id) === undefined), `round ${round}: ${id} was acknowledged done but came back`);
            continue;
          }
          const q = stores[shard].get(id);
          if (!q && finishing.has(id)) continue;
          assert.ok(q, `round ${round}: ${id} acknowledged in round ${ackedIn} lost from shard ${shard} (in shards ${stores.map((st) => st.get(id) !== undefined)}; finishing ${finishing.has(id)}; recovery ${JSON.stringify(stores[shard].recovery)})`);
          assert.equal(q.size, size);
          assert.equal(q.location.shard ?? 0, shard);
        }
        for (const st of stores) {
          assert.equal(st.recovery.corrupt, 0, `round ${round}: a crash must leave torn tails, not corrupt records`);
          let checked = 0;
          for (const q of st.live()) {
            if (checked++ >= 15) break;
            assert.deepEqual(await readContent(queueDir, q.location), contentFor(q.queueId, q.size));
          }
        }
        // Each start begins a new segment: compacting every round keeps the
        // journal at a segment or two; every fifth round retires the messages.
        const compacted = await Promise.allSettled(stores.map(async (st) => {
          if (round % 5 === 4) {
            // Concurrent, as the daemon's callers are: the done records share fdatasyncs.
            await Promise.all([...st.live()].map(async (q) => {
              await st.markDone(q.queueId);
              done.add(q.queueId);
            }));
          }
          await st.compact();
        }));
        for (const c of compacted) if (c.status === 'rejected') throw c.reason;
      } finally {
        await Promise.all(stores.map((st) => st.close()));
      }
    }
    assert.ok(killedWithWork >= ROUNDS / 2, `only ${killedWithWork} rounds had acknowledged appends before the kill`);
  } finally {
    if (process.env.STORE_CRASH_KEEP) console.log(`kept ${dir}`);
    else await cleanup();
  }
});
