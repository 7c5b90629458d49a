/**
 * store-queue-name: which of Postfix's queues a stored message counts as,
 * for listings and for the admin commands' `ALL <queue>` forms:
 * queueNameOf(message) is hold when on hold, deferred when some recipient
 * waits for a retry and none is ready, else active. Postrider has no
 * separate incoming queue: a message is active from the moment it is
 * stored. Pure; never throws.
 */
import type { QueuedMessage, QueueName } from './store-types.js';

export function queueNameOf(m: Pick<QueuedMessage, 'hold' | 'recipients'>): QueueName {
  if (m.hold) return 'hold';
  const anyDeferred = m.recipients.some((r) => r.state === 'deferred');
  const anyReady = m.recipients.some((r) => r.state === 'ready');
  return anyDeferred && !anyReady ? 'deferred' : 'active';
}

/** The queue names the admin commands take after ALL (Postfix's postsuper names). */
export const ADMIN_QUEUE_NAMES: readonly QueueName[] = ['incoming', 'active', 'deferred', 'hold'];
