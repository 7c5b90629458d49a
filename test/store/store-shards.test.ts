/**
 * Queue shards in the store: shard 0 is the unsharded layout as it always
 * was, shard N lives under shards/N with its own journal and corrupt area,
 * every location a shard hands out names it so a reader given only the
 * queue directory finds the content, and listShards names every shard
 * directory on disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readContent, contentStream } from '../../src/store/queue-store.js';
import { listShards, shardRoot } from '../../src/store/store-segment.js';
import { ContentReader } from '../../src/global/content-reader.js';
import { contentFor, makeMessage, openStore, tempQueueDir } from './store-fixture.js';

test('shard 0 keeps the unsharded layout; shard 2 has its own journal under shards/2, and its locations name it', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const s0 = await openStore(dir);
    const s2 = await openStore(dir, { shard: 2 });
    const at0 = await s0.append(makeMessage('AAAAAAA000s0', 900));
    const at2 = await s2.append(makeMessage('AAAAAAA000s2', 1300));
    assert.equal(at0.shard, undefined);
    assert.equal(at2.shard, 2);
    assert.equal(s2.get('AAAAAAA000s2')?.location.shard, 2);
    assert.equal(s0.get('AAAAAAA000s2'), undefined, 'a shard holds only its own messages');
    assert.ok(existsSync(join(dir, 'journal')) && existsSync(join(dir, 'shards', '2', 'journal')) && existsSync(join(dir, 'shards', '2', 'corrupt')));
    assert.equal(shardRoot(dir, 0), dir);
    // Readers need only the queue directory and the location.
    assert.deepEqual(await readContent(dir, at2), contentFor('AAAAAAA000s2', 1300));
    assert.deepEqual(await readContent(dir, at0), contentFor('AAAAAAA000s0', 900));
    const reader = new ContentReader(dir);
    try {
      assert.deepEqual(await reader.read(at2), contentFor('AAAAAAA000s2', 1300));
      assert.deepEqual(await reader.read(at0), contentFor('AAAAAAA000s0', 900), 'segment 1 of shard 0 is not segment 1 of shard 2');
    } finally {
      reader.close();
    }
    const chunks: Buffer[] = [];
    for await (const c of contentStream(dir, at2)) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), contentFor('AAAAAAA000s2', 1300));
    await s0.close();
    await s2.close();
    // Reopened, the shard recovers its own message, still naming the shard; compaction keeps it readable.
    const again = await openStore(dir, { shard: 2 });
    assert.equal(again.get('AAAAAAA000s2')?.location.shard, 2);
    await again.compact();
    const moved = again.get('AAAAAAA000s2')!.location;
    assert.equal(moved.shard, 2);
    assert.deepEqual(await readContent(dir, moved), contentFor('AAAAAAA000s2', 1300));
    await again.close();
  } finally {
    await cleanup();
  }
});

test('listShards names shard 0 and every numbered directory under shards/, ignoring other names', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    assert.deepEqual(listShards(dir), [0]);
    for (const name of ['3', '1', 'tmp', '007', '255', '256']) mkdirSync(join(dir, 'shards', name), { recursive: true });
    assert.deepEqual(listShards(dir), [0, 1, 3, 255]);
  } finally {
    await cleanup();
  }
});

test('a shard number out of range is refused', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    await assert.rejects(openStore(dir, { shard: 256 }), /queue shard out of range/);
    await assert.rejects(openStore(dir, { shard: -1 }), /queue shard out of range/);
  } finally {
    await cleanup();
  }
});
