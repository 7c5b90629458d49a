/** Tests of recovery: torn tails, flipped bits, bad lengths (repaired or resynchronised), lost messages named, lost outcome records. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, open, readdir, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { readContent, QueueIdGenerator } from '../../src/store/queue-store.js';
import { FRAME_HEADER, FRAME_MAGIC } from '../../src/store/store-frame.js';
import { segmentPath } from '../../src/store/store-segment.js';
import { QueueIndex } from '../../src/store/store-index.js';
import { readJournalReadOnly } from '../../src/store/store-recovery.js';
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

/** Where each message's frame starts: frames follow each other, so at the end of the previous content. */
function frameStarts(msgs: { segment: number; offset: number; length: number }[]): number[] {
  return msgs.map((m, i) => (i > 0 && msgs[i - 1].segment === m.segment ? msgs[i - 1].offset + msgs[i - 1].length : 0));
}

async function overwrite(path: string, at: number, bytes: Buffer): Promise<void> {
  const fh = await open(path, 'r+');
  await fh.write(bytes, 0, bytes.length, at);
  await fh.close();
}

test('a damaged frame length loses only that frame: 98 of 99 recovered, its bytes in corrupt/, and the loss logged with its id', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const msgs = await fill(dir, 99, 1000);
    const starts = frameStarts(msgs);
    const k = 49;
    const victim = msgs[k];
    const path = segmentPath(dir, victim.segment);
    assert.equal(msgs[k + 1].segment, victim.segment, 'the frames after it are in the same segment');
    const original = await readFile(path);
    const frameEnd = starts[k + 1];
    // Both the length word and its check word hit, so the length cannot be repaired.
    await overwrite(path, starts[k], Buffer.from([0x13, 0x37, 0xee, 0x01, 0xde, 0xad, 0xbe, 0xef]));
    lines.length = 0;
    const store = await openStore(dir, { log });
    flushLog();
    try {
      assert.equal(store.recovery.messages, 98);
      assert.equal(store.get(victim.id), undefined);
      for (const m of msgs.filter((x) => x !== victim)) {
        assert.deepEqual(await readContent(dir, store.get(m.id)!.location), contentFor(m.id, 1000), m.id);
      }
      assert.equal(store.recovery.corrupt, 1);
      assert.deepEqual(store.recovery.lostMessages, [victim.id]);
      const corrupt = await readdir(join(dir, 'corrupt'));
      assert.deepEqual(corrupt, [`0000000001-${starts[k]}`]);
      const saved = await readFile(join(dir, 'corrupt', corrupt[0]));
      assert.equal(saved.length, frameEnd - starts[k], 'exactly the damaged frame, not the rest of the segment');
      assert.deepEqual(saved.subarray(8), original.subarray(starts[k] + 8, frameEnd));
      assert.ok(lines.some((l) => l.includes(`bad frame length at offset ${starts[k]}, ${saved.length} bytes saved as corrupt/${corrupt[0]}; resynchronised at offset ${frameEnd}`)), lines.join('\n'));
      assert.ok(lines.some((l) => /warning: journal recovery: 1 message lost in damaged records: /.test(l) && l.endsWith(victim.id)), lines.join('\n'));
    } finally {
      await store.close();
    }
    lines.length = 0;
    const again = await openStore(dir, { log });
    flushLog();
    assert.equal(again.recovery.corrupt, 0, 'the damaged range was padded over: not reported twice');
    assert.equal(again.recovery.messages, 98);
    assert.deepEqual(again.recovery.lostMessages, []);
    assert.ok(!lines.some((l) => l.includes('lost in damaged records')), lines.join('\n'));
    await again.close();
  } finally {
    await cleanup();
  }
});

