/** Tests of dueFailureNotice: a failure notice at the end of each pass, listing the failed recipients no notice listed yet. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dueFailureNotice } from '../../../src/actors/journal/journal-notice.js';
import type { QueuedMessage, QueuedRecipient } from '../../../src/store/store-types.js';

function message(recipients: QueuedRecipient[]): QueuedMessage {
  return {
    queueId: '0000000NOTE1',
    arrivalTime: 1_700_000_000_000,
    sender: 'owner@client.test',
    recipients,
    client: { name: 'localhost', addr: '127.0.0.1', protocol: 'ESMTP' },
    hold: false,
    headerLength: 20,
    size: 100,
    location: { segment: 1, offset: 0, length: 100 },
  };
}

const A_RELAY = 'a.test[192.0.2.1]:25';
const B_RELAY = 'b.test[192.0.2.2]:25';

test('no notice while a recipient is left untried in this pass', () => {
  const m = message([
    { address: 'x@a.test', state: 'ready', attempts: 0 },
    { address: 'y@b.test', state: 'ready', attempts: 0 },
  ]);
  assert.equal(dueFailureNotice(m, [{ index: 0, state: 'bounced', reason: '550 no', dsn: '5.1.1', relay: A_RELAY }]), undefined);
  assert.equal(m.recipients[0].state, 'ready', 'the message is not changed');
});

test('the end of the first pass lists the failures so far, while another recipient is deferred', () => {
  const m = message([
    { address: 'x@a.test', state: 'bounced', attempts: 1, reason: 'host a said: 550 5.1.1 no such user', dsn: '5.1.1', relay: A_RELAY },
    { address: 'y@b.test', state: 'ready', attempts: 0 },
  ]);
  const due = dueFailureNotice(m, [{ index: 1, state: 'deferred', reason: '451 later', dsn: '4.3.2', nextAttempt: 9e12, relay: B_RELAY }]);
  assert.deepEqual(due, {
    recipients: [{ index: 0, dsn: '5.1.1', reason: 'host a said: 550 5.1.1 no such user', relay: A_RELAY }],
    noticed: [0],
  });
  assert.equal(m.recipients[1].state, 'ready', 'the message is not changed');
});

test('a later pass lists only the new failure: a recipient already listed is not repeated', () => {
  const m = message([
    { address: 'x@a.test', state: 'bounced', attempts: 1, reason: '550 no', dsn: '5.1.1', relay: A_RELAY, failureNotified: true },
    { address: 'ok@a.test', state: 'delivered', attempts: 1, reason: '250 ok', dsn: '2.0.0' },
    { address: 'y@b.test', state: 'deferred', attempts: 2, reason: '451 later', dsn: '4.3.2', nextAttempt: 9e12 },
  ]);
  const due = dueFailureNotice(m, [{ index: 2, state: 'bounced', reason: 'host b said: 554 5.7.1 refused', dsn: '5.7.1', relay: B_RELAY }]);
  assert.deepEqual(due, { recipients: [{ index: 2, dsn: '5.7.1', reason: 'host b said: 554 5.7.1 refused', relay: B_RELAY }], noticed: [2] });
});

test('expired recipients are listed without a relay; NOTIFY=NEVER and SUCCESS-only recipients are marked but not listed', () => {
  const m = message([
    { address: 'never@a.test', state: 'bounced', attempts: 1, reason: '550 no', dsn: '5.1.1', notify: ['NEVER'] },
    { address: 'success@a.test', state: 'bounced', attempts: 1, reason: '550 no', dsn: '5.1.1', notify: ['SUCCESS'] },
    { address: 'failure@a.test', state: 'bounced', attempts: 1, reason: '550 no', dsn: '5.1.1', notify: ['FAILURE'], relay: A_RELAY },
    { address: 'slow@b.test', state: 'deferred', attempts: 3, reason: '451 later', dsn: '4.3.2', relay: B_RELAY },
  ]);
  const due = dueFailureNotice(m, [{ index: 3, state: 'expired', reason: '451 later', dsn: '4.3.2' }]);
  assert.deepEqual(due, {
    recipients: [
      { index: 2, dsn: '5.1.1', reason: '550 no', relay: A_RELAY },
      { index: 3, dsn: '4.3.2', reason: '451 later' },
    ],
    noticed: [0, 1, 2, 3],
  });
});

test('no notice when nothing failed, or when every failure was listed already', () => {
  const delivered = message([
    { address: 'x@a.test', state: 'delivered', attempts: 1, reason: '250 ok', dsn: '2.0.0' },
    { address: 'y@b.test', state: 'ready', attempts: 0 },
  ]);
  assert.equal(dueFailureNotice(delivered, [{ index: 1, state: 'delivered', reason: '250 ok', dsn: '2.0.0' }]), undefined);
  const listed = message([
    { address: 'x@a.test', state: 'bounced', attempts: 1, reason: '550 no', dsn: '5.1.1', failureNotified: true },
    { address: 'y@b.test', state: 'deferred', attempts: 1, reason: '451 later', dsn: '4.3.2' },
  ]);
  assert.equal(dueFailureNotice(listed, [{ index: 1, state: 'deferred', reason: '451 later', dsn: '4.3.2', nextAttempt: 9e12 }]), undefined);
});
