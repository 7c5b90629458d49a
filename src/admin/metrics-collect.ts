/**
 * metrics-collect: what one scrape sees, gathered by the main thread. It
 * asks every running actor instance for its counters (the runtime's
 * built-in `metrics` request), sums them with the main thread's own, and
 * asks the journal for queue counts and the oldest message, qmgr for its
 * per-destination load (both taken from the status sections when the
 * status has them), and the supervisor for restarts.
 *
 * Counters stay monotonic across actor restarts: a thread's counters start
 * at zero, so the last snapshot seen from an instance's previous thread is
 * folded into a retired total when a new thread id answers for that
 * instance. What a thread counted after the last scrape before it died is
 * lost (an undercount, never a step back). An instance that does not answer
 * keeps its last snapshot in the sum. Failed calls are counted in
 * `errors`; collect() itself never rejects.
 */
import { oldestMessage, qmgrLoad, queueCounts } from './queue-view.js';
import type { QueueCounts } from '../store/store-types.js';
import type { ActorStatus, Supervisor } from '../supervisor/supervisor.js';
import { emptySnapshot, mergeSnapshots, snapshot, type MetricsSnapshot } from '../util/metrics-counters.js';

/** What the collector needs of the supervisor (a Supervisor fits). */
export interface MetricsSource {
  /** The tree's state; a `queue` section holding QueueCounts (as admin-install provides) saves a call. */
  status(): Promise<{ actors: ActorStatus[]; [section: string]: unknown }>;
  callActor: Supervisor['callActor'];
  /** metrics, from each running instance of roles named by status. */
  callBuiltin: Supervisor['callBuiltin'];
}

/** One scrape's figures. */
export interface MetricsView {
  /** Counters and histograms summed over every thread, restarts included. */
  totals: MetricsSnapshot;
  /** Queue sizes by state; undefined when the journal did not answer. */
  queue?: QueueCounts;
  /** Age of the oldest live message in seconds (0 for an empty queue); undefined when unknown. */
  oldestAgeSeconds?: number;
  /** Deliveries in progress per nexthop; undefined when qmgr did not answer. */
  destinations?: Record<string, number>;
  /** Messages in qmgr's active queue. */
  qmgrActive?: number;
  /** Restarts per role, summed over its instances (kept for instances no longer configured). */
  restarts: Record<string, number>;
  /** Running instances per role. */
  running: Record<string, number>;
  /** Calls that failed or timed out during this scrape. */
  errors: number;
}

export interface CollectorOptions {
  /** How long one actor may take to answer (default 2000 ms). */
  timeoutMs?: number;
  /** The clock, for the oldest message's age (default Date.now). */
  now?: () => number;
}

export class MetricsCollector {
  private readonly last = new Map<string, MetricsSnapshot>();
  private readonly retired = emptySnapshot();
  private readonly restarts = new Map<string, { role: string; n: number }>();
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly source: MetricsSource,
    opts: CollectorOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.now = opts.now ?? Date.now;
  }

  /** Gathers one scrape's figures. */
  async collect(): Promise<MetricsView> {
    let errors = 0;
    const opts = { timeoutMs: this.timeoutMs };
    const call = async <T>(p: Promise<T>): Promise<T | undefined> => {
      try {
        return await p;
      } catch {
        errors++;
        return undefined;
      }
    };

    const status = await this.source.status();
    const actors = status.actors;
    // admin-install's status sections carry the same figures: no second call for them.
    const provided = isCounts(status.queue) ? status.queue : undefined;
    const providedLoad = isLoad(status.qmgr) ? status.qmgr : undefined;
    const running: Record<string, number> = {};
    const live = actors.filter((a) => a.state === 'running');
    for (const a of actors) {
      const key = `${a.role}/${a.instance}`;
      const prev = this.restarts.get(key);
      if (!prev || a.restarts > prev.n) this.restarts.set(key, { role: a.role, n: a.restarts });
    }
    for (const a of live) running[a.role] = (running[a.role] ?? 0) + 1;
    const journalUp = running.journal !== undefined;
    // Every queue shard: one journal and one qmgr instance each.
    const shards = { callActor: this.source.callActor.bind(this.source), shards: () => running.journal ?? 1 };

    const [snaps, counts, oldest, load] = await Promise.all([
      Promise.all(live.map(async (a) => ({ key: `${a.role}/${a.instance}`, snap: await call(this.source.callBuiltin(a.role, 'metrics', {}, { ...opts, instance: a.instance })) }))),
      provided ?? (journalUp ? call(queueCounts(shards, opts)) : undefined),
      journalUp ? call(oldestMessage(shards, opts).then((message) => ({ message }))) : undefined,
      providedLoad ?? (running.qmgr !== undefined ? call(qmgrLoad(shards, opts)) : undefined),
    ]);

    for (const { key, snap } of snaps) {
      if (!isSnapshot(snap)) continue;
      const prev = this.last.get(key);
      if (prev && prev.threadId !== snap.threadId) mergeSnapshots(this.retired, prev);
      this.last.set(key, snap);
    }
    const totals = mergeSnapshots(emptySnapshot(), this.retired);
    for (const s of this.last.values()) mergeSnapshots(totals, s);
    mergeSnapshots(totals, snapshot());

    const restarts: Record<string, number> = {};
    for (const { role, n } of this.restarts.values()) restarts[role] = (restarts[role] ?? 0) + n;

    const view: MetricsView = { totals, restarts, running, errors };
    if (counts) view.queue = counts;
    if (oldest) {
      const first = oldest.message;
      view.oldestAgeSeconds = first ? Math.max(0, (this.now() - first.arrivalTime) / 1000) : 0;
    }
    if (load) {
      view.destinations = load.destinations ?? {};
      view.qmgrActive = load.active;
    }
    return view;
  }
}

function isSnapshot(s: unknown): s is MetricsSnapshot {
  const o = s as MetricsSnapshot | undefined;
  return !!o && typeof o === 'object' && typeof o.threadId === 'number' && typeof o.counters === 'object' && typeof o.histograms === 'object';
}

type QmgrLoad = { active: number; destinations: Record<string, number> };

function isLoad(l: unknown): l is QmgrLoad {
  const o = l as QmgrLoad | undefined;
  return !!o && typeof o === 'object' && typeof o.active === 'number' && !!o.destinations && typeof o.destinations === 'object';
}

function isCounts(q: unknown): q is QueueCounts {
  const o = q as QueueCounts | undefined;
  return !!o && typeof o === 'object' && typeof o.total === 'number' && typeof o.active === 'number' && typeof o.deferred === 'number';
}
