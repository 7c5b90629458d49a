/**
 * queue-view: the queue shards seen as one queue, for the control socket's
 * queue commands, `status` and the metrics. Each shard has its own journal
 * and qmgr (instance N serves shard N - 1); a listing merges the shards'
 * pages in queue-id order, a queue id is looked up in every shard (ids are
 * unique across shards, so at most one has it: that is its shard), counts
 * and loads are summed, and admin actions and flushes go to every shard's
 * qmgr, each acting on the messages its own journal holds.
 *
 * Errors: a shard whose journal or qmgr does not answer makes the call
 * reject with that ActorCallError (a partial answer would look whole).
 */
import type { AdminAction, QueueCounts, QueuedMessage, QueueName } from '../store/store-types.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import type { DestinationView } from '../protocol/protocol.js';

/** What the view needs: calls to a role's instance, and how many shards there are. */
export interface ShardedQueue {
  callActor: Supervisor['callActor'];
  /** Queue shards served (journal and qmgr instances 1 .. shards). */
  shards(): number;
}

type Opts = { timeoutMs?: number };

function eachShard<T>(q: ShardedQueue, fn: (instance: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: q.shards() }, (_, i) => fn(i + 1)));
}

/** Every live message in queue-id order, `limit` at a time, across every shard. */
export async function* livePages(q: ShardedQueue, limit: number): AsyncGenerator<QueuedMessage[]> {
  let after: string | undefined;
  for (;;) {
    const pages = await eachShard(q, (instance) => q.callActor('journal', 'list', { after, limit }, { instance }));
    const merged = pages.flatMap((p) => p.messages).sort((a, b) => (a.queueId < b.queueId ? -1 : a.queueId > b.queueId ? 1 : 0));
    const page = merged.length > limit ? merged.slice(0, limit) : merged;
    if (page.length > 0) yield page;
    const more = merged.length > limit || pages.some((p) => p.next !== undefined);
    if (!more || page.length === 0) return;
    after = page[page.length - 1].queueId;
  }
}

/** The message with this queue id, from whichever shard holds it. */
export async function findMessage(q: ShardedQueue, queueId: string): Promise<QueuedMessage | undefined> {
  const found = await eachShard(q, (instance) => q.callActor('journal', 'get', { queueId }, { instance }));
  return found.find((r) => r.message)?.message;
}

/** Counts by queue state, summed over the shards. */
export async function queueCounts(q: ShardedQueue, opts: Opts = {}): Promise<QueueCounts> {
  const all = await eachShard(q, (instance) => q.callActor('journal', 'counts', {}, { ...opts, instance }));
  const sum: QueueCounts = { incoming: 0, active: 0, deferred: 0, hold: 0, corrupt: 0, total: 0 };
  for (const c of all) for (const k of Object.keys(sum) as Array<keyof QueueCounts>) sum[k] += c[k];
  return sum;
}

/** The oldest live message (by arrival) of any shard, or undefined for an empty queue. */
export async function oldestMessage(q: ShardedQueue, opts: Opts = {}): Promise<QueuedMessage | undefined> {
  const firsts = await eachShard(q, (instance) => q.callActor('journal', 'list', { limit: 1 }, { ...opts, instance }));
  let oldest: QueuedMessage | undefined;
  for (const p of firsts) for (const m of p.messages) if (!oldest || m.arrivalTime < oldest.arrivalTime) oldest = m;
  return oldest;
}

/** qmgr's load, summed over the shards (deliveries in flight per nexthop). */
export async function qmgrLoad(q: ShardedQueue, opts: Opts = {}): Promise<{ active: number; destinations: Record<string, number> }> {
  const all = await eachShard(q, (instance) => q.callActor('qmgr', 'load', {}, { ...opts, instance }));
  const out = { active: 0, destinations: {} as Record<string, number> };
  for (const l of all) {
    out.active += l.active;
    for (const [site, n] of Object.entries(l.destinations)) out.destinations[site] = (out.destinations[site] ?? 0) + n;
  }
  return out;
}

/** Every shard's qmgr destinations (transport, nexthop, window, work, last error), one list per shard. */
export async function qmgrDestinations(q: ShardedQueue, opts: Opts = {}): Promise<DestinationView[][]> {
  return eachShard(q, async (instance) => (await q.callActor('qmgr', 'destinations', {}, { ...opts, instance })).destinations);
}

/** hold / release / delete / requeue, by every shard's qmgr on the ids its journal holds; `queues` limits ALL to those queues. */
export async function queueAdmin(
  q: ShardedQueue,
  action: AdminAction,
  queueIds: string[] | 'ALL',
  opts: Opts & { queues?: QueueName[] } = {},
): Promise<{ affected: number; queueIds: string[] }> {
  const { queues, ...callOpts } = opts;
  const req = queues ? { action, queueIds, queues } : { action, queueIds };
  const all = await eachShard(q, (instance) => q.callActor('qmgr', 'admin', req, { ...callOpts, instance }));
  return { affected: all.reduce((n, r) => n + r.affected, 0), queueIds: all.flatMap((r) => r.queueIds).sort() };
}

/** `flush` (every deferred message) or one site's, in every shard. */
export async function queueFlush(q: ShardedQueue, site: string | undefined): Promise<{ scheduled: number }> {
  const all = await eachShard(q, (instance) => q.callActor('qmgr', 'flush', { site }, { instance }));
  return { scheduled: all.reduce((n, r) => n + r.scheduled, 0) };
}
