/**
 * Tests of a bounced recipient's relay in the store (kept for the Remote-MTA
 * of a failure notice sent after the outcome), of the mark a notice leaves on
 * the recipients it listed, and of afterOutcomes,
 * which tells whether outcomes would finish a message without changing it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { afterOutcomes } from '../../src/store/queue-store.js';
import { makeMessage, openStore, tempQueueDir } from './store-fixture.js';

const RELAY = 'mx.example.net[192.0.2.25]:25';

test('a bounced recipient keeps its relay through recordOutcomes, a reopen and a compaction copy', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const id = '00000000REL1';
  let store = await openStore(dir);
  try {
    await store.append(makeMessage(id, 400, 3));
    const r = await store.recordOutcomes(id, [
      { index: 0, state: 'bounced', reason: 'host mx.example.net[192.0.2.25] said: 550 5.1.1 no such user', dsn: '5.1.1', relay: RELAY },
      { index: 1, state: 'deferred', reason: 'busy', dsn: '4.3.0', nextAttempt: 9e12 },
    ]);
    assert.deepEqual(r, { finished: false });
    assert.equal(store.get(id)?.recipients[0].relay, RELAY);
    assert.equal(store.get(id)?.recipients[1].relay, undefined);

    await store.close();
    store = await openStore(dir);
    const q = store.get(id);
    assert.ok(q, 'the unfinished message is recovered');
    assert.equal(q.recipients[0].state, 'bounced');
    assert.equal(q.recipients[0].relay, RELAY, 'recovery replays the relay of the outcome');
    assert.equal(q.recipients[0].dsn, '5.1.1');
    assert.match(q.recipients[0].reason ?? '', /550 5\.1\.1/);

    // The reopen sealed the old segment: compaction copies the message with its current state.
    const c = await store.compact();
    assert.equal(c.copiedMessages, 1);
    await store.close();
    store = await openStore(dir);
    assert.equal(store.get(id)?.recipients[0].relay, RELAY, 'the compaction copy carries the relay');
  } finally {
    await store.close();
    await cleanup();
  }
});

test('an outcome without a relay drops the relay of an earlier one', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const id = '00000000REL2';
  let store = await openStore(dir);
  try {
    await store.append(makeMessage(id, 300, 2));
    await store.recordOutcomes(id, [{ index: 0, state: 'deferred', reason: 'busy', dsn: '4.3.0', nextAttempt: 9e12, relay: RELAY }]);
    assert.equal(store.get(id)?.recipients[0].relay, RELAY);
    await store.recordOutcomes(id, [{ index: 0, state: 'expired', reason: 'too old', dsn: '4.4.7' }]);
    assert.equal(store.get(id)?.recipients[0].relay, undefined);
    await store.close();
    store = await openStore(dir);
    assert.equal(store.get(id)?.recipients[0].state, 'expired');
    assert.equal(store.get(id)?.recipients[0].relay, undefined, 'the replay drops it too');
  } finally {
    await store.close();
    await cleanup();
  }
});

test('afterOutcomes tells whether outcomes finish a message and leaves the queued message unchanged', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const id = '00000000AFT1';
  const store = await openStore(dir);
  try {
    await store.append(makeMessage(id, 300, 3));
    const packed = store.get(id);
    assert.ok(packed);
    const first = afterOutcomes(packed, [{ index: 0, state: 'bounced', reason: 'no', dsn: '5.1.1', relay: RELAY }]);
    assert.equal(first.finished, false);
    assert.equal(first.recipients[0].state, 'bounced');
    assert.equal(first.recipients[0].relay, RELAY);
    assert.equal(store.get(id)?.recipients[0].state, 'ready', 'the store is not changed');

    await store.recordOutcomes(id, [
      { index: 0, state: 'bounced', reason: 'no', dsn: '5.1.1', relay: RELAY },
      { index: 1, state: 'delivered', reason: '250 ok', dsn: '2.0.0' },
    ]);
    // Now the index holds the message as an object that get() hands out as is.
    const held = store.get(id);
    assert.ok(held);
    const last = afterOutcomes(held, [{ index: 2, state: 'expired', reason: 'too old', dsn: '4.4.7' }]);
    assert.equal(last.finished, true);
    assert.deepEqual(last.recipients.map((r) => r.state), ['bounced', 'delivered', 'expired']);
    assert.equal(held.recipients[2].state, 'ready', 'the held object is not changed');
    assert.equal(held.recipients[2].attempts, 0);
    assert.equal(store.get(id)?.recipients[2].state, 'ready');
    assert.equal(afterOutcomes(held, [{ index: 2, state: 'deferred', reason: 'busy', dsn: '4.3.0' }]).finished, false);
    assert.equal(store.counts().total, 1);
  } finally {
    await store.close();
    await cleanup();
  }
});

test('the recipients a notice listed stay marked through a reopen and a compaction copy; others are not', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const id = '00000000NTC1';
  let store = await openStore(dir);
  try {
    await store.append(makeMessage(id, 300, 3));
    await store.recordOutcomes(id, [{ index: 0, state: 'bounced', reason: '550 no', dsn: '5.1.1', relay: RELAY }]);
    assert.equal(store.get(id)?.recipients[0].failureNotified, undefined, 'not listed yet');
    await store.recordOutcomes(id, [{ index: 1, state: 'deferred', reason: 'busy', dsn: '4.3.0', nextAttempt: 9e12 }], [0]);
    const marks = (): Array<boolean | undefined> => store.get(id)!.recipients.map((r) => r.failureNotified);
    assert.deepEqual(marks(), [true, undefined, undefined]);
    await store.close();
    store = await openStore(dir);
    assert.deepEqual(marks(), [true, undefined, undefined], 'recovery replays the mark');
    const c = await store.compact();
    assert.equal(c.copiedMessages, 1);
    await store.close();
    store = await openStore(dir);
    assert.deepEqual(marks(), [true, undefined, undefined], 'the compaction copy carries the mark');
    assert.equal(store.get(id)?.recipients[1].state, 'deferred');
  } finally {
    await store.close();
    await cleanup();
  }
});
