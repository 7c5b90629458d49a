/**
 * content-reader: reads what the store appended, small and large, through
 * descriptors it keeps open, and still reads a location after its segment
 * file has been unlinked (as compaction does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore, readContent } from '../../src/store/queue-store.js';
import { segmentPath } from '../../src/store/store-segment.js';
import { ContentReader } from '../../src/global/content-reader.js';
import { makeMessage } from '../store/store-fixture.js';

test('reads small and large contents byte-exact, also after the segment is unlinked', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'postrider-reader-'));
  const store = await QueueStore.open(dir, { compactIntervalMs: 0 });
  const reader = new ContentReader(dir);
  try {
    const small = makeMessage('AAAAAAAAAA01', 1024);
    const large = makeMessage('AAAAAAAAAA02', 600 * 1024);
    const locSmall = await store.append(small);
    const locLarge = await store.append(large);
    assert.deepEqual(await reader.read(locSmall), Buffer.from(small.content));
    assert.deepEqual(await reader.read(locLarge), Buffer.from(large.content), 'the asynchronous path for large contents');
    await unlink(segmentPath(dir, locSmall.segment));
    await assert.rejects(readContent(dir, locSmall), { code: 'ERR_STORE_NOT_FOUND' });
    assert.deepEqual(await reader.read(locSmall), Buffer.from(small.content), 'the open descriptor still reads');
    await assert.rejects(reader.read({ ...locSmall, offset: locSmall.offset + 512 * 1024 * 1024 }), { code: 'ERR_STORE_NOT_FOUND' });
  } finally {
    reader.close();
    await store.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});

test('a segment that does not exist fails with the store error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'postrider-reader-'));
  const reader = new ContentReader(dir);
  try {
    await assert.rejects(reader.read({ segment: 999, offset: 0, length: 10 }), { code: 'ERR_STORE_NOT_FOUND' });
  } finally {
    reader.close();
    await rm(dir, { recursive: true, force: true });
  }
});