test('a frame length whose check word survived is repaired in place and nothing is lost', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const msgs = await fill(dir, 20, 800);
    const starts = frameStarts(msgs);
    const path = segmentPath(dir, msgs[7].segment);
    const seg = await readFile(path);
    // A flipped bit in the length word of one frame, in the check word of another.
    await overwrite(path, starts[7] + 1, Buffer.from([seg[starts[7] + 1] ^ 0x40]));
    await overwrite(path, starts[12] + 6, Buffer.from([seg[starts[12] + 6] ^ 0x01]));
    lines.length = 0;
    const store = await openStore(dir, { log });
    flushLog();
    try {
      assert.equal(store.recovery.messages, 20);
      assert.equal(store.recovery.repaired, 2);
      assert.equal(store.recovery.corrupt, 0);
      for (const m of msgs) assert.deepEqual(await readContent(dir, store.get(m.id)!.location), contentFor(m.id, 800));
      assert.ok(lines.some((l) => l.includes(`bad frame length at offset ${starts[7]} repaired from its check word`)), lines.join('\n'));
    } finally {
      await store.close();
    }
    assert.deepEqual((await readFile(path)).subarray(0, starts[19]), seg.subarray(0, starts[19]), 'the headers are rewritten as they were');
    const again = await openStore(dir);
    assert.equal(again.recovery.repaired, 0);
    await again.close();
  } finally {
    await cleanup();
  }
});

test('a zeroed frame header with frames after it is damage, not the end of the segment', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const msgs = await fill(dir, 10, 600);
    const starts = frameStarts(msgs);
    await overwrite(segmentPath(dir, msgs[3].segment), starts[3], Buffer.alloc(FRAME_HEADER));
    const store = await openStore(dir);
    assert.equal(store.recovery.messages, 9);
    assert.deepEqual(store.recovery.lostMessages, [msgs[3].id]);
    assert.ok(store.get(msgs[9].id));
    await store.close();
  } finally {
    await cleanup();
  }
});

test('damage at the end of an earlier segment is quarantined, not cut away as a torn tail', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const store0 = await openStore(dir, { segmentBytes: 8 * 1024 });
    const gen = new QueueIdGenerator(0);
    const msgs: { id: string; segment: number; offset: number; length: number }[] = [];
    for (let i = 0; i < 12; i++) {
      const m = makeMessage(gen.next(), 1500, 1);
      msgs.push({ id: m.queueId, ...(await store0.append(m)) });
    }
    await store0.close();
    const first = msgs.filter((m) => m.segment === msgs[0].segment);
    assert.ok(first.length < msgs.length, 'several segments');
    const last = first[first.length - 1];
    // The last record of the first segment loses part of its content.
    await overwrite(segmentPath(dir, last.segment), last.offset + 10, Buffer.from('XXXX'));
    lines.length = 0;
    const store = await openStore(dir, { log });
    flushLog();
    try {
      assert.equal(store.recovery.tornTailBytes, 0);
      assert.equal(store.recovery.corrupt, 1);
      assert.deepEqual(store.recovery.lostMessages, [last.id]);
      assert.equal(store.recovery.messages, 11);
      assert.ok(lines.some((l) => /checksum mismatch at offset \d+, \d+ bytes saved as corrupt\/\S+; no intact frame after it; segment cut there/.test(l)), lines.join('\n'));
    } finally {
      await store.close();
    }
  } finally {
    await cleanup();
  }
});

test('a message whose damaged record was done anyway is not counted as lost', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    let store = await openStore(dir);
    const locs = [];
    for (const id of ['0000000DONE1', '0000000DONE2', '0000000DONE3']) locs.push(await store.append(makeMessage(id, 500, 1)));
    await store.markDone('0000000DONE2');
    await store.close();
    await overwrite(segmentPath(dir, locs[1].segment), locs[1].offset + 20, Buffer.from('!!'));
    store = await openStore(dir);
    assert.equal(store.recovery.corrupt, 1);
    assert.deepEqual(store.recovery.lostMessages, []);
    assert.equal(store.recovery.messages, 2);
    await store.close();
  } finally {
    await cleanup();
  }
});

