/**
 * The REQUIRETLS flag and "TLS-Required: No" (RFC 8689) are part of a queued
 * message: they survive a restart (journal replay), outcomes recorded after
 * it, compaction's copy and a second restart; a message without them reads
 * back without them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueueIdGenerator } from '../../src/store/queue-store.js';
import { buildRequest } from '../../src/actors/qmgr/qmgr-request.js';
import { makeMessage, openStore, tempQueueDir } from './store-fixture.js';

test('REQUIRETLS and TLS-Required: No survive replay, outcomes, compaction and a second replay, and reach the delivery request', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const segmentBytes = 64 * 1024;
  let store = await openStore(dir, { segmentBytes });
  try {
    const gen = new QueueIdGenerator(0);
    const marked = makeMessage(gen.next(), 2000, 2, { requiretls: true });
    const header = makeMessage(gen.next(), 2000, 1, { tlsRequiredNo: true });
    const plain = makeMessage(gen.next(), 2000, 1);
    for (const m of [marked, header, plain]) await store.append(m);
    await store.close();

    store = await openStore(dir, { segmentBytes });
    assert.equal(store.get(marked.queueId)?.requiretls, true);
    assert.equal(store.get(header.queueId)?.tlsRequiredNo, true);
    assert.equal(store.get(header.queueId)?.requiretls, undefined);
    assert.equal('requiretls' in store.get(plain.queueId)!, false);
    assert.equal('tlsRequiredNo' in store.get(plain.queueId)!, false);

    await store.recordOutcomes(marked.queueId, [{ index: 0, state: 'deferred', reason: 'later', dsn: '4.4.1', nextAttempt: 5e12 }]);
    // Filler to roll segments, then compaction copies the live messages forward.
    for (let i = 0; i < 40; i++) {
      const f = makeMessage(gen.next(), 8 * 1024, 1);
      await store.append(f);
      await store.markDone(f.queueId);
    }
    const r = await store.compact();
    assert.ok(r.copiedMessages >= 1, 'the marked message was copied');
    await store.close();

    store = await openStore(dir, { segmentBytes });
    const q = store.get(marked.queueId)!;
    assert.equal(q.requiretls, true);
    assert.equal(q.recipients[0].state, 'deferred');
    assert.equal(store.get(header.queueId)?.tlsRequiredNo, true);
    const req = buildRequest(q, [0, 1], 'smtp', 'example.net', Date.now());
    assert.equal(req.requiretls, true);
    assert.equal(req.tlsRequiredNo, undefined);
    assert.equal(buildRequest(store.get(header.queueId)!, [0], 'smtp', 'example.net', Date.now()).tlsRequiredNo, true);
    assert.equal('requiretls' in buildRequest(store.get(plain.queueId)!, [0], 'smtp', 'example.net', Date.now()), false);
  } finally {
    await store.close();
    await cleanup();
  }
});
