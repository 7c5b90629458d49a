/**
 * Tests of message bodies kept in files of their own (large messages): the
 * spool file moved beside the journal before its record commits, reading
 * whole and as a stream, deletion when done or deleted, compaction leaving
 * the file in place, and recovery deleting files no record names and
 * quarantining a record whose file is missing; a process killed with
 * SIGKILL while appending loses nothing acknowledged and leaves no orphan.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contentStream, readContent } from '../../src/store/queue-store.js';
import { SpoolFile } from '../../src/store/store-spool.js';
import type { NewMessage } from '../../src/store/store-types.js';
import { makeMessage, openStore, tempQueueDir } from './store-fixture.js';

async function streamAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** A raw message as received (original headers + body), its new header section, and the body alone. */
function largeParts(queueId: string, bodySize: number): { raw: Buffer; newHeaders: Buffer; body: Buffer; bodyStart: number } {
  const head = Buffer.from(`Subject: big ${queueId}\r\nFrom: a@example.com\r\n\r\n`);
  const body = Buffer.alloc(bodySize);
  for (let i = 0; i < bodySize; i++) body[i] = i % 78 === 77 ? 0x0a : i % 78 === 76 ? 0x0d : 0x61 + ((i * 7 + queueId.length) % 26);
  const newHeaders = Buffer.concat([Buffer.from(`Received: from x by y; ${queueId}\r\n`), head]);
  return { raw: Buffer.concat([head, body]), newHeaders, body, bodyStart: head.length };
}

/** Writes the raw message to its spool file in uneven chunks, as a receiver does; the message to append. */
async function spooled(dir: string, queueId: string, bodySize: number): Promise<{ message: NewMessage; whole: Buffer }> {
  const p = largeParts(queueId, bodySize);
  const spool = SpoolFile.create(dir, queueId);
  for (let at = 0; at < p.raw.length; at += 65_521) spool.write(p.raw.subarray(at, at + 65_521));
  assert.equal(await spool.finish(), p.raw.length);
  const message = makeMessage(queueId, 10, 2, {
    content: p.newHeaders,
    headerLength: p.newHeaders.length,
    bodyFile: { offset: p.bodyStart, length: p.body.length },
  });
  return { message, whole: Buffer.concat([p.newHeaders, p.body]) };
}

test('a spooled body is moved beside the journal before its record, and reads back whole and as a stream', async () => {
  const { dir, cleanup } = await tempQueueDir();
  let store = await openStore(dir);
  try {
    const { message, whole } = await spooled(dir, '0000000001BF', 3 * 1024 * 1024 + 17);
    const loc = await store.append(message);
    assert.deepEqual(await readdir(join(dir, 'spool')), []);
    assert.deepEqual(await readdir(join(dir, 'large')), ['0000000001BF']);
    assert.equal((await stat(join(dir, 'large', '0000000001BF'))).mode & 0o777, 0o600);
    assert.ok(loc.file);
    assert.equal(loc.length, message.content.length);
    assert.deepEqual(await readContent(dir, loc), whole);
    assert.deepEqual(await streamAll(contentStream(dir, loc)), whole);
    const q = store.get('0000000001BF');
    assert.ok(q);
    assert.equal(q.size, whole.length);
    assert.deepEqual(q.location, loc);
    // Small messages still group-commit in the journal itself.
    const small = makeMessage('0000000002BF', 500);
    const smallLoc = await store.append(small);
    assert.equal(smallLoc.file, undefined);
    await store.close();
    store = await openStore(dir);
    assert.equal(store.recovery.corrupt, 0);
    const again = store.get('0000000001BF');
    assert.ok(again);
    assert.deepEqual(again.location, loc);
    assert.equal(again.size, whole.length);
    assert.deepEqual(await readContent(dir, again.location), whole);
  } finally {
    await store.close();
    await cleanup();
  }
});

test('an append whose spool file is missing or short fails with ERR_STORE_IO and writes nothing', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const store = await openStore(dir);
  try {
    const { message } = await spooled(dir, '0000000003BF', 200_000);
    const short = { ...message, bodyFile: { offset: message.bodyFile!.offset, length: 300_000 } };
    await assert.rejects(store.append(short), { code: 'ERR_STORE_IO' });
    await unlink(join(dir, 'spool', '0000000003BF'));
    await assert.rejects(store.append(message), { code: 'ERR_STORE_IO' });
    assert.equal(store.get('0000000003BF'), undefined);
    assert.deepEqual(await readdir(join(dir, 'large')), []);
  } finally {
    await store.close();
    await cleanup();
  }
});

