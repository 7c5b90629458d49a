/**
 * journal actor: the one writer of the queue store. It opens the store
 * (replaying the journal: after a crash this rebuilds the queue), answers
 * appends once they are on disk (the store group-commits concurrent appends),
 * records outcomes and admin actions, serves queue listings, and tells qmgr
 * about each new message. A cast to qmgr that is lost while qmgr restarts is
 * harmless: a new qmgr lists the store when it starts.
 * Failure notices are made here, one at the end of each pass of a message
 * (journal-notice.ts says how that follows Postfix's bounce log): outcomes
 * that leave a recipient untried are recorded at once, and a bounced or
 * expired recipient waits in the journal; the outcomes that end the pass
 * first make the notice for every failed recipient not yet listed, then are
 * written with those recipients marked as listed (Postfix keeps the queue
 * file until its bounce is sent). A crash in between gives those recipients
 * another try and, at worst, a second notice, never a lost one; and bounce
 * reads the content while the message is live.
 */
import { runActor } from '../../supervisor/actor.js';
import { QueueStore } from '../../store/queue-store.js';
import type { BounceProtocol, JournalProtocol, QmgrProtocol } from '../../protocol/protocol.js';
import { dueFailureNotice } from './journal-notice.js';
import { count, label, type MetricLabels } from '../../util/metrics-counters.js';

/** client.protocol -> who submitted: pickup ("local"), bounce, else smtpd. */
const SOURCES = new Map<string, MetricLabels>([
  ['local', label('source', 'pickup')],
  ['bounce', label('source', 'bounce')],
]);
const SMTPD_SOURCE = label('source', 'smtpd');

const NOTICE_TIMEOUT_MS = 60_000;

runActor<JournalProtocol>(async (ctx) => {
  const queueDir = ctx.config.path('queue_directory');
  const store = await QueueStore.open(queueDir, { log: ctx.log });
  const r = store.recovery;
  ctx.log.info(`queue store open: ${r.messages} messages in ${r.segments} segments, ${r.records} records, ${r.corrupt} corrupt, ${r.ms} ms`);
  const qmgr = ctx.peers<QmgrProtocol>('qmgr');
  const bounce = ctx.peers<BounceProtocol>('bounce');
  ctx.onShutdown(() => store.close());

  return {
    append: async ({ message }) => {
      const location = await store.append(message);
      count('messages_received', SOURCES.get(message.client?.protocol) ?? SMTPD_SOURCE);
      // The queued form is decoded only when a qmgr is there to take it.
      const queued = qmgr.size() > 0 ? store.get(message.queueId) : undefined;
      if (queued) qmgr.cast('arrived', { message: queued });
      return { queueId: message.queueId, location };
    },
    outcome: async ({ queueId, outcomes }) => {
      // Outcomes that leave a recipient to try are recorded with no await in
      // between, so the next outcome of the message sees them in the index.
      const message = store.get(queueId);
      const due = message ? dueFailureNotice(message, outcomes) : undefined;
      if (message && due && due.recipients.length > 0) {
        // Throws (retryably) if bounce cannot: nothing is recorded, qmgr tries again.
        await bounce.call('notify', { message, kind: 'failure', recipients: due.recipients }, { timeoutMs: NOTICE_TIMEOUT_MS });
      }
      return store.recordOutcomes(queueId, outcomes, due?.noticed);
    },
    admin: async ({ action, queueId }) => ({ found: await store.admin(action, queueId) }),
    list: ({ after, limit }) => store.list(after, limit),
    get: ({ queueId }) => ({ message: store.get(queueId) }),
    counts: () => store.counts(),
  };
});
