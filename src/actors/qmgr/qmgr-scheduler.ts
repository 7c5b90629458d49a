/**
 * qmgr-scheduler: the queue manager's scheduler as a library (Postfix's
 * qmgr). It holds the active queue and the deferred queue's wake-up timer,
 * resolves recipients, groups them per (transport, nexthop) into delivery
 * requests, dispatches them under per-destination and per-transport
 * concurrency limits, records every outcome through the journal before
 * acting on it, retries deferred mail with backoff, expires old mail, and
 * at the end of each message's pass asks bounce for the failure notice of
 * the recipients that failed, and for delay and success notices.
 *
 * The actor wrapper owns the I/O: it passes functions in QmgrDeps and calls
 * start / arrived / flush / admin / load / drain / stop. The records it
 * keeps are in qmgr-entry; the delivery side (destination queues, jobs,
 * agents' replies, recording outcomes) is in qmgr-dispatch; the end of a
 * pass (expiry, notices, removal) is in qmgr-pass. Both reach the scheduler
 * only through the host it hands them.
 *
 * Errors: nothing a dependency does reaches the caller. A rejected deliver()
 * defers its recipients (4.3.0) for a retry; a failed resolve defers the
 * recipient; a failed recordOutcomes is logged and the recipients stay to be
 * retried (a duplicate delivery at worst, never a loss); a failed notify is
 * logged. The constructor throws ConfigError on a malformed parameter.
 */
import { hostname } from 'node:os';
import type { MainConfig } from '../../config/main-config.js';
import type { DeliveryRequest, DeliveryResult, DestinationView, NoticeKind, ResolvedAddress } from '../../protocol/protocol.js';
import type { BodyLocation, QueuedMessage, RecipientOutcome } from '../../store/store-types.js';
import type { Logger } from '../../util/log.js';
import { Dispatcher, type DispatchHost } from './qmgr-dispatch.js';
import type { SharedLimits } from '../../runtime/shared-limits.js';
import { DueTimer } from './qmgr-due.js';
import { bareHost, copyMessage, hasWork, isLive, owesNotice, type Entry, type NoticeRecipient } from './qmgr-entry.js';
import { Fifo } from './qmgr-fifo.js';
import { readQmgrParams, TransportLimitTable, type QmgrParams } from './qmgr-params.js';
import { finishPass } from './qmgr-pass.js';
import type { Maybe } from '../../util/maybe.js';

export type { NoticeRecipient } from './qmgr-entry.js';

/** What the scheduler needs from the rest of the system. */
export interface QmgrDeps {
  config: MainConfig;
  log: Logger;
  /** trivial-rewrite's resolve. */
  resolve(address: string): Maybe<ResolvedAddress>;
  /**
   * Hands a request to the delivery agent named by transport, to its
   * thread of that lane (qmgr-lanes); rejects with `retryable: true` when
   * the agent crashed or timed out.
   */
  deliver(transport: string, req: DeliveryRequest, lane: number): Promise<DeliveryResult>;
  /** The threads that deliver this transport now (its lanes); one when absent. */
  lanes?(transport: string): number;
  /** False when no master.cf service delivers this transport (its recipients are deferred without a try); every transport exists when absent. */
  hasTransport?(transport: string): boolean;
  /**
   * The journal; resolves once the outcomes are durable. `noticed`: failed
   * recipients a failure notice has listed; a message is finished only when
   * every failed recipient is.
   */
  recordOutcomes(queueId: string, outcomes: RecipientOutcome[], noticed?: number[]): Promise<{ finished: boolean }>;
  /** bounce: queue a failure, delay or success notice. */
  notify(req: { message: QueuedMessage; kind: NoticeKind; recipients: NoticeRecipient[] }): Promise<{ queueId?: string }>;
  /** Clock in ms since the epoch; Date.now by default. */
  now?: () => number;
  /** Longest drain() waits for deliveries in flight; 30 s by default. */
  drainTimeoutMs?: number;
  /**
   * The host-wide counters every queue shard's qmgr takes delivery slots
   * from (shared-limits); absent with one shard, whose own counts are the
   * host's.
   */
  shared?: SharedLimits;
}

