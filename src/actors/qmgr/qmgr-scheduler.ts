/**
 * qmgr-scheduler: the queue manager's scheduler as a library (Postfix's
 * qmgr). It holds the active queue and the deferred queue's wake-up timer,
 * resolves recipients, groups them per (transport, nexthop) into delivery
 * requests, dispatches them under per-destination and per-transport
 * concurrency limits, records every outcome through the journal before
 * acting on it, retries deferred mail with backoff, expires old mail and
 * asks bounce for failure, delay and success notices.
 *
 * The actor wrapper owns the I/O: it passes functions in QmgrDeps and calls
 * start / arrived / flush / admin / load / drain / stop. The records it
 * keeps are in qmgr-entry; the end of a pass (expiry, notices, removal) is
 * in qmgr-pass, which reaches the scheduler only through a PassHost.
 *
 * Errors: nothing a dependency does reaches the caller. A rejected deliver()
 * defers its recipients (4.3.0) for a retry; a failed resolve defers the
 * recipient; a failed recordOutcomes is logged and the recipients stay to be
 * retried (a duplicate delivery at worst, never a loss); a failed notify is
 * logged. The constructor throws ConfigError on a malformed parameter.
 */
import type { MainConfig } from '../../config/main-config.js';
import type { DeliveryRequest, DeliveryResult, ResolvedAddress } from '../../protocol/protocol.js';
import type { QueuedMessage, RecipientOutcome } from '../../store/store-types.js';
import type { Logger } from '../../util/log.js';
import { DueTimer } from './qmgr-due.js';
import { AGENT_CRASHED, bareHost, copyMessage, isLive, RESOLVER_FAILED, type Entry, type Job, type NoticeRecipient } from './qmgr-entry.js';
import { Destination } from './qmgr-feedback.js';
import { Fifo } from './qmgr-fifo.js';
import { readQmgrParams, TransportLimitTable, type QmgrParams } from './qmgr-params.js';
import { applyOutcomes, finishPass, type PassHost } from './qmgr-pass.js';
import { buildRequest, readResult } from './qmgr-request.js';
import { delayFields, nextAttemptAfterDeferral } from './qmgr-policy.js';

export type { NoticeRecipient } from './qmgr-entry.js';

