/**
 * qmgr actor: Postfix's qmgr(8). Owns the active queue: at start it lists
 * the live queue from the journal (after a crash this is how nothing gets
 * lost), then schedules deliveries to the agents, records each outcome in
 * the journal before acting on it, and at the end of each message's pass
 * asks bounce for its failure, delay and success notices (the journal only
 * stores).
 * With several queue shards there is one qmgr per shard (instance N, shard
 * N - 1), each with its own journal; delivery slots per destination and
 * per transport are taken from counters all of them share (shared-limits).
 * Calls to a restarting peer fail with a retryable error; those are retried
 * here (journal, bounce) or turned into a deferral by the scheduler (agents).
 */
import { runActor, type PeerGroup } from '../../runtime/actor.js';
import { Scheduler } from './qmgr-scheduler.js';
import type { DeliveryProtocol, JournalProtocol, ResolvedAddress } from '../../protocol/protocol.js';
import type { QueuedMessage } from '../../store/store-types.js';
import { queueNameOf } from '../../store/store-queue-name.js';
import { TtlCache } from '../../util/ttl-cache.js';
import { count } from '../../util/metrics-counters.js';
import { SharedLimits } from '../../runtime/shared-limits.js';
import type { Maybe } from '../../util/maybe.js';

const DELIVERY_TIMEOUT_MS = 15 * 60_000;
const LIST_PAGE = 5000;
const RESOLVE_TTL_MS = 60_000;
const RESOLVE_CACHE_LIMIT = 10_000;

async function withRetry<T>(fn: () => Promise<T>, attempts = 20): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err as { retryable?: boolean }).retryable || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** i)));
    }
  }
}

/** Every live message of this shard, a page at a time from its journal. */
async function listQueue(journal: PeerGroup<JournalProtocol>, instance: number): Promise<QueuedMessage[]> {
  const all: QueuedMessage[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await withRetry(() => journal.call('list', { after, limit: LIST_PAGE }, { timeoutMs: 60_000, instance }));
    for (const m of page.messages) all.push(m);
    if (!page.next) return all;
    after = page.next;
  }
}

runActor('qmgr', async (ctx) => {
  const journal = ctx.peers('journal');
  // The journal of this qmgr's own queue shard: instance numbers follow the shards.
  const instance = ctx.instance;
  const shared = ctx.shard?.limits ? new SharedLimits(ctx.shard.limits, ctx.shard.index) : undefined;
  // What a dead predecessor of this shard held is no longer in flight here.
  shared?.reset();
  const rewrite = ctx.peers('trivial-rewrite');
  const bounce = ctx.peers('bounce');
  // A transport is a master.cf service: its own instances, with its own -o values.
  const agentFor = (transport: string): PeerGroup<DeliveryProtocol> => {
    const group = ctx.transport(transport);
    if (!group) throw Object.assign(new Error(`no service for transport ${transport}`), { code: 'ERR_NO_TRANSPORT', retryable: false });
    return group;
  };

  // Resolved addresses are cached here for a minute: a round trip to
  // trivial-rewrite per recipient costs more than scheduling it. A reload
  // starts a new qmgr, so answers never outlive their configuration long.
  const resolved = new TtlCache<ResolvedAddress>(RESOLVE_CACHE_LIMIT, RESOLVE_TTL_MS);
  const resolve = (address: string): Maybe<ResolvedAddress> =>
    resolved.through(
      address,
      () => withRetry(() => rewrite.call('resolve', { address }, { timeoutMs: 10_000 })),
      // "retry" means a table lookup failed: ask again next time.
      (answer) => answer.transport !== 'retry',
    );

  const scheduler = new Scheduler({
    config: ctx.config,
    log: ctx.log,
    resolve,
    hasTransport: (transport) => ctx.transport(transport) !== undefined,
    deliver: (transport, req, lane) => {
      // A lane is one agent thread (qmgr-lanes), whose connection cache then
      // holds at most the lane's share of the destination's sessions.
      // An agent waiting on demand is started by the call.
      const group = agentFor(transport);
      const lanes = ctx.transportInstances(transport);
      return group.call('deliver', req, { timeoutMs: DELIVERY_TIMEOUT_MS, instance: lanes[lane % lanes.length] });
    },
    lanes: (transport) => ctx.transportInstances(transport).length,
    recordOutcomes: (queueId, outcomes, noticed) => {
      // Expiry is qmgr's own outcome; the agents' outcomes are counted where they are logged.
      for (const o of outcomes) if (o.state === 'expired') count('recipients_expired');
      const req = noticed && noticed.length > 0 ? { queueId, outcomes, noticed } : { queueId, outcomes };
      return withRetry(() => journal.call('outcome', req, { timeoutMs: 60_000, instance }));
    },
    notify: (req) => withRetry(() => bounce.call('notify', req, { timeoutMs: 60_000 })),
    shared,
  });

  // The runtime holds requests (arrivals included) until this set-up returns,
  // and the scheduler ignores a queue id it already has.
  scheduler.start(await listQueue(journal, instance));

  ctx.onDrain(() => scheduler.drain());
  ctx.onShutdown(() => scheduler.stop());

  return {
    arrived: ({ message }) => scheduler.arrived(message),
    relocated: ({ moves }) => scheduler.relocated(moves),
    flush: ({ site }) => ({ scheduled: scheduler.flush(site) }),
    admin: async ({ action, queueIds, queues }) => {
      // Each shard's qmgr acts on the ids its own journal holds; the others find none of them.
      // As postsuper: hold takes mail that is not on hold, release only held mail
      // (so "release ALL" counts what it released); ALL may name the queues.
      const wanted = (m: QueuedMessage): boolean => {
        const queue = queueNameOf(m);
        if (action === 'hold' && queue === 'hold') return false;
        if (action === 'release' && queue !== 'hold') return false;
        return queueIds !== 'ALL' || !queues || queues.length === 0 || queues.includes(queue);
      };
      const ids: string[] = [];
      if (queueIds === 'ALL') {
        for (const m of await listQueue(journal, instance)) if (wanted(m)) ids.push(m.queueId);
      } else {
        for (const queueId of queueIds) {
          const { message } = await withRetry(() => journal.call('get', { queueId }, { instance }));
          if (message && wanted(message) && !ids.includes(queueId)) ids.push(queueId);
        }
      }
      // The journal first: an admin action the journal did not record did not happen.
      const found: string[] = [];
      for (const queueId of ids) {
        const r = await journal.call('admin', { action, queueId }, { instance });
        if (r.found) found.push(queueId);
      }
      await scheduler.admin(action, found);
      return { affected: found.length, queueIds: found };
    },
    load: () => {
      const l = scheduler.load();
      return { active: l.active, destinations: l.destinations };
    },
    destinations: () => ({ destinations: scheduler.destinations() }),
  };
});
