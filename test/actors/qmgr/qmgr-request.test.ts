/** Delivery requests built from queued messages, and agent replies read back. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRequest, readResult, NO_STATUS } from '../../../src/actors/qmgr/qmgr-request.js';
import { message } from './qmgr-harness.js';

test('a request carries the chosen recipients with their indices, ORCPT and NOTIFY', () => {
  const m = message(['a@x', { address: 'b@x', orcpt: 'rfc822;b@x', notify: ['SUCCESS'] }, 'c@x'], { envid: 'E1', ret: 'HDRS' });
  const req = buildRequest(m, [1, 2], 'smtp', 'x', 42);
  assert.deepEqual(req.recipients, [
    { address: 'b@x', index: 1, orcpt: 'rfc822;b@x', notify: ['SUCCESS'] },
    { address: 'c@x', index: 2 },
  ]);
  assert.equal(req.envid, 'E1');
  assert.equal(req.ret, 'HDRS');
  assert.equal(req.activeTime, 42);
  assert.equal(req.transport, 'smtp');
});

test('a reply is read per recipient; missing or garbled ones are deferred; all deferred is a site failure', () => {
  const r = readResult(
    { outcomes: [{ index: 0, state: 'delivered', dsn: '2.0.0', reason: '250 ok', relay: 'x[1.2.3.4]:25' }, { index: 9, state: 'bounced', dsn: '5.0.0', reason: 'x', relay: 'x' }], connectSeconds: 0, transmitSeconds: 0 },
    [0, 1],
    1000,
  );
  assert.deepEqual(r.outcomes, [
    { index: 0, state: 'delivered', reason: '250 ok', dsn: '2.0.0' },
    { index: 1, state: 'deferred', reason: NO_STATUS, dsn: '4.3.0', nextAttempt: 1000 },
  ]);
  assert.equal(r.relays.get(0), 'x[1.2.3.4]:25');
  assert.equal(r.siteFailure, undefined);
  const down = readResult({ outcomes: [{ index: 0, state: 'deferred', dsn: '4.4.1', reason: 'refused', relay: 'none' }], connectSeconds: 0, transmitSeconds: 0 }, [0], 5);
  assert.deepEqual(down.siteFailure, { reason: 'refused', dsn: '4.4.1' });
  assert.deepEqual(readResult(null as never, [3], 7).siteFailure, { reason: NO_STATUS, dsn: '4.3.0' });
});

test("the server's reply and command travel as fields for the notices; a bounce keeps its relay", () => {
  const r = readResult(
    {
      outcomes: [
        { index: 0, state: 'bounced', dsn: '5.1.1', reason: 'host x[1.2.3.4] said: 550 5.1.1 no (in reply to RCPT TO command)', relay: 'x[1.2.3.4]:25', reply: '550 5.1.1 no', command: 'RCPT TO' },
        { index: 1, state: 'delivered', dsn: '2.0.0', reason: '250 2.0.0 Ok', relay: 'x[1.2.3.4]:25', reply: '250 2.0.0 Ok', command: 'end of DATA' },
        { index: 2, state: 'bounced', dsn: '5.0.0', reason: 'mail delivery is disabled', relay: 'none' },
      ],
      connectSeconds: 0,
      transmitSeconds: 0,
    },
    [0, 1, 2],
    1000,
  );
  assert.deepEqual(r.outcomes, [
    { index: 0, state: 'bounced', reason: 'host x[1.2.3.4] said: 550 5.1.1 no (in reply to RCPT TO command)', dsn: '5.1.1', relay: 'x[1.2.3.4]:25', reply: '550 5.1.1 no', command: 'RCPT TO' },
    { index: 1, state: 'delivered', reason: '250 2.0.0 Ok', dsn: '2.0.0', reply: '250 2.0.0 Ok', command: 'end of DATA' },
    { index: 2, state: 'bounced', reason: 'mail delivery is disabled', dsn: '5.0.0', relay: 'none' },
  ]);
});
