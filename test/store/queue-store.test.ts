/** Tests of the queue store: group commit, outcomes, admin, listing, compaction, reading. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { QueueStore, readContent, contentStream, QueueIdGenerator } from '../../src/store/queue-store.js';
import { contentFor, makeMessage, openStore, tempQueueDir } from './store-fixture.js';

async function streamAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test('a lone append is flushed at once and its content reads back', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const store = await openStore(dir);
  try {
    const m = makeMessage('0000000001AA', 3000);
    const loc = await store.append(m);
    assert.equal(store.stats.flushes, 1);
    assert.equal(store.stats.lastBatch, 1);
    assert.deepEqual(await readContent(dir, loc), Buffer.from(m.content));
    const q = store.get(m.queueId);
    assert.ok(q);
    assert.equal(q.size, 3000);
    assert.deepEqual(q.location, loc);
    assert.equal(q.recipients[1].orcpt, 'rfc822;rcpt1@example.net');
    assert.equal(q.envid, `env-${m.queueId}`);
    assert.deepEqual(store.counts(), { incoming: 0, active: 1, deferred: 0, hold: 0, corrupt: 0, total: 1 });
  } finally {
    await store.close();
    await cleanup();
  }
});

test('the original recipient (origRcpt) survives a reopen; a recipient written without one reads back without one', async () => {
  const { dir, cleanup } = await tempQueueDir();
  let store = await openStore(dir);
  try {
    const m = makeMessage('0000000002AA', 100, 1, {
      recipients: [{ address: 'desk@plain.test', origRcpt: 'sales@virt.test', notify: ['SUCCESS'] }, { address: 'same@plain.test' }],
    });
    await store.append(m);
    await store.close();
    store = await openStore(dir);
    const q = store.get(m.queueId);
    assert.ok(q);
    assert.equal(q.recipients[0].origRcpt, 'sales@virt.test');
    assert.deepEqual(q.recipients[0].notify, ['SUCCESS']);
    assert.equal(q.recipients[1].origRcpt, undefined);
    assert.equal('origRcpt' in q.recipients[1], false);
  } finally {
    await store.close();
    await cleanup();
  }
});

test('closed-loop submitters acknowledged together are flushed together, not one of them alone first', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const gen = new QueueIdGenerator(0);
  const store = await openStore(dir);
  const submitters = 32;
  const rounds = 20;
  try {
    await Promise.all(Array.from({ length: submitters }, async () => {
      for (let i = 0; i < rounds; i++) await store.append(makeMessage(gen.next(), 512, 1));
    }));
    assert.equal(store.stats.records, submitters * rounds);
    // The first append goes alone (the writer was idle) and the other 31 wait
    // for it; from then on a round is one flush. A lone first re-append per
    // round would make it about twice as many.
    assert.ok(store.stats.flushes <= rounds + 2, `flushes ${store.stats.flushes} for ${rounds} rounds`);
  } finally {
    await store.close();
    await cleanup();
  }
});

test('concurrent appends share fdatasyncs and all survive a reopen', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const gen = new QueueIdGenerator(0);
  const store = await openStore(dir);
  const msgs = Array.from({ length: 500 }, () => makeMessage(gen.next(), 1024, 1));
  try {
    await Promise.all(msgs.map((m) => store.append(m)));
    assert.equal(store.stats.records, 500);
    assert.ok(store.stats.flushes < 100, `flushes ${store.stats.flushes} should be far fewer than 500 appends`);
  } finally {
    await store.close();
  }
  const again = await openStore(dir);
  try {
    assert.equal(again.recovery.messages, 500);
    assert.equal(again.recovery.corrupt, 0);
    for (const m of msgs.slice(0, 20)) {
      const q = again.get(m.queueId);
      assert.ok(q);
      assert.deepEqual(await readContent(dir, q.location), Buffer.from(m.content));
    }
  } finally {
    await again.close();
    await cleanup();
  }
});

test('batches are capped by bytes', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const store = await openStore(dir, { maxBatchBytes: 64 * 1024 });
  try {
    const gen = new QueueIdGenerator(0);
    await Promise.all(Array.from({ length: 40 }, () => store.append(makeMessage(gen.next(), 16 * 1024))));
    assert.ok(store.stats.flushes >= 10, `40 x 16 KiB in 64 KiB batches needs at least 10 flushes, got ${store.stats.flushes}`);
  } finally {
    await store.close();
    await cleanup();
  }
});

test('outcomes: deferred with due time survives recovery, the last one finishes and writes done', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const id = '00000000AAAA';
  let store = await openStore(dir);
  try {
    await store.append(makeMessage(id, 500, 3));
    const r1 = await store.recordOutcomes(id, [
      { index: 0, state: 'delivered', reason: '250 ok', dsn: '2.0.0' },
      { index: 1, state: 'deferred', reason: 'connection refused', dsn: '4.4.1', nextAttempt: 1_800_000_000_000 },
    ]);
    assert.deepEqual(r1, { finished: false });
    await store.close();
    store = await openStore(dir);
    const q = store.get(id);
    assert.ok(q);
    assert.equal(q.recipients[0].state, 'delivered');
    assert.equal(q.recipients[1].state, 'deferred');
    assert.equal(q.recipients[1].nextAttempt, 1_800_000_000_000);
    assert.equal(q.recipients[1].reason, 'connection refused');
    assert.equal(q.recipients[1].attempts, 1);
    assert.equal(q.recipients[2].state, 'ready');
    assert.equal(store.counts().active, 1);
    await store.recordOutcomes(id, [{ index: 2, state: 'bounced', reason: 'user unknown', dsn: '5.1.1' }]);
    assert.equal(store.counts().deferred, 1);
    const r2 = await store.recordOutcomes(id, [{ index: 1, state: 'expired', reason: 'too old', dsn: '4.4.7' }]);
    assert.deepEqual(r2, { finished: false }, 'the failed recipients wait for their notice');
    const r3 = await store.recordOutcomes(id, [], [1, 2]);
    assert.deepEqual(r3, { finished: true });
    assert.equal(store.get(id), undefined);
    assert.deepEqual(await store.recordOutcomes(id, []), { finished: true });
    await store.close();
    store = await openStore(dir);
    assert.equal(store.get(id), undefined);
    assert.equal(store.counts().total, 0);
  } finally {
    await store.close();
    await cleanup();
  }
});

test('the end of a delivered message is a lazy record: written without an fdatasync of its own, durable with the next one; a notice or a deferral is synced at once', async () => {
  const { dir, cleanup } = await tempQueueDir();
  let store = await openStore(dir);
  try {
    await store.append(makeMessage('0000000LAZY1', 500, 2));
    await store.append(makeMessage('0000000LAZY2', 500, 2));
    assert.equal(store.stats.flushes, 2);
    const delivered = [
      { index: 0, state: 'delivered' as const, reason: '250 ok', dsn: '2.0.0' },
      { index: 1, state: 'delivered' as const, reason: '250 ok', dsn: '2.0.0' },
    ];
    assert.deepEqual(await store.recordOutcomes('0000000LAZY1', delivered), { finished: true });
    assert.equal(store.stats.flushes, 2, 'a finished delivery asks for no fdatasync');
    assert.equal(store.stats.lazyWrites, 1);
    // A deferral is synced at once, and with it the lazy record before it.
    assert.deepEqual(await store.recordOutcomes('0000000LAZY2', [
      { index: 0, state: 'delivered', reason: '250 ok', dsn: '2.0.0' },
      { index: 1, state: 'deferred', reason: 'try later', dsn: '4.4.1', nextAttempt: 1_800_000_000_000 },
    ]), { finished: false });
    assert.equal(store.stats.flushes, 3);
    // A failure listed in a notice is synced too: no second notice after a crash.
    await store.recordOutcomes('0000000LAZY2', [{ index: 1, state: 'bounced', reason: '550 no', dsn: '5.1.1' }]);
    const flushes = store.stats.flushes;
    assert.deepEqual(await store.recordOutcomes('0000000LAZY2', [], [1]), { finished: true });
    assert.equal(store.stats.flushes, flushes + 1, 'the record of a notice is durable before it is acknowledged');
    await store.close();
    store = await openStore(dir);
    assert.equal(store.counts().total, 0, 'both ends read back after a reopen');
  } finally {
    await store.close();
    await cleanup();
  }
});

test('admin hold, release, requeue and delete are journalled', async () => {
  const { dir, cleanup } = await tempQueueDir();
  let store = await openStore(dir);
  try {
    await store.append(makeMessage('00000000000A', 200, 1));
    await store.append(makeMessage('00000000000B', 200, 1));
    await store.append(makeMessage('00000000000C', 200, 1, { hold: true }));
    assert.equal(store.counts().hold, 1);
    assert.equal(await store.admin('hold', '00000000000A'), true);
    await store.recordOutcomes('00000000000B', [{ index: 0, state: 'deferred', reason: 'busy', dsn: '4.3.0', nextAttempt: 9e12 }]);
    assert.equal(await store.admin('release', '00000000000C'), true);
    assert.equal(await store.admin('hold', 'nosuchid0000'), false);
    assert.deepEqual(store.counts(), { incoming: 0, active: 1, deferred: 1, hold: 1, corrupt: 0, total: 3 });
    await store.close();
    store = await openStore(dir);
    assert.equal(store.get('00000000000A')?.hold, true);
    assert.equal(store.get('00000000000C')?.hold, false);
    assert.equal(await store.admin('requeue', '00000000000B'), true);
    const b = store.get('00000000000B');
    assert.equal(b?.recipients[0].state, 'ready');
    assert.equal(b?.forcedRetry, true);
    assert.equal(await store.admin('release', '00000000000A'), true);
    assert.equal(await store.admin('delete', '00000000000C'), true);
    assert.equal(await store.admin('delete', '00000000000C'), false);
    await store.close();
    store = await openStore(dir);
    assert.equal(store.get('00000000000B')?.forcedRetry, true);
    assert.equal(store.get('00000000000B')?.recipients[0].state, 'ready');
    assert.equal(store.get('00000000000A')?.hold, false);
    assert.equal(store.get('00000000000C'), undefined);
    assert.deepEqual(store.counts(), { incoming: 0, active: 2, deferred: 0, hold: 0, corrupt: 0, total: 2 });
    await store.markDone('00000000000A');
    assert.equal(store.get('00000000000A'), undefined);
  } finally {
    await store.close();
    await cleanup();
  }
});

test('list pages through the queue in queue-id order', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const store = await openStore(dir);
  try {
    const gen = new QueueIdGenerator(2);
    const ids = Array.from({ length: 25 }, (_, i) => gen.next(1_700_000_000_000 + i));
    // Appended out of order: the listing still comes back sorted.
    for (const id of [...ids].reverse()) await store.append(makeMessage(id, 100, 1));
    await store.markDone(ids[3]);
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = store.list(after, 10);
      seen.push(...page.messages.map((m) => m.queueId));
      if (!page.next) break;
      after = page.next;
    }
    assert.deepEqual(seen, ids.filter((_, i) => i !== 3));
    assert.equal(store.list(ids[24], 10).messages.length, 0);
    assert.equal([...store.live()].length, 24);
  } finally {
    await store.close();
    await cleanup();
  }
});

test('compaction deletes dead segments and copies live messages forward', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const segmentBytes = 64 * 1024;
  let store = await openStore(dir, { segmentBytes });
  try {
    const gen = new QueueIdGenerator(0);
    const msgs = Array.from({ length: 60 }, () => makeMessage(gen.next(), 8 * 1024, 2));
    for (const m of msgs) await store.append(m);
    const keep = msgs.filter((_, i) => i % 10 === 0);
    for (const m of msgs) {
      if (keep.includes(m)) {
        await store.recordOutcomes(m.queueId, [{ index: 0, state: 'deferred', reason: 'later', dsn: '4.0.0', nextAttempt: 5e12 }]);
      } else {
        await store.markDone(m.queueId);
      }
    }
    const before = (await readdir(join(dir, 'journal'))).length;
    assert.ok(before >= 8, `expected several segments, got ${before}`);
    const oldLocation = { ...store.get(keep[0].queueId)!.location };
    const r = await store.compact();
    assert.equal(r.copiedMessages, keep.length);
    // All but the current segment and the next one, made ready ahead of the rollover.
    assert.equal(r.deletedSegments, before - 2);
    const after = await readdir(join(dir, 'journal'));
    assert.ok(after.length <= 3, `segments left: ${after.join(' ')}`);
    await assert.rejects(readContent(dir, oldLocation), { code: 'ERR_STORE_NOT_FOUND' });
    await assert.rejects(streamAll(contentStream(dir, oldLocation)), { code: 'ERR_STORE_NOT_FOUND' });
    for (const m of keep) {
      const q = store.get(m.queueId)!;
      assert.ok(q.location.segment > oldLocation.segment);
      assert.deepEqual(await readContent(dir, q.location), contentFor(m.queueId, 8 * 1024));
    }
    await store.close();
    store = await openStore(dir, { segmentBytes });
    assert.equal(store.counts().total, keep.length);
    for (const m of keep) {
      const q = store.get(m.queueId)!;
      assert.equal(q.recipients[0].state, 'deferred');
      assert.equal(q.recipients[0].nextAttempt, 5e12);
      assert.equal(q.recipients[1].state, 'ready');
      assert.deepEqual(await streamAll(contentStream(dir, q.location)), contentFor(m.queueId, 8 * 1024));
    }
  } finally {
    await store.close();
    await cleanup();
  }
});

test('contentStream reads a large message in chunks', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const store = await openStore(dir);
  try {
    const m = makeMessage('000000000BIG', 300 * 1024, 1);
    const loc = await store.append(m);
    const chunks: Buffer[] = [];
    for await (const c of contentStream(dir, loc)) chunks.push(c as Buffer);
    assert.ok(chunks.length >= 4);
    assert.deepEqual(Buffer.concat(chunks), Buffer.from(m.content));
  } finally {
    await store.close();
    await cleanup();
  }
});

test('a closed store refuses work with ERR_STORE_CLOSED', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const store = await openStore(dir);
  await store.close();
  await assert.rejects(store.append(makeMessage('000000000000')), { code: 'ERR_STORE_CLOSED' });
  await assert.rejects(store.admin('hold', '000000000000'), { code: 'ERR_STORE_CLOSED' });
  await cleanup();
});

test('an append of a queue id already queued or in flight is refused with ERR_STORE_DUPLICATE_ID and both messages stay intact', async () => {
  const { dir, cleanup } = await tempQueueDir();
  try {
    let store = await openStore(dir);
    const first = makeMessage('0000000DUP01', 900, 1, { sender: 'first@example.com' });
    const second = makeMessage('0000000DUP01', 700, 3, { sender: 'second@example.com', content: contentFor('second', 700) });
    const loc = await store.append(first);
    // A queued id: refused, and nothing is written for it.
    const records = store.stats.records;
    await assert.rejects(store.append(second), { code: 'ERR_STORE_DUPLICATE_ID' });
    assert.equal(store.stats.records, records);
    // Two appends of one id in the same batch: the second is refused before the first is durable.
    const a = makeMessage('0000000DUP02', 500, 1);
    const b = makeMessage('0000000DUP02', 600, 2, { content: contentFor('other', 600) });
    const [ra, rb] = await Promise.allSettled([store.append(a), store.append(b)]);
    assert.equal(ra.status, 'fulfilled');
    assert.equal(rb.status, 'rejected');
    assert.equal((rb as PromiseRejectedResult).reason.code, 'ERR_STORE_DUPLICATE_ID');
    // The refused message goes in under a fresh id, as a caller retrying would.
    await store.append({ ...second, queueId: '0000000DUP03' });
    await store.close();

    // After a restart the recovered queue refuses the same ids.
    store = await openStore(dir);
    try {
      await assert.rejects(store.append(second), { code: 'ERR_STORE_DUPLICATE_ID' });
      const q = store.get('0000000DUP01')!;
      assert.equal(q.sender, 'first@example.com');
      assert.equal(q.recipients.length, 1);
      assert.deepEqual(q.location, loc);
      assert.deepEqual(await readContent(dir, q.location), Buffer.from(first.content));
      assert.deepEqual(await readContent(dir, store.get('0000000DUP02')!.location), Buffer.from(a.content));
      const retried = store.get('0000000DUP03')!;
      assert.equal(retried.sender, 'second@example.com');
      assert.deepEqual(await readContent(dir, retried.location), Buffer.from(second.content));
      assert.equal(store.counts().total, 3);
      // A finished message's id may be used again (Postfix reuses a queue file's inode the same way).
      await store.markDone('0000000DUP02');
      await store.append(b);
      assert.deepEqual(await readContent(dir, store.get('0000000DUP02')!.location), Buffer.from(b.content));
    } finally {
      await store.close();
    }
  } finally {
    await cleanup();
  }
});

test('background compaction removes segments whose messages are all done', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const store = await QueueStore.open(dir, { compactIntervalMs: 20, segmentBytes: 32 * 1024 });
  try {
    const gen = new QueueIdGenerator(0);
    const msgs = Array.from({ length: 30 }, () => makeMessage(gen.next(), 8 * 1024, 1));
    for (const m of msgs) await store.append(m);
    const survivor = msgs[29];
    // All live: the timer finds nothing worth copying.
    const many = (await readdir(join(dir, 'journal'))).length;
    assert.ok(many >= 6, `segments: ${many}`);
    for (const m of msgs.slice(0, 29)) await store.markDone(m.queueId);
    // Wait (bounded) for the timer to find the dead segments.
    let left = many;
    for (let i = 0; i < 250 && left > 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
      left = (await readdir(join(dir, 'journal'))).length;
    }
    assert.ok(left <= 2, `segments left: ${left} of ${many}`);
    const q = store.get(survivor.queueId)!;
    assert.deepEqual(await readContent(dir, q.location), Buffer.from(survivor.content));
  } finally {
    await store.close();
    await cleanup();
  }
});

test('the next segment is made ready before the rollover and removed at close when unused', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const store = await openStore(dir, { segmentBytes: 16 * 1024 });
  try {
    const first = await store.append(makeMessage('0000000ROLL0', 1000, 1));
    // The prepared segment appears in the background; wait for it (bounded).
    let names = await readdir(join(dir, 'journal'));
    for (let i = 0; i < 200 && names.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 10));
      names = await readdir(join(dir, 'journal'));
    }
    assert.deepEqual(names.sort(), ['0000000001.seg', '0000000002.seg']);
    const second = await store.append(makeMessage('0000000ROLL1', 15 * 1024, 1));
    assert.equal(first.segment, 1);
    assert.equal(second.segment, 2);
    assert.deepEqual(await readContent(dir, second), contentFor('0000000ROLL1', 15 * 1024));
  } finally {
    await store.close();
  }
  const left = (await readdir(join(dir, 'journal'))).sort();
  assert.deepEqual(left, ['0000000001.seg', '0000000002.seg'], 'the unused prepared segment 3 is gone');
  const again = await openStore(dir);
  try {
    assert.equal(again.counts().total, 2);
  } finally {
    await again.close();
    await cleanup();
  }
});