test('the body file goes when the message is done, deleted or marked done; compaction leaves it in place', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const store = await openStore(dir, { segmentBytes: 64 * 1024 });
  try {
    const a = await spooled(dir, '0000000004BF', 1_500_000);
    const b = await spooled(dir, '0000000005BF', 1_200_000);
    const c = await spooled(dir, '0000000006BF', 1_100_000);
    await store.append(a.message);
    await store.append(b.message);
    await store.append(c.message);
    // Fill segments so the records lie in sealed ones, then compact.
    for (let i = 0; i < 40; i++) await store.append(makeMessage(`00000001${String(i).padStart(2, '0')}BF`, 4000));
    for (let i = 0; i < 40; i++) await store.markDone(`00000001${String(i).padStart(2, '0')}BF`);
    const before = store.get('0000000004BF')!.location;
    const r = await store.compact();
    assert.ok(r.copiedMessages >= 3 && r.deletedSegments > 0);
    const after = store.get('0000000004BF')!.location;
    assert.notEqual(after.segment, before.segment);
    assert.deepEqual(after.file, before.file);
    assert.deepEqual(await readContent(dir, after), a.whole);
    assert.equal((await readdir(join(dir, 'large'))).length, 3);

    const done = await store.recordOutcomes('0000000004BF', [
      { index: 0, state: 'delivered', reason: '250 ok', dsn: '2.0.0' },
      { index: 1, state: 'delivered', reason: '250 ok', dsn: '2.0.0' },
    ]);
    assert.equal(done.finished, true);
    assert.equal(await store.admin('delete', '0000000005BF'), true);
    await store.markDone('0000000006BF');
    assert.deepEqual(await readdir(join(dir, 'large')), []);
  } finally {
    await store.close();
    await cleanup();
  }
});

test('recovery deletes body files no record names and quarantines a record whose body file is gone, once', async () => {
  const { dir, cleanup } = await tempQueueDir();
  let store = await openStore(dir);
  try {
    const kept = await spooled(dir, '0000000007BF', 1_100_000);
    const lost = await spooled(dir, '0000000008BF', 1_100_000);
    await store.append(kept.message);
    await store.append(lost.message);
    await store.append(makeMessage('0000000009BF', 700));
    await store.close();
    // A file moved beside the journal by an append that never committed, and a file that vanished.
    await writeFile(join(dir, 'large', '000000000ABF'), 'orphan');
    await unlink(join(dir, 'large', '0000000008BF'));
    store = await openStore(dir);
    assert.equal(store.recovery.corrupt, 1);
    assert.deepEqual(store.recovery.lostMessages, ['0000000008BF']);
    assert.equal(store.get('0000000008BF'), undefined);
    assert.deepEqual(await readContent(dir, store.get('0000000007BF')!.location), kept.whole);
    assert.ok(store.get('0000000009BF'));
    assert.deepEqual((await readdir(join(dir, 'large'))).sort(), ['0000000007BF']);
    assert.equal((await readdir(join(dir, 'corrupt'))).length, 1);
    await store.close();
    store = await openStore(dir);
    assert.equal(store.recovery.corrupt, 0);
    assert.deepEqual(store.recovery.lostMessages, []);
    assert.ok(store.get('0000000007BF'));
  } finally {
    await store.close();
    await cleanup();
  }
});

test('a process killed with SIGKILL while appending large messages loses nothing acknowledged and leaves no orphan', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./store-body-file-child.js', import.meta.url)), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked = new Map<string, string>();
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        buffered += d.toString();
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const [tag, id, digest] = buffered.slice(0, nl).split(' ');
          buffered = buffered.slice(nl + 1);
          if (tag === 'A') acked.set(id, digest);
          // Killed in the middle of later appends: some spool files moved, their records not yet durable.
          if (acked.size === 12) child.kill('SIGKILL');
        }
      });
      child.on('exit', () => resolve());
      child.on('error', reject);
    });
    assert.ok(acked.size >= 12);
    const store = await openStore(dir);
    try {
      for (const [id, digest] of acked) {
        const q = store.get(id);
        assert.ok(q, `acknowledged ${id} is queued`);
        assert.equal(createHash('sha256').update(await readContent(dir, q.location)).digest('hex'), digest);
      }
      const live = new Set([...store.live()].filter((q) => q.location.file).map((q) => q.queueId));
      assert.deepEqual(new Set(await readdir(join(dir, 'large'))), live);
      assert.equal(store.recovery.corrupt, 0);
    } finally {
      await store.close();
    }
  } finally {
    await cleanup();
  }
});
