/**
 * qmgr-policy: the scheduler's pure rules: retry backoff, queue lifetime,
 * DSN NOTIFY filtering.
 * Pure functions; they never throw.
 */
import type { QueuedMessage } from '../../store/store-types.js';
import type { QmgrParams } from './qmgr-params.js';

/**
 * When a deferred recipient is next due. Postfix doubles the wait as the
 * message ages; here the wait is the message's age, clamped to
 * [minimal_backoff_time, maximal_backoff_time], which doubles it the same way.
 */
export function nextAttemptAfterDeferral(params: QmgrParams, arrivalTime: number, now: number): number {
  const age = Math.max(0, now - arrivalTime);
  const wait = Math.max(params.minimalBackoffMs, Math.min(params.maximalBackoffMs, age));
  return now + wait;
}

/** The queue lifetime that applies: bounce_queue_lifetime for the null sender. */
export function queueLifetime(params: QmgrParams, sender: string): number {
  return sender === '' ? params.bounceQueueLifetimeMs : params.maximalQueueLifetimeMs;
}

/** True when deferred mail of this message must now be returned as expired. */
export function isExpired(params: QmgrParams, message: QueuedMessage, now: number): boolean {
  return now - message.arrivalTime >= queueLifetime(params, message.sender);
}

export { notifyAllows } from '../../global/dsn-notify.js';
