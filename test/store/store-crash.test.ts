/**
 * Crash test with real processes: a child appends under concurrent load and
 * is killed with SIGKILL at a random moment; recovery in this process must
 * find every message whose append was acknowledged, and none that was
 * acknowledged done. Rounds: STORE_CRASH_ROUNDS (default 50).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAndKillWhenReady } from '../helpers/kill-when-ready.js';
import { fileURLToPath } from 'node:url';
import { readContent } from '../../src/store/queue-store.js';
import { contentFor, openStore, tempQueueDir } from './store-fixture.js';

const CHILD = fileURLToPath(new URL('./store-crash-child.js', import.meta.url));
const ROUNDS = Number(process.env.STORE_CRASH_ROUNDS ?? 50);

test(`every acknowledged append survives SIGKILL (${ROUNDS} rounds)`, { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tempQueueDir();
  const acked = new Map<string, number>();
  const done = new Set<string>();
  const finishing = new Set<string>();
  let killedWithWork = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const lines = await runAndKillWhenReady(CHILD, [dir, String(round % 64)], Math.floor(Math.random() * 120), 8000);
      let appended = 0;
      for (const line of lines) {
        const [tag, id, size] = line.split(' ');
        if (tag === 'A') {
          acked.set(id, Number(size));
          appended++;
        } else if (tag === 'O') {
          finishing.add(id);
        } else if (tag === 'D') {
          done.add(id);
        }
      }
      if (appended > 0) killedWithWork++;
      const store = await openStore(dir, { segmentBytes: 256 * 1024 });
      try {
        for (const [id, size] of acked) {
          if (done.has(id)) {
            assert.equal(store.get(id), undefined, `round ${round}: ${id} was acknowledged done but came back`);
            continue;
          }
          const q = store.get(id);
          if (!q && finishing.has(id)) continue;
          assert.ok(q, `round ${round}: acknowledged ${id} lost (recovery ${JSON.stringify(store.recovery)})`);
          assert.equal(q.size, size);
        }
        assert.equal(store.recovery.corrupt, 0, `round ${round}: a crash must leave torn tails, not corrupt records`);
        // Spot-check contents, then retire this round's messages so the journal stays small.
        let checked = 0;
        for (const q of store.live()) {
          if (checked++ >= 40) break;
          assert.deepEqual(await readContent(dir, q.location), contentFor(q.queueId, q.size));
        }
        if (round % 5 === 4) {
          // Concurrent, as the daemon's callers are: the done records share fdatasyncs.
          await Promise.all([...store.live()].map(async (q) => {
            await store.markDone(q.queueId);
            done.add(q.queueId);
          }));
          await store.compact();
        }
      } finally {
        await store.close();
      }
    }
    assert.ok(killedWithWork >= ROUNDS / 2, `only ${killedWithWork} rounds had acknowledged appends before the kill`);
  } finally {
    await cleanup();
  }
});
