/** Backoff, lifetime, NOTIFY and delay formatting rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MainConfig } from '../../../src/config/main-config.js';
import { readQmgrParams, TransportLimitTable } from '../../../src/actors/qmgr/qmgr-params.js';
import { isExpired, nextAttemptAfterDeferral, notifyAllows } from '../../../src/actors/qmgr/qmgr-policy.js';
import { Logger } from '../../../src/util/log.js';
import { formatDelivery } from '../../../src/global/delivery-log.js';
import type { QueuedMessage } from '../../../src/store/store-types.js';

test('parameters default to Postfix values and accept units', () => {
  const p = readQmgrParams(new MainConfig({}, '/'));
  assert.equal(p.minimalBackoffMs, 300_000);
  assert.equal(p.maximalBackoffMs, 4_000_000);
  assert.equal(p.queueRunDelayMs, 300_000);
  assert.equal(p.maximalQueueLifetimeMs, 5 * 86_400_000);
  assert.equal(p.delayWarningMs, 0);
  assert.equal(p.initialConcurrency, 5);
  assert.equal(p.messageActiveLimit, 20000);
  assert.equal(p.bounceQueueLifetimeMs, 5 * 86_400_000);
  assert.equal(p.failedCohortLimit, 1);
  const q = readQmgrParams(new MainConfig({ maximal_queue_lifetime: '2', delay_warning_time: '4', minimal_backoff_time: '5m' }, '/'));
  assert.equal(q.maximalQueueLifetimeMs, 2 * 86_400_000);
  assert.equal(q.delayWarningMs, 4 * 3_600_000);
  assert.equal(q.minimalBackoffMs, 300_000);
  assert.throws(() => readQmgrParams(new MainConfig({ queue_run_delay: 'soon' }, '/')), { code: 'ERR_CONFIG' });
});

test('per-transport limits override the defaults; a malformed one falls back', () => {
  const t = new TransportLimitTable(
    new MainConfig({ smtp_destination_concurrency_limit: '7', relay_destination_recipient_limit: 'many', virtual_process_limit: '0' }, '/'),
    new Logger('qmgr', 'test'),
  );
  assert.deepEqual(t.get('smtp'), { destinationConcurrency: 7, recipientLimit: 50, processLimit: 100 });
  assert.equal(t.get('relay').recipientLimit, 50);
  assert.equal(t.get('virtual').processLimit, Number.POSITIVE_INFINITY);
  // A malformed global default falls back to Postfix's.
  const bad = new TransportLimitTable(new MainConfig({ default_process_limit: 'lots' }, '/'), new Logger('qmgr', 'test'));
  assert.equal(bad.get('smtp').processLimit, 100);
});

test('backoff is the message age clamped to minimal and maximal backoff time', () => {
  const p = readQmgrParams(new MainConfig({ minimal_backoff_time: '300s', maximal_backoff_time: '4000s' }, '/'));
  assert.equal(nextAttemptAfterDeferral(p, 0, 10_000), 10_000 + 300_000);
  assert.equal(nextAttemptAfterDeferral(p, 0, 1_000_000), 2_000_000);
  assert.equal(nextAttemptAfterDeferral(p, 0, 10_000_000), 10_000_000 + 4_000_000);
});

test('lifetime: bounce_queue_lifetime for the null sender', () => {
  const p = readQmgrParams(new MainConfig({ maximal_queue_lifetime: '5d', bounce_queue_lifetime: '1d' }, '/'));
  const m = (sender: string) => ({ sender, arrivalTime: 0 }) as QueuedMessage;
  assert.equal(isExpired(p, m(''), 2 * 86_400_000), true);
  assert.equal(isExpired(p, m('a@b'), 2 * 86_400_000), false);
  assert.equal(isExpired(p, m('a@b'), 5 * 86_400_000), true);
});

test('NOTIFY: default is FAILURE and DELAY; NEVER excludes all', () => {
  assert.equal(notifyAllows(undefined, 'failure'), true);
  assert.equal(notifyAllows(undefined, 'delay'), true);
  assert.equal(notifyAllows(undefined, 'success'), false);
  assert.equal(notifyAllows(['NEVER'], 'failure'), false);
  assert.equal(notifyAllows(['SUCCESS'], 'failure'), false);
  assert.equal(notifyAllows(['SUCCESS'], 'success'), true);
  assert.equal(notifyAllows(['FAILURE'], 'delay'), false);
});

test('delays of a deferral qmgr logs itself print like Postfix (no connection: c and d are 0)', () => {
  const delayFields = (arrivalTime: number, activeTime: number, now: number) =>
    /delay=[^,]*, delays=[^,]*/.exec(formatDelivery({
      to: 'u@example.com', relay: 'none', arrivalTime, activeTime,
      connectStart: now, transmitStart: now, end: now, dsn: '4.3.0', status: 'deferred', reason: 'r',
    }))?.[0];
  assert.equal(delayFields(1000, 1000, 1000), 'delay=0, delays=0/0/0/0');
  assert.equal(delayFields(0, 123, 4283), 'delay=4.3, delays=0.12/4.2/0/0');
  assert.equal(delayFields(0, 12_600, 12_600), 'delay=13, delays=13/0/0/0');
});

test('the stock transports\' named limits apply: relay_destination_concurrency_limit, smtp_destination_recipient_limit', () => {
  const table = new TransportLimitTable(
    new MainConfig({ default_destination_concurrency_limit: '20', relay_destination_concurrency_limit: '3', smtp_destination_recipient_limit: '9' }, '/'),
    new Logger('qmgr', 'test'),
  );
  assert.equal(table.get('relay').destinationConcurrency, 3);
  assert.equal(table.get('smtp').destinationConcurrency, 20);
  assert.equal(table.get('smtp').recipientLimit, 9);
  assert.equal(table.get('relay').recipientLimit, 50);
});