/** What the scheduler needs from the rest of the system. */
export interface QmgrDeps {
  config: MainConfig;
  log: Logger;
  /** trivial-rewrite's resolve. */
  resolve(address: string): Promise<ResolvedAddress>;
  /** Hands a request to the delivery agent named by transport; rejects with `retryable: true` when the agent crashed or timed out. */
  deliver(transport: string, req: DeliveryRequest): Promise<DeliveryResult>;
  /** The journal; resolves once the outcomes are durable. */
  recordOutcomes(queueId: string, outcomes: RecipientOutcome[]): Promise<{ finished: boolean }>;
  /** bounce: queue a failure, delay or success notice. */
  notify(req: { message: QueuedMessage; kind: 'failure' | 'delay' | 'success'; recipients: NoticeRecipient[] }): Promise<{ queueId?: string }>;
  /** Clock in ms since the epoch; Date.now by default. */
  now?: () => number;
  /** Longest drain() waits for deliveries in flight; 30 s by default. */
  drainTimeoutMs?: number;
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
  private readonly dests = new Map<string, Destination<Job>>();
  private readonly readyDests = new Set<Destination<Job>>();
  private readonly transportBusy = new Map<string, number>();
  private readonly due: DueTimer;
  private activeCount = 0;
  private inFlight = 0;
  /** Records and notices under way, which drain() also waits for. */
  private work = 0;
  private draining = false;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];
  private drainTimer: NodeJS.Timeout | undefined;
  /** The end-of-pass code's only way into this scheduler. */
  private readonly passHost: PassHost;

  constructor(private readonly deps: QmgrDeps) {
    this.params = readQmgrParams(deps.config);
    this.limits = new TransportLimitTable(deps.config, deps.log);
    this.now = deps.now ?? Date.now;
    this.log = deps.log;
    this.due = new DueTimer(this.now, this.params.queueRunDelayMs, (ids) => this.onDue(ids));
    this.passHost = {
      params: this.params,
      log: this.log,
      now: () => this.now(),
      recordOutcomes: (queueId, outcomes) => this.deps.recordOutcomes(queueId, outcomes),
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
    };
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

  /** Makes deferred mail due now: all of it, or that for `site` (a nexthop or recipient domain). Returns how many messages. */
  flush(site?: string): number {
    for (const d of this.dests.values()) d.revive();
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
    if (action === 'requeue') for (const d of this.dests.values()) d.revive();
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
  load(): QmgrLoad {
    let hold = 0;
    for (const e of this.entries.values()) if (e.state === 'hold') hold++;
    const destinations: Record<string, number> = {};
    for (const d of this.dests.values()) {
      if (d.busy > 0) destinations[d.nexthop] = (destinations[d.nexthop] ?? 0) + d.busy;
    }
    return { active: this.activeCount, deferred: this.due.size, hold, inFlight: this.inFlight, destinations };
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
    this.stopped = true;
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
    if (!msg.recipients.some(isLive)) return;
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
    this.pump();
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
      if (e.pass.pending === 0) void finishPass(this.passHost, e);
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
    e.pass = { pending: 1, bounced: [], delivered: [] };
    if (unresolved.length === 0) this.route(e, candidates, []);
    else void this.resolveThenRoute(e, candidates, unresolved);
  }

  private async resolveThenRoute(e: Entry, candidates: number[], unresolved: number[]): Promise<void> {
    const failed: number[] = [];
    await Promise.all(
      unresolved.map(async (i) => {
        try {
          const res = await this.deps.resolve(e.msg.recipients[i].address);
          if (!res || typeof res.transport !== 'string' || typeof res.nexthop !== 'string') throw new Error('malformed reply');
          e.resolved.set(i, res);
        } catch (err) {
          this.log.warning(`${e.msg.queueId}: resolve ${e.msg.recipients[i].address}: ${(err as Error)?.message ?? err}`);
          failed.push(i);
        }
      }),
    );
    this.route(e, candidates, failed);
  }

  /** Groups resolved candidates per destination into jobs and queues them. */
  private route(e: Entry, candidates: number[], failed: number[]): void {
    if (e.deleted || !e.pass) return;
    if (!e.msg.hold) {
      const now = this.now();
      const failedSet = new Set(failed);
      const groups = new Map<string, { dest: Destination<Job>; indices: number[] }>();
      for (const i of candidates) {
        if (failedSet.has(i)) continue;
        const res = e.resolved.get(i)!;
        const key = `${res.transport}\u0000${res.nexthop}`;
        let g = groups.get(key);
        if (!g) {
          g = { dest: this.destination(key, res.transport, res.nexthop), indices: [] };
          groups.set(key, g);
        }
        g.indices.push(i);
      }
      for (const { dest, indices } of groups.values()) {
        const limit = this.limits.get(dest.transport).recipientLimit;
        for (let k = 0; k < indices.length; k += limit) {
          const chunk = limit >= indices.length ? indices : indices.slice(k, k + limit);
          if (dest.isDead(now)) {
            this.deferWithoutTrying(e, chunk, `delivery temporarily suspended: ${dest.dead!.reason}`, dest.dead!.dsn, false);
            continue;
          }
          const job: Job = { entry: e, dest, indices: chunk, cancelled: false };
          e.pass.pending++;
          e.jobs.add(job);
          dest.todo.push(job);
          this.readyDests.add(dest);
        }
      }
      if (failed.length > 0) this.deferWithoutTrying(e, failed, RESOLVER_FAILED, '4.3.0', false);
    }
    this.endWork(e);
    this.pump();
  }

  private destination(key: string, transport: string, nexthop: string): Destination<Job> {
    let d = this.dests.get(key);
    if (!d) {
      const l = this.limits.get(transport);
      d = new Destination<Job>(
        transport,
        nexthop,
        this.params.initialConcurrency,
        Math.min(l.destinationConcurrency, l.processLimit),
        this.params.failedCohortLimit,
      );
      this.dests.set(key, d);
    }
    return d;
  }

  /** Starts every delivery the limits allow, round-robin over destinations. */
  private pump(): void {
    if (this.draining) return;
    const now = this.now();
    for (const dest of this.readyDests) {
      if (dest.todo.length > 0 && dest.isDead(now)) this.deferTodo(dest);
      const processLimit = this.limits.get(dest.transport).processLimit;
      while (dest.todo.length > 0 && dest.hasSlot()) {
        if ((this.transportBusy.get(dest.transport) ?? 0) >= processLimit) break;
        const job = dest.todo.shift()!;
        if (!job.cancelled) this.dispatch(job);
      }
      if (dest.todo.length === 0) this.readyDests.delete(dest);
    }
  }

  private dispatch(job: Job): void {
    const e = job.entry;
    const { dest } = job;
    e.jobs.delete(job);
    dest.busy++;
    this.transportBusy.set(dest.transport, (this.transportBusy.get(dest.transport) ?? 0) + 1);
    this.inFlight++;
    const req = buildRequest(e.msg, job.indices, dest.transport, dest.nexthop, e.activeTime);
    let p: Promise<DeliveryResult>;
    try {
      p = this.deps.deliver(dest.transport, req);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (res) => this.onResult(job, res),
      (err) => this.onReject(job, err),
    );
  }

  /** A delivery slot is free again. */
  private freeSlot(job: Job): void {
    const { dest } = job;
    dest.busy--;
    this.transportBusy.set(dest.transport, (this.transportBusy.get(dest.transport) ?? 1) - 1);
    this.inFlight--;
  }

  private dropIfIdle(dest: Destination<Job>): void {
    // An idle queue is freed, as Postfix frees it; its window starts over.
    if (dest.busy === 0 && dest.todo.length === 0 && !dest.dead) {
      this.dests.delete(`${dest.transport}\u0000${dest.nexthop}`);
      this.readyDests.delete(dest);
    }
  }

  private onResult(job: Job, res: DeliveryResult): void {
    this.freeSlot(job);
    const e = job.entry;
    const now = this.now();
    const { outcomes, relays, siteFailure } = readResult(res, job.indices, nextAttemptAfterDeferral(this.params, e.msg.arrivalTime, now));
    // Every recipient deferred: the site, not the recipients, is the problem.
    if (siteFailure) {
      if (job.dest.failure(now, this.params.minimalBackoffMs, siteFailure)) this.deferTodo(job.dest);
    } else {
      job.dest.success();
    }
    if (!e.deleted) this.recordAndApply(e, outcomes, relays, true);
    this.endWork(e);
    this.dropIfIdle(job.dest);
    this.pump();
  }

  private onReject(job: Job, err: unknown): void {
    this.freeSlot(job);
    const e = job.entry;
    const retryable = (err as { retryable?: unknown })?.retryable === true;
    if (!retryable) this.log.warning(`${e.msg.queueId}: transport ${job.dest.transport}: ${(err as Error)?.message ?? String(err)}`);
    if (!e.deleted) {
      // A crashed agent says nothing about the site: retry soon, without feedback.
      const now = this.now();
      const at = retryable ? now + this.params.minimalBackoffMs : nextAttemptAfterDeferral(this.params, e.msg.arrivalTime, now);
      this.deferWithoutTrying(e, job.indices, AGENT_CRASHED, '4.3.0', false, at);
    }
    this.endWork(e);
    this.dropIfIdle(job.dest);
    this.pump();
  }

  /** A dead destination: its waiting jobs are deferred without a try. */
  private deferTodo(dest: Destination<Job>): void {
    const dead = dest.dead;
    if (!dead) return;
    this.readyDests.delete(dest);
    for (const job of dest.todo.drain()) {
      if (job.cancelled) continue;
      job.entry.jobs.delete(job);
      this.deferWithoutTrying(job.entry, job.indices, `delivery temporarily suspended: ${dead.reason}`, dead.dsn, false);
      this.endWork(job.entry);
    }
  }

  /** Defers recipients that qmgr itself gives up on for now, logging them as the agents would. */
  private deferWithoutTrying(e: Entry, indices: number[], reason: string, dsn: string, attempted: boolean, at?: number): void {
    const now = this.now();
    const nextAttempt = at ?? nextAttemptAfterDeferral(this.params, e.msg.arrivalTime, now);
    const delays = delayFields(e.msg.arrivalTime, e.activeTime || now, now);
    const outcomes: RecipientOutcome[] = indices.map((i) => {
      this.log.queue(e.msg.queueId, `to=<${e.msg.recipients[i].address}>, relay=none, ${delays}, dsn=${dsn}, status=deferred (${reason})`);
      return { index: i, state: 'deferred', reason, dsn, nextAttempt };
    });
    this.recordAndApply(e, outcomes, undefined, attempted);
  }

  /** Records outcomes in the journal, then (only then) applies them in memory. */
  private recordAndApply(e: Entry, outcomes: RecipientOutcome[], relays: Map<number, string> | undefined, attempted: boolean): void {
    if (e.pass) e.pass.pending++;
    this.work++;
    let p: Promise<{ finished: boolean }>;
    try {
      p = this.deps.recordOutcomes(e.msg.queueId, outcomes);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (r) => {
        if (e.deleted) return;
        applyOutcomes(e, outcomes, relays, attempted);
        if (r?.finished) e.finished = true;
      },
      (err) => {
        // Not durable: keep the recipients to retry. A delivered one may be delivered twice; none is lost.
        this.log.warning(`${e.msg.queueId}: cannot record delivery status: ${(err as Error)?.message ?? String(err)}`);
        if (e.deleted) return;
        const at = this.now() + this.params.minimalBackoffMs;
        for (const o of outcomes) {
          const r = e.msg.recipients[o.index];
          if (r && isLive(r)) {
            r.state = 'deferred';
            r.nextAttempt = at;
          }
        }
      },
    ).finally(() => {
      this.work--;
      this.endWork(e);
      this.checkIdle();
    });
  }

  private endWork(e: Entry): void {
    if (!e.pass) return;
    e.pass.pending--;
    if (e.pass.pending === 0) void finishPass(this.passHost, e);
  }

  // ---- drain ----

  private isIdle(): boolean {
    return this.inFlight === 0 && this.work === 0;
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
