/** Tests of recovery: torn tails, flipped bits, bad lengths, lost outcome records. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readdir, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { readContent, QueueIdGenerator } from '../../src/store/queue-store.js';
import { FRAME_HEADER } from '../../src/store/store-frame.js';
import { segmentPath } from '../../src/store/store-segment.js';
import { contentFor, makeMessage, openStore, tempQueueDir } from './store-fixture.js';
import { Logger, configureLogging, flushLog, type LogSink } from '../../src/util/log.js';

/** Writes `count` messages of `size` bytes into a fresh store and closes it; returns ids and locations. */
async function fill(dir: string, count: number, size: number) {
  const store = await openStore(dir, { segmentBytes: 1 << 20 });
  const gen = new QueueIdGenerator(0);
  const out: { id: string; segment: number; offset: number; length: number }[] = [];
  for (let i = 0; i < count; i++) {
    const m = makeMessage(gen.next(), size, 1);
    out.push({ id: m.queueId, ...(await store.append(m)) });
  }
  await store.close();
  return out;
}

const lines: string[] = [];
const sink: LogSink = { write: (l) => lines.push(l), flush: () => undefined, reopen: () => undefined };
configureLogging({ sink });
const log = new Logger('journal', 1);

test('a torn tail is truncated and every earlier record loads', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const msgs = await fill(dir, 10, 2000);
    const last = msgs[9];
    // Cut the last record in the middle of its content, as a crash mid-write would.
    await truncate(segmentPath(dir, last.segment), last.offset + 700);
    const store = await openStore(dir, { log });
    try {
      assert.equal(store.recovery.messages, 9);
      assert.equal(store.recovery.corrupt, 0);
      assert.ok(store.recovery.tornTailBytes > 0);
      assert.equal(store.get(last.id), undefined);
      for (const m of msgs.slice(0, 9)) assert.deepEqual(await readContent(dir, store.get(m.id)!.location), contentFor(m.id, 2000));
      assert.equal((await readdir(join(dir, 'corrupt'))).length, 0);
    } finally {
      await store.close();
    }
    const again = await openStore(dir);
    assert.equal(again.recovery.tornTailBytes, 0, 'the torn tail was cut off the first time');
    assert.equal(again.recovery.messages, 9);
    await again.close();
  } finally {
    await cleanup();
  }
});

test('a zeroed tail of a pre-sized segment (header written, body not) is a torn tail', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const msgs = await fill(dir, 5, 3000);
    const last = msgs[4];
    const fh = await open(segmentPath(dir, last.segment), 'r+');
    await fh.write(Buffer.alloc(2000), 0, 2000, last.offset + 500);
    await fh.close();
    const store = await openStore(dir);
    assert.equal(store.recovery.messages, 4);
    assert.equal(store.recovery.corrupt, 0);
    assert.ok(store.recovery.tornTailBytes > 0);
    await store.close();
  } finally {
    await cleanup();
  }
});

test('a flipped bit in a middle record is quarantined to corrupt/ and later records still load', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const msgs = await fill(dir, 10, 1500);
    const victim = msgs[4];
    const path = segmentPath(dir, victim.segment);
    const fh = await open(path, 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, victim.offset + 100);
    b[0] ^= 0x04;
    await fh.write(b, 0, 1, victim.offset + 100);
    await fh.close();
    lines.length = 0;
    const store = await openStore(dir, { log });
    flushLog();
    try {
      assert.equal(store.recovery.corrupt, 1);
      assert.equal(store.recovery.messages, 9);
      assert.equal(store.get(victim.id), undefined);
      for (const m of msgs.filter((x) => x !== victim)) {
        assert.deepEqual(await readContent(dir, store.get(m.id)!.location), contentFor(m.id, 1500));
      }
      const corrupt = await readdir(join(dir, 'corrupt'));
      assert.equal(corrupt.length, 1);
      const saved = await readFile(join(dir, 'corrupt', corrupt[0]));
      assert.ok(saved.includes(Buffer.from(victim.id)), 'the quarantined file holds the damaged record');
      assert.equal(store.counts().corrupt, 1);
      assert.ok(lines.some((l) => /warning: journal .*checksum mismatch.*corrupt\//.test(l)), lines.join('\n'));
    } finally {
      await store.close();
    }
    const again = await openStore(dir);
    assert.equal(again.recovery.corrupt, 0, 'a quarantined record is not reported twice');
    assert.equal(again.recovery.messages, 9);
    assert.equal((await readdir(join(dir, 'corrupt'))).length, 1);
    await again.close();
  } finally {
    await cleanup();
  }
});

test('a damaged frame length quarantines the rest of its segment as one file', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const msgs = await fill(dir, 8, 1000);
    const victim = msgs[5];
    // The frame starts before the content: find it from the content offset.
    const path = segmentPath(dir, victim.segment);
    const seg = await readFile(path);
    // Frames follow each other: the victim's frame starts where the previous content ends.
    const frameStart = msgs[4].offset + msgs[4].length;
    assert.ok(frameStart > 0);
    const fh = await open(path, 'r+');
    await fh.write(Buffer.from([seg[frameStart + 1] ^ 0x40]), 0, 1, frameStart + 1);
    await fh.close();
    const store = await openStore(dir);
    try {
      assert.equal(store.recovery.corrupt, 1);
      assert.equal(store.recovery.messages, 5);
      assert.equal((await readdir(join(dir, 'corrupt'))).length, 1);
      assert.ok((await stat(path)).size <= frameStart, 'the segment is cut at the damaged frame');
    } finally {
      await store.close();
    }
  } finally {
    await cleanup();
  }
});

test('a lost outcome record means the recipient is delivered again, never dropped', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    let store = await openStore(dir);
    await store.append(makeMessage('0000000LOST1', 400, 1));
    const segment = store.get('0000000LOST1')!.location.segment;
    const end = (await store.append(makeMessage('0000000LOST2', 400, 1))).offset + 400;
    await store.recordOutcomes('0000000LOST1', [{ index: 0, state: 'delivered', reason: '250', dsn: '2.0.0' }]);
    await store.close();
    // The crash came before the outcome and done records reached the disk.
    await truncate(segmentPath(dir, segment), end + FRAME_HEADER - 4);
    store = await openStore(dir);
    assert.equal(store.get('0000000LOST1')?.recipients[0].state, 'ready');
    assert.equal(store.counts().active, 2);
    await store.close();
  } finally {
    await cleanup();
  }
});
