/**
 * qmgr-verify: the verdicts of a verify-only message become the report's
 * lines (one per final address of a local expansion), and the report is
 * due only when no recipient is left to try; a verdict qmgr no longer
 * holds in memory is taken from the journal's record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyLines, verifyReport } from '../../../src/actors/qmgr/qmgr-verify.js';
import type { QueuedMessage, QueuedRecipient } from '../../../src/store/store-types.js';

function message(recipients: QueuedRecipient[]): QueuedMessage {
  return {
    queueId: 'VRFY12345A', arrivalTime: 0, sender: 's@example.test', recipients,
    client: { name: 'localhost', addr: '127.0.0.1', protocol: 'local' }, hold: false, headerLength: 0, size: 0,
    location: { segment: 1, offset: 0, length: 0 }, verify: true,
  };
}

test('a verdict is one line; a local expansion\'s trace is a line per final address; a deferral is none', () => {
  assert.deepEqual(verifyLines({ index: 0, state: 'delivered', dsn: '2.1.5', reason: '250 2.1.5 Ok', reply: '250 2.1.5 Ok', command: 'RCPT TO' }, 'mx[192.0.2.1]:25', undefined), [
    { index: 0, dsn: '2.1.5', reason: '250 2.1.5 Ok', action: 'deliverable', relay: 'mx[192.0.2.1]:25', reply: '250 2.1.5 Ok', command: 'RCPT TO' },
  ]);
  const traced = verifyLines({ index: 1, state: 'bounced', dsn: '5.1.1', reason: 'unknown user: "x"' }, 'local', [
    { address: 'a@example.test', state: 'delivered', dsn: '2.0.0', reason: 'delivers to mailbox' },
    { address: 'x@example.test', state: 'bounced', dsn: '5.1.1', reason: 'unknown user: "x"' },
  ]);
  assert.deepEqual(traced.map((l) => [l.finalAddress, l.action]), [['a@example.test', 'deliverable'], ['x@example.test', 'undeliverable']]);
  assert.deepEqual(verifyLines({ index: 2, state: 'deferred', dsn: '4.3.0', reason: 'later' }, undefined, undefined), []);
});

test('the report waits for every recipient, lists what memory lost from the journal, and accounts for the undeliverable ones', () => {
  const live = message([{ address: 'a@x.test', state: 'delivered', attempts: 1 }, { address: 'b@x.test', state: 'deferred', attempts: 1 }]);
  assert.equal(verifyReport(live, []), undefined);
  const done = message([
    { address: 'a@x.test', state: 'delivered', attempts: 1, dsn: '2.0.0', reason: 'delivers to mailbox' },
    { address: 'b@x.test', state: 'bounced', attempts: 1, dsn: '5.1.1', reason: 'unknown user: "b"', relay: 'local' },
  ]);
  const due = verifyReport(done, [{ index: 0, dsn: '2.0.0', reason: 'delivers to mailbox', relay: 'local', action: 'deliverable' }]);
  assert.ok(due);
  assert.deepEqual(due.noticed, [1]);
  assert.deepEqual(due.recipients.map((r) => [r.index, r.action, r.reason]), [[0, 'deliverable', 'delivers to mailbox'], [1, 'undeliverable', 'unknown user: "b"']]);
});