/** The scheduler's counts, as `load` reports them. */
export interface QmgrLoad {
  active: number;
  deferred: number;
  hold: number;
  inFlight: number;
  /** nexthop -> deliveries in flight. */
  destinations: Record<string, number>;
}

/** The active queue and its scheduling; see the file comment. */
export class Scheduler {
  private readonly params: QmgrParams;
  private readonly limits: TransportLimitTable;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly entries = new Map<string, Entry>();
  private readonly incoming = new Fifo<Entry>();
  private readonly due: DueTimer;
  private activeCount = 0;
  /** Records and notices under way, which drain() also waits for. */
  private work = 0;
  private draining = false;
  private idleWaiters: Array<() => void> = [];
  private drainTimer: NodeJS.Timeout | undefined;
  /** The delivery and end-of-pass code's only way into this scheduler. */
  private readonly host: DispatchHost;
  private readonly dispatcher: Dispatcher;

  constructor(private readonly deps: QmgrDeps) {
    this.params = readQmgrParams(deps.config);
    this.limits = new TransportLimitTable(deps.config, deps.log);
    this.now = deps.now ?? Date.now;
    this.log = deps.log;
    this.due = new DueTimer(this.now, this.params.queueRunDelayMs, (ids) => this.onDue(ids));
    this.host = {
      params: this.params,
      limits: this.limits,
      log: this.log,
      now: () => this.now(),
      deliver: (transport, req, lane) => this.deps.deliver(transport, req, lane),
      lanes: (transport) => this.deps.lanes?.(transport) ?? 1,
      hasTransport: (transport) => this.deps.hasTransport?.(transport) ?? true,
      isDraining: () => this.draining,
      recordOutcomes: (queueId, outcomes, noticed) => this.deps.recordOutcomes(queueId, outcomes, noticed),
      notify: (req) => this.deps.notify(req),
      workStarted: () => {
        this.work++;
      },
      workDone: () => {
        this.work--;
      },
      leaveActive: (e) => this.leaveActive(e),
      remove: (e) => {
        this.entries.delete(e.msg.queueId);
      },
      place: (e) => this.place(e),
      checkIdle: () => this.checkIdle(),
      admit: () => this.admit(),
      shared: deps.shared,
    };
    this.dispatcher = new Dispatcher(this.host);
  }

  /** Takes the live queue as recovered from the journal. */
  start(initial: Iterable<QueuedMessage>): void {
    for (const m of initial) this.add(m);
    this.admit();
  }

  /** A new message was made durable. A queue id already known is ignored. */
  arrived(message: QueuedMessage): void {
    this.add(message);
    this.admit();
  }

  /** Journal compaction moved these messages' content: later deliveries read it there. */
  relocated(moves: Array<{ queueId: string; location: BodyLocation }>): void {
    for (const m of moves) {
      const e = this.entries.get(m.queueId);
      if (e) e.msg.location = m.location;
    }
  }

  /** Makes deferred mail due now: all of it, or that for `site` (a nexthop or recipient domain). Returns how many messages. */
  flush(site?: string): number {
    this.dispatcher.reviveAll();
    const picked: Entry[] = [];
    for (const id of this.due.ids()) {
      const e = this.entries.get(id);
      if (e && (site === undefined || site === '' || this.matchesSite(e, site))) picked.push(e);
    }
    for (const e of picked) {
      this.due.delete(e.msg.queueId);
      e.forced = true;
      this.place(e);
    }
    this.admit();
    return picked.length;
  }

  /**
   * Applies an administrative action in memory (the caller has recorded it
   * in the journal). Returns how many known messages it touched.
   */
  async admin(action: 'hold' | 'release' | 'delete' | 'requeue', queueIds: string[] | 'ALL'): Promise<number> {
    const list: Entry[] = [];
    if (queueIds === 'ALL') list.push(...this.entries.values());
    else for (const id of queueIds) {
      const e = this.entries.get(id);
      if (e) list.push(e);
    }
    if (action === 'requeue') this.dispatcher.reviveAll();
    for (const e of list) {
      if (action === 'hold') this.hold(e);
      else if (action === 'release') this.release(e);
      else if (action === 'delete') this.forget(e);
      else this.requeue(e);
    }
    this.admit();
    return list.length;
  }

  /** Current counts. */
  /** The destinations view (qmgr's `destinations` request). */
  destinations(): DestinationView[] {
    return this.dispatcher.destinationViews(this.now());
  }