test('a segment crafted with false frame starts everywhere ends the search on a budget instead of running for ever', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    let store = await openStore(dir, { segmentBytes: 1 << 20 });
    // A message whose content is nothing but frame headers whose length and check agree.
    const fake = Buffer.alloc(256 * 1024);
    for (let at = 0; at + 12 <= fake.length; at += 12) {
      const length = fake.length - at;
      fake.writeUInt32LE(length, at);
      fake.writeUInt32LE((length ^ FRAME_MAGIC) >>> 0, at + 4);
    }
    const a = await store.append(makeMessage('00000000FAKE', 100, 1, { content: fake }));
    await store.append(makeMessage('00000000AFTR', 100, 1));
    await store.close();
    // The crafted message's own header is destroyed: the search walks into its content.
    await overwrite(segmentPath(dir, a.segment), 0, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
    lines.length = 0;
    store = await openStore(dir, { log });
    flushLog();
    assert.equal(store.recovery.corrupt, 1);
    assert.ok(lines.some((l) => l.includes('too many false frame starts to search on; segment cut there')), lines.join('\n'));
    await store.close();
  } finally {
    await cleanup();
  }
});

test('an older segment left 0644 is made 0600 when the store opens', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const msgs = await fill(dir, 2, 100);
    const path = segmentPath(dir, msgs[0].segment);
    await chmod(path, 0o644);
    const store = await openStore(dir);
    await store.close();
    assert.equal((await stat(path)).mode & 0o777, 0o600);
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

test('readJournalReadOnly lists what recovery would keep, damage and torn tail included, without changing a byte or a mode', async () => {
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
    await truncate(path, msgs[9].offset + 700);
    await chmod(path, 0o640);
    const before = { bytes: await readFile(path), mode: (await stat(path)).mode, entries: await readdir(dir) };
    const index = new QueueIndex();
    const report = await readJournalReadOnly(dir, index);
    assert.equal(index.size, 8, 'the damaged and the torn message are skipped');
    assert.equal(index.get(victim.id), undefined);
    assert.ok(index.get(msgs[0].id) && index.get(msgs[8].id));
    assert.equal(report.corrupt, 1);
    assert.ok(report.tornTailBytes > 0);
    assert.deepEqual(await readFile(path), before.bytes, 'nothing cut, padded or repaired');
    assert.equal((await stat(path)).mode, before.mode, 'the mode is left as found');
    assert.deepEqual(await readdir(dir), before.entries, 'no corrupt/ area made');
  } finally {
    await cleanup();
  }
});

/** Like fill, with 4 MiB segments (more than one 1 MiB read chunk of data), appending 100 at a time to share fdatasyncs. */
async function fillLarge(dir: string, count: number, size: number) {
  const store = await openStore(dir, { segmentBytes: 4 << 20 });
  const gen = new QueueIdGenerator(0);
  const out: { id: string; size: number; segment: number; offset: number; length: number }[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, () => makeMessage(gen.next(), size, 1));
    const at = await Promise.all(batch.map((m) => store.append(m)));
    batch.forEach((m, k) => out.push({ id: m.queueId, size, ...at[k] }));
  }
  await store.close();
  return out;
}

test('a zeroed run longer than a read chunk with frames after it is damage, and the frames after it load', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const msgs = await fillLarge(dir, 600, 5000);
    assert.deepEqual([...new Set(msgs.map((m) => m.segment))], [1]);
    const starts = frameStarts(msgs);
    // Messages 10 to 309 (about 1.5 MiB) become zeros, headers and all.
    await overwrite(segmentPath(dir, 1), starts[10], Buffer.alloc(starts[310] - starts[10]));
    const store = await openStore(dir, { log });
    try {
      assert.equal(store.recovery.corrupt, 1);
      assert.equal(store.recovery.messages, 300);
      for (const [i, m] of msgs.entries()) assert.equal(store.get(m.id) !== undefined, i < 10 || i >= 310, `message ${i}`);
      assert.deepEqual(await readContent(dir, store.get(msgs[310].id)!.location), contentFor(msgs[310].id, 5000));
      assert.deepEqual(await readContent(dir, store.get(msgs[599].id)!.location), contentFor(msgs[599].id, 5000));
    } finally {
      await store.close();
    }
  } finally {
    await cleanup();
  }
});
