/** Tests of failureNotice: what the failure notice at the end of a pass lists, and which failed recipients it marks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failureNotice } from '../../../src/actors/qmgr/qmgr-notice.js';
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

test('lists each failed recipient with its own reason, dsn and relay, whatever else is deferred', () => {
  const m = message([
    { address: 'x@a.test', state: 'bounced', attempts: 1, reason: 'host a said: 550 5.1.1 no such user', dsn: '5.1.1', relay: A_RELAY },
    { address: 'y@b.test', state: 'deferred', attempts: 1, reason: '451 later', dsn: '4.3.2', relay: B_RELAY },
  ]);
  assert.deepEqual(failureNotice(m), {
    recipients: [{ index: 0, dsn: '5.1.1', reason: 'host a said: 550 5.1.1 no such user', relay: A_RELAY }],
    noticed: [0],
  });
});

test('a recipient an earlier notice listed is not repeated', () => {
  const m = message([
    { address: 'x@a.test', state: 'bounced', attempts: 1, reason: '550 no', dsn: '5.1.1', relay: A_RELAY, failureNotified: true },
    { address: 'ok@a.test', state: 'delivered', attempts: 1, reason: '250 ok', dsn: '2.0.0' },
    { address: 'y@b.test', state: 'bounced', attempts: 2, reason: 'host b said: 554 5.7.1 refused', dsn: '5.7.1', relay: B_RELAY },
  ]);
  assert.deepEqual(failureNotice(m), { recipients: [{ index: 2, dsn: '5.7.1', reason: 'host b said: 554 5.7.1 refused', relay: B_RELAY }], noticed: [2] });
});

test('expired recipients are listed without a relay; NOTIFY=NEVER and SUCCESS-only recipients are marked but not listed', () => {
  const m = message([
    { address: 'never@a.test', state: 'bounced', attempts: 1, reason: '550 no', dsn: '5.1.1', notify: ['NEVER'] },
    { address: 'success@a.test', state: 'bounced', attempts: 1, reason: '550 no', dsn: '5.1.1', notify: ['SUCCESS'] },
    { address: 'failure@a.test', state: 'bounced', attempts: 1, reason: '550 no', dsn: '5.1.1', notify: ['FAILURE'], relay: A_RELAY },
    { address: 'slow@b.test', state: 'expired', attempts: 3, reason: '451 later', dsn: '4.3.2' },
  ]);
  assert.deepEqual(failureNotice(m), {
    recipients: [
      { index: 2, dsn: '5.1.1', reason: '550 no', relay: A_RELAY },
      { index: 3, dsn: '4.3.2', reason: '451 later' },
    ],
    noticed: [0, 1, 2, 3],
  });
});

test('nothing owed when nothing failed, or when every failure was listed already', () => {
  assert.equal(failureNotice(message([
    { address: 'x@a.test', state: 'delivered', attempts: 1, reason: '250 ok', dsn: '2.0.0' },
    { address: 'y@b.test', state: 'ready', attempts: 0 },
  ])), undefined);
  assert.equal(failureNotice(message([
    { address: 'x@a.test', state: 'bounced', attempts: 1, reason: '550 no', dsn: '5.1.1', failureNotified: true },
  ])), undefined);
});