  load(): QmgrLoad {
    let hold = 0;
    for (const e of this.entries.values()) if (e.state === 'hold') hold++;
    const destinations = this.dispatcher.busyByNexthop();
    return { active: this.activeCount, deferred: this.due.size, hold, inFlight: this.dispatcher.inFlight, destinations };
  }

  /** Runs a deferred-queue scan now (the timer does this by itself). Returns how many messages became due. */
  scan(): number {
    return this.due.scan().length;
  }

  /** Stops starting deliveries; resolves when those in flight have reported and been recorded, or after the bound. */
  drain(): Promise<void> {
    this.draining = true;
    return new Promise<void>((resolve) => {
      if (this.isIdle()) return resolve();
      this.idleWaiters.push(resolve);
      if (!this.drainTimer) {
        this.drainTimer = setTimeout(() => this.wakeIdle(), this.deps.drainTimeoutMs ?? 30_000);
      }
    });
  }

  /** Clears every timer; the scheduler starts nothing afterwards. */
  stop(): void {
    this.draining = true;
    this.due.stop();
    this.wakeIdle();
  }

  // ---- queue placement ----

  private add(m: QueuedMessage): void {
    if (this.entries.has(m.queueId)) return;
    const msg = copyMessage(m);
    const e: Entry = {
      msg,
      state: 'gone',
      deleted: false,
      forced: msg.forcedRetry === true,
      resolved: new Map(),
      activeTime: 0,
      pass: undefined,
      jobs: new Set(),
      finished: false,
    };
    // A message whose failure notice was not made before a crash comes back for it.
    if (!msg.recipients.some(hasWork)) return;
    this.entries.set(msg.queueId, e);
    this.place(e);
  }

  /** Puts a message that is not active where it belongs: hold, incoming or deferred. */
  private place(e: Entry): void {
    if (e.deleted) return;
    const now = this.now();
    if (e.msg.hold) {
      e.state = 'hold';
      return;
    }
    let live = false;
    let dueAt = Number.POSITIVE_INFINITY;
    for (const r of e.msg.recipients) {
      if (r.state === 'ready') {
        dueAt = 0;
        live = true;
      } else if (r.state === 'deferred') {
        live = true;
        const at = e.forced ? 0 : (r.nextAttempt ?? 0);
        if (at < dueAt) dueAt = at;
      } else if (owesNotice(r)) {
        // A pass that only makes the failure notice: now, or after a notice bounce refused.
        live = true;
        const at = e.noticeRetryAt ?? 0;
        if (at < dueAt) dueAt = at;
      }
    }
    if (!live) {
      e.state = 'gone';
      this.entries.delete(e.msg.queueId);
      return;
    }
    if (dueAt <= now) {
      if (e.state !== 'incoming') {
        e.state = 'incoming';
        this.incoming.push(e);
      }
    } else {
      e.state = 'deferred';
      this.due.set(e.msg.queueId, dueAt);
    }
  }

  private onDue(ids: string[]): void {
    for (const id of ids) {
      const e = this.entries.get(id);
      if (e && e.state === 'deferred') this.place(e);
    }
    this.admit();
  }

  /** Moves waiting messages into the active queue, up to qmgr_message_active_limit. */
  private admit(): void {
    while (!this.draining && this.activeCount < this.params.messageActiveLimit && this.incoming.length > 0) {
      const e = this.incoming.shift()!;
      if (e.state === 'incoming' && !e.deleted) this.activate(e);
    }
    this.dispatcher.pump();
  }

  private leaveActive(e: Entry): void {
    if (e.state === 'active') {
      this.activeCount--;
      e.state = 'gone';
    }
  }

  // ---- admin ----

  private hold(e: Entry): void {
    e.msg.hold = true;
    if (e.state === 'deferred') this.due.delete(e.msg.queueId);
    if (e.state === 'active') this.cancelJobs(e);
    else if (e.state !== 'gone') e.state = 'hold';
  }

  private release(e: Entry): void {
    if (!e.msg.hold) return;
    e.msg.hold = false;
    if (e.state === 'hold') this.place(e);
  }

