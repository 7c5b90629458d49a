/**
 * Compaction tells whoever holds message locations (qmgr) where the copies
 * went, and keeps the old segments readable for retireGraceMs, so a
 * delivery handed an old location just before still reads its bytes; the
 * old segments go after the grace, or at close. A restart with the old
 * segments still on disk (a crash in the grace) replays the copies and
 * finds each message once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readContent, QueueIdGenerator, type Relocation } from '../../src/store/queue-store.js';
import { contentFor, makeMessage, openStore, tempQueueDir } from './store-fixture.js';
import { waitFor } from '../helpers/send-mail.js';

test('compaction reports each copied message with its new location; old segments stay readable for the grace, then go', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const segmentBytes = 64 * 1024;
  const reports: Relocation[][] = [];
  const store = await openStore(dir, { segmentBytes, onRelocated: (m) => reports.push(m), retireGraceMs: 1500 });
  try {
    const gen = new QueueIdGenerator(0);
    const msgs = Array.from({ length: 60 }, () => makeMessage(gen.next(), 8 * 1024, 1));
    for (const m of msgs) await store.append(m);
    const keep = msgs.filter((_, i) => i % 10 === 0);
    for (const m of msgs) {
      if (keep.includes(m)) await store.recordOutcomes(m.queueId, [{ index: 0, state: 'deferred', reason: 'later', dsn: '4.0.0', nextAttempt: 5e12 }]);
      else await store.markDone(m.queueId);
    }
    const before = (await readdir(join(dir, 'journal'))).length;
    const oldLocations = new Map(keep.map((m) => [m.queueId, { ...store.get(m.queueId)!.location }]));
    const r = await store.compact();
    assert.equal(r.copiedMessages, keep.length);
    assert.equal(reports.length, 1, 'one report per run');
    assert.deepEqual(reports[0].map((m) => m.queueId).sort(), keep.map((m) => m.queueId).sort());
    for (const move of reports[0]) {
      assert.deepEqual(move.location, store.get(move.queueId)!.location, 'the reported location is the index\'s');
      assert.deepEqual(await readContent(dir, move.location), contentFor(move.queueId, 8 * 1024));
    }
    // Within the grace an old location still reads.
    // Copies may open one more segment; none of the old ones is gone.
    assert.ok((await readdir(join(dir, 'journal'))).length >= before, 'nothing deleted yet');
    for (const [id, loc] of oldLocations) assert.deepEqual(await readContent(dir, loc), contentFor(id, 8 * 1024));
    await waitFor(async () => (await readdir(join(dir, 'journal'))).length <= 3, 10_000, 'the old segments deleted after the grace');
    const [id, loc] = [...oldLocations][0];
    await assert.rejects(readContent(dir, loc), { code: 'ERR_STORE_NOT_FOUND' }, `${id}: gone after the grace`);
  } finally {
    await store.close();
    await cleanup();
  }
});

test('a restart within the grace replays the old segments and the copies: each live message once, read at its copy', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const segmentBytes = 64 * 1024;
  let store = await openStore(dir, { segmentBytes, retireGraceMs: 3_600_000 });
  try {
    const gen = new QueueIdGenerator(0);
    const msgs = Array.from({ length: 40 }, () => makeMessage(gen.next(), 8 * 1024, 1));
    for (const m of msgs) await store.append(m);
    const keep = msgs.filter((_, i) => i % 8 === 0);
    for (const m of msgs) if (!keep.includes(m)) await store.markDone(m.queueId);
    const before = (await readdir(join(dir, 'journal'))).length;
    await store.compact();
    // What a crash in the grace leaves: the old segments beside the copies (close() would delete them).
    const copies = new Map(keep.map((m) => [m.queueId, { ...store.get(m.queueId)!.location }]));
    assert.ok((await readdir(join(dir, 'journal'))).length >= before, 'the old segments are still there');
    store = await openStore(dir, { segmentBytes });
    assert.equal(store.counts().total, keep.length, 'each live message once');
    for (const m of keep) {
      const q = store.get(m.queueId)!;
      assert.deepEqual(q.location, copies.get(m.queueId), 'the later copy wins');
      assert.deepEqual(await readContent(dir, q.location), contentFor(m.queueId, 8 * 1024));
    }
    await store.close();
    const left = (await readdir(join(dir, 'journal'))).length;
    store = await openStore(dir, { segmentBytes });
    await store.compact();
    assert.ok((await readdir(join(dir, 'journal'))).length <= left, 'the next compaction takes the old segments away');
  } finally {
    await store.close();
    await cleanup();
  }
});
