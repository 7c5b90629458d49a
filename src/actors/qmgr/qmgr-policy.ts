/**
 * qmgr-policy: the scheduler's pure rules: retry backoff, queue lifetime,
 * DSN NOTIFY filtering and the delay figures of a status log line.
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

/** Seconds as Postfix prints them in delay= and delays=: two significant digits below 10, whole above. */
export function formatDelay(seconds: number): string {
  if (!(seconds > 0)) return '0';
  if (seconds >= 10) return String(Math.round(seconds));
  if (seconds < 0.01) return '0.01';
  return String(Number(seconds.toPrecision(2)));
}

/** "delay=N, delays=a/b/c/d" for a line qmgr itself logs (no connection: c and d are 0). */
export function delayFields(arrivalTime: number, activeTime: number, now: number): string {
  const total = (now - arrivalTime) / 1000;
  const a = (activeTime - arrivalTime) / 1000;
  const b = (now - activeTime) / 1000;
  return `delay=${formatDelay(total)}, delays=${formatDelay(a)}/${formatDelay(b)}/0/0`;
}
