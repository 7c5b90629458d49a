/**
 * Tests of a bounced recipient's relay in the store (kept for the Remote-MTA
 * of a failure notice sent after the outcome), of the mark a notice leaves on
 * the recipients it listed, and of the rule that a message with a failed
 * recipient no notice listed is not finished.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeMessage, openStore, tempQueueDir } from './store-fixture.js';

const RELAY = 'mx.example.net[192.0.2.25]:25';

test('a bounced recipient keeps its relay through recordOutcomes, a reopen and a compaction copy', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const id = '00000000REL1';
  let store = await openStore(dir);
  try {
    await store.append(makeMessage(id, 400, 3));
    const r = await store.recordOutcomes(id, [
      { index: 0, state: 'bounced', reason: 'host mx.example.net[192.0.2.25] said: 550 5.1.1 no such user', dsn: '5.1.1', relay: RELAY, reply: '550 5.1.1 no such user', command: 'RCPT TO' },
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
    assert.deepEqual([q.recipients[0].reply, q.recipients[0].command], ['550 5.1.1 no such user', 'RCPT TO'], 'and its reply and command');

    // The reopen sealed the old segment: compaction copies the message with its current state.
    const c = await store.compact();
    assert.equal(c.copiedMessages, 1);
    await store.close();
    store = await openStore(dir);
    assert.equal(store.get(id)?.recipients[0].relay, RELAY, 'the compaction copy carries the relay');
    assert.equal(store.get(id)?.recipients[0].reply, '550 5.1.1 no such user', 'and the reply');
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

test('a message whose failed recipients no notice listed yet is kept, through a reopen, until the notice is recorded', async () => {
  const { dir, cleanup } = await tempQueueDir();
  const id = '00000000AFT1';
  let store = await openStore(dir);
  try {
    await store.append(makeMessage(id, 300, 3));
    const r1 = await store.recordOutcomes(id, [
      { index: 0, state: 'bounced', reason: 'no', dsn: '5.1.1', relay: RELAY },
      { index: 1, state: 'delivered', reason: '250 ok', dsn: '2.0.0' },
      { index: 2, state: 'expired', reason: 'too old', dsn: '4.4.7' },
    ]);
    assert.deepEqual(r1, { finished: false }, 'nothing left to try, but two notices owed');
    await store.close();
    store = await openStore(dir);
    assert.deepEqual(store.get(id)?.recipients.map((r) => r.state), ['bounced', 'delivered', 'expired'], 'a crash here loses no notice');
    assert.deepEqual(await store.recordOutcomes(id, [], [0]), { finished: false }, 'one failed recipient still unlisted');
    assert.deepEqual(await store.recordOutcomes(id, [], [2]), { finished: true });
    assert.equal(store.get(id), undefined);
    await store.close();
    store = await openStore(dir);
    assert.equal(store.get(id), undefined, 'done survives a reopen');
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
