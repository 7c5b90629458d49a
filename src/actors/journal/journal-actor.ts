/**
 * journal actor: the one writer of the queue store. It opens the store
 * (replaying the journal: after a crash this rebuilds the queue), answers
 * appends once they are on disk (the store group-commits concurrent appends),
 * records outcomes and admin actions, serves queue listings, and tells qmgr
 * about each new message. A cast to qmgr that is lost while qmgr restarts is
 * harmless: a new qmgr lists the store when it starts.
 * Failure notices are made here, before the bounced or expired outcome is
 * written (Postfix keeps the queue file until its bounce is sent): a crash in
 * between gives the recipient another try and, at worst, a second notice,
 * never a lost one; and bounce reads the content while the message is live.
 */
import { runActor } from '../../supervisor/actor.js';
import { QueueStore } from '../../store/queue-store.js';
import type { BounceProtocol, JournalProtocol, QmgrProtocol } from '../../protocol/protocol.js';
import type { RecipientOutcome } from '../../store/store-types.js';
import { notifyAllows } from '../../global/dsn-notify.js';
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

  /** Queues the failure notice these outcomes call for; throws (retryably) if bounce cannot. */
  const failureNotice = async (queueId: string, outcomes: RecipientOutcome[]): Promise<void> => {
    const message = store.get(queueId);
    if (!message) return;
    const failed = outcomes.filter(
      (o) => (o.state === 'bounced' || o.state === 'expired') && notifyAllows(message.recipients[o.index]?.notify, 'failure'),
    );
    if (failed.length === 0) return;
    await bounce.call(
      'notify',
      {
        message,
        kind: 'failure',
        recipients: failed.map((o) => (o.relay ? { index: o.index, dsn: o.dsn, reason: o.reason, relay: o.relay } : { index: o.index, dsn: o.dsn, reason: o.reason })),
      },
      { timeoutMs: NOTICE_TIMEOUT_MS },
    );
  };

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
      await failureNotice(queueId, outcomes);
      return store.recordOutcomes(queueId, outcomes);
    },
    admin: async ({ action, queueId }) => ({ found: await store.admin(action, queueId) }),
    list: ({ after, limit }) => store.list(after, limit),
    get: ({ queueId }) => ({ message: store.get(queueId) }),
    counts: () => store.counts(),
  };
});