  private requeue(e: Entry): void {
    e.resolved.clear();
    e.forced = true;
    e.msg.hold = false;
    if (e.state === 'deferred') this.due.delete(e.msg.queueId);
    if (e.state === 'deferred' || e.state === 'hold') this.place(e);
  }

  private forget(e: Entry): void {
    e.deleted = true;
    e.pass = undefined;
    this.cancelJobs(e);
    this.due.delete(e.msg.queueId);
    this.leaveActive(e);
    e.state = 'gone';
    this.entries.delete(e.msg.queueId);
  }

  /** Withdraws a message's jobs that have not been dispatched yet. */
  private cancelJobs(e: Entry): void {
    const n = e.jobs.size;
    for (const job of e.jobs) job.cancelled = true;
    e.jobs.clear();
    if (e.pass && n > 0) {
      e.pass.pending -= n;
      if (e.pass.pending === 0) void finishPass(this.host, e);
    }
  }

  private matchesSite(e: Entry, site: string): boolean {
    const s = site.toLowerCase();
    const sBare = bareHost(s);
    for (let i = 0; i < e.msg.recipients.length; i++) {
      const r = e.msg.recipients[i];
      if (r.state !== 'deferred') continue;
      const at = r.address.lastIndexOf('@');
      if (at >= 0 && r.address.slice(at + 1).toLowerCase() === s) return true;
      const res = e.resolved.get(i);
      if (res && (res.nexthop.toLowerCase() === s || bareHost(res.nexthop) === sBare)) return true;
    }
    return false;
  }

  // ---- one pass through the active queue ----

  private activate(e: Entry): void {
    const now = this.now();
    e.state = 'active';
    this.activeCount++;
    e.activeTime = now;
    const forced = e.forced;
    e.forced = false;
    const candidates: number[] = [];
    const unresolved: number[] = [];
    let live = 0;
    e.msg.recipients.forEach((r, i) => {
      if (!isLive(r)) return;
      live++;
      if (r.state === 'ready' || forced || (r.nextAttempt ?? 0) <= now) {
        candidates.push(i);
        if (!e.resolved.has(i)) unresolved.push(i);
      }
    });
    this.log.queue(e.msg.queueId, `from=<${e.msg.sender}>, size=${e.msg.size}, nrcpt=${live} (queue active)`);
    e.pass = { pending: 1, delivered: [] };
    if (unresolved.length === 0) this.dispatcher.route(e, candidates, []);
    else void this.resolveThenRoute(e, candidates, unresolved);
  }

  private async resolveThenRoute(e: Entry, candidates: number[], unresolved: number[]): Promise<void> {
    const failed: number[] = [];
    await Promise.all(
      unresolved.map(async (i) => {
        try {
          const res = await this.deps.resolve(e.msg.recipients[i].address);
          if (!res || typeof res.transport !== 'string' || typeof res.nexthop !== 'string') throw new Error('malformed reply');
          e.resolved.set(i, e.msg.filter ? this.filtered(e.msg.filter, res) : res);
        } catch (err) {
          this.log.warning(`${e.msg.queueId}: resolve ${e.msg.recipients[i].address}: ${(err as Error)?.message ?? err}`);
          failed.push(i);
        }
      }),
    );
    this.dispatcher.route(e, candidates, failed);
  }

  /**
   * A message with a content filter goes to the filter's transport and
   * next hop instead of where its recipient resolves, as Postfix's qmgr
   * routes it (an empty next hop is $myhostname, as there). The filter's
   * text is checked when the message was received; a malformed one that a
   * journal still holds is sent to a transport of that name, which defers.
   */
  private filtered(filter: string, res: ResolvedAddress): ResolvedAddress {
    const colon = filter.indexOf(':');
    const transport = colon < 0 ? filter : filter.slice(0, colon);
    const nexthop = colon < 0 ? '' : filter.slice(colon + 1);
    return { ...res, transport, nexthop: nexthop || this.myhostname };
  }

  private get myhostname(): string {
    const c = this.deps.config;
    return (c.has('myhostname') && c.get('myhostname').trim()) || hostname();
  }

  // ---- drain ----

  private isIdle(): boolean {
    return this.dispatcher.inFlight === 0 && this.work === 0;
  }

  private checkIdle(): void {
    if (this.idleWaiters.length > 0 && this.isIdle()) this.wakeIdle();
  }

  private wakeIdle(): void {
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
