/**
 * journal actor: the one writer of one queue shard's store (instance N
 * serves shard N - 1; store-segment says where each shard lies). It opens
 * the store (replaying the journal: after a crash this rebuilds the queue), answers
 * appends once they are on disk (the store group-commits concurrent appends),
 * records outcomes and admin actions, serves queue listings, and tells qmgr
 * about each new message (the qmgr of its own shard). A cast to qmgr that is lost while qmgr restarts is
 * harmless: a new qmgr lists the store when it starts.
 * It only stores: qmgr decides when a message's pass ends and asks bounce
 * for the failure notice, then records the recipients it listed.
 */
import { runActor } from '../../runtime/actor.js';
import { QueueStore } from '../../store/queue-store.js';
import { count, label, type MetricLabels } from '../../util/metrics-counters.js';

/** client.protocol -> who submitted: pickup ("local"), bounce, else smtpd. */
const SOURCES = new Map<string, MetricLabels>([
  ['local', label('source', 'pickup')],
  ['bounce', label('source', 'bounce')],
]);
const SMTPD_SOURCE = label('source', 'smtpd');
/** Locations per 'relocated' cast. */
const RELOCATION_SLICE = 2000;
/** How long compacted segments stay readable: an agent reads a message's content as its delivery starts. */
const RETIRE_GRACE_MS = 60_000;

runActor('journal', async (ctx) => {
  const queueDir = ctx.config.path('queue_directory');
  const shard = ctx.shard?.index ?? 0;
  // Its own shard's qmgr: instance numbers follow the shards.
  const mine = { instance: ctx.instance };
  const qmgr = ctx.peers('qmgr');
  const store = await QueueStore.open(queueDir, {
    log: ctx.log,
    shard,
    // qmgr holds the locations of the messages it schedules: compaction tells it where they went, in
    // slices, and keeps the old segments a while for a delivery handed an old location just before.
    onRelocated: (moves) => {
      for (let i = 0; i < moves.length; i += RELOCATION_SLICE) qmgr.cast('relocated', { moves: moves.slice(i, i + RELOCATION_SLICE) }, mine);
    },
    retireGraceMs: RETIRE_GRACE_MS,
  });
  const r = store.recovery;
  ctx.log.info(`queue store open${ctx.shard && ctx.shard.count > 1 ? ` (shard ${shard} of ${ctx.shard.count})` : ''}: ${r.messages} messages in ${r.segments} segments, ${r.records} records, ${r.corrupt} corrupt, ${r.ms} ms`);
  ctx.onShutdown(() => store.close());

  return {
    append: async ({ message }) => {
      const location = await store.append(message);
      count('messages_received', SOURCES.get(message.client?.protocol) ?? SMTPD_SOURCE);
      // The queued form is decoded only when a qmgr is there to take it.
      const queued = qmgr.size() > 0 ? store.get(message.queueId) : undefined;
      if (queued) qmgr.cast('arrived', { message: queued }, mine);
      return { queueId: message.queueId, location };
    },
    outcome: ({ queueId, outcomes, noticed }) => store.recordOutcomes(queueId, outcomes, noticed),
    admin: async ({ action, queueId }) => ({ found: await store.admin(action, queueId) }),
    list: ({ after, limit }) => store.list(after, limit),
    get: ({ queueId }) => ({ message: store.get(queueId) }),
    counts: () => store.counts(),
  };
});
