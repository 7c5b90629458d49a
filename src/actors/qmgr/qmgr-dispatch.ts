/**
 * qmgr-dispatch: the scheduler's delivery side (Postfix's qmgr_deliver and
 * the job selection of qmgr_entry). It keeps the per-(transport, nexthop)
 * destination queues, groups a pass's resolved recipients into jobs of at
 * most the transport's recipient limit, starts every delivery the
 * destination and transport concurrency limits allow, reads each agent's
 * reply back into outcomes, feeds the concurrency window, and records
 * every outcome through the journal before applying it in memory. It
 * reaches the scheduler only through a DispatchHost.
 *
 * Errors: nothing reaches the caller. A rejected deliver() defers its
 * recipients (4.3.0); a destination found dead defers its waiting jobs
 * without a try; a failed recordOutcomes is logged and the recipients stay
 * to be retried (a duplicate delivery at worst, never a loss).
 */
import type { DeliveryRequest, DeliveryResult, DestinationView } from '../../protocol/protocol.js';
import type { RecipientOutcome } from '../../store/store-types.js';
import { formatDelivery } from '../../global/delivery-log.js';
import { AGENT_CRASHED, isLive, RESOLVER_FAILED, TRANSPORT_UNAVAILABLE, type Entry, type Job } from './qmgr-entry.js';
import { Destination } from './qmgr-feedback.js';
import type { TransportLimitTable } from './qmgr-params.js';
import type { SharedLimits } from '../../runtime/shared-limits.js';
import { applyOutcomes, finishPass, type PassHost } from './qmgr-pass.js';
import { nextAttemptAfterDeferral } from './qmgr-policy.js';
import { pickLane } from './qmgr-lanes.js';
import { buildRequest, readResult, type SuccessNote } from './qmgr-request.js';

/** What dispatch needs from the scheduler: the end of a pass (it ends passes), plus the agents and limits. */
export interface DispatchHost extends PassHost {
  readonly limits: TransportLimitTable;
  /** Hands a request to the delivery agent named by transport, to the thread of that lane (qmgr-lanes). */
  deliver(transport: string, req: DeliveryRequest, lane: number): Promise<DeliveryResult>;
  /** The threads that deliver this transport now: its lanes. */
  lanes(transport: string): number;
  /** False when no master.cf service delivers this transport. */
  hasTransport(transport: string): boolean;
  /** True once drain() or stop() began: no delivery starts. */
  isDraining(): boolean;
  /** The host-wide destination and transport counters, when several queue shards deliver (shared-limits). */
  readonly shared?: SharedLimits;
}

/** The destination queues and the deliveries in flight; see the file comment. */
/** How long, and for how many destinations, an idle destination's last error is remembered. */
const RECENT_ERROR_MS = 3_600_000;
const RECENT_ERROR_LIMIT = 1000;

export class Dispatcher {
  private readonly dests = new Map<string, Destination<Job>>();
  /** Last errors of destinations freed while idle, oldest first (destinationViews). */
  private readonly recentErrors = new Map<string, { transport: string; nexthop: string; limit: number; lastError: { reason: string; dsn: string; at: number } }>();
  private readonly readyDests = new Set<Destination<Job>>();
  private readonly transportBusy = new Map<string, number>();
  /** Transports without a service, already warned about (once per qmgr, as Postfix's throttled transport). */
  private readonly missingTransports = new Set<string>();
  private inFlightCount = 0;

  constructor(private readonly host: DispatchHost) {}

  /** Deliveries in flight now. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Gives every dead destination its initial window back (flush, requeue). */
  reviveAll(): void {
    for (const d of this.dests.values()) d.revive();
  }

  /** nexthop -> deliveries in flight. */
  /** Every destination with work now, and those idle ones whose last error is remembered, with window, work and state. */
  destinationViews(now: number): DestinationView[] {
    const out = [...this.dests.values()].map((d) => {
      const v: DestinationView = { transport: d.transport, nexthop: d.nexthop, active: d.busy, window: d.window, limit: d.limit, queued: d.todo.length, dead: d.isDead(now) };
      if (d.lastError) v.lastError = { ...d.lastError };
      return v;
    });
    for (const [key, r] of this.recentErrors) {
      if (this.dests.has(key)) continue;
      if (now - r.lastError.at > RECENT_ERROR_MS) this.recentErrors.delete(key);
      else out.push({ ...r, active: 0, window: 0, queued: 0, dead: false, lastError: { ...r.lastError } });
    }
    return out;
  }

  busyByNexthop(): Record<string, number> {
    const destinations: Record<string, number> = {};
    for (const d of this.dests.values()) {
      if (d.busy > 0) destinations[d.nexthop] = (destinations[d.nexthop] ?? 0) + d.busy;
    }
    return destinations;
  }

  /** Groups resolved candidates per destination into jobs and queues them. */
  route(e: Entry, candidates: number[], failed: number[]): void {
    if (e.deleted || !e.pass) return;
    if (!e.msg.hold) {
      const now = this.host.now();
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
        if (!this.transportAvailable(dest.transport)) {
          this.deferWithoutTrying(e, indices, TRANSPORT_UNAVAILABLE, '4.3.0', false);
          continue;
        }
        const limit = this.host.limits.get(dest.transport).recipientLimit;
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

  /**
   * Whether a service delivers the transport. Postfix's qmgr cannot connect
   * to private/<transport>, logs it, and defers with "mail transport
   * unavailable"; waiting for a peer that is never wired would hold the
   * recipients for the whole delivery timeout instead.
   */
  private transportAvailable(transport: string): boolean {
    if (this.host.hasTransport(transport)) return true;
    if (!this.missingTransports.has(transport)) {
      this.missingTransports.add(transport);
      this.host.log.warning(`connect to transport private/${transport}: no master.cf service of that name runs a delivery agent`);
    }
    return false;
  }

  /**
   * Starts every delivery the limits allow, round-robin over destinations.
   * With several queue shards, each delivery also takes a host-wide slot of
   * its destination and of its transport; when another shard holds the
   * last one, this pump runs again once some shard gives one back.
   */
  pump(): void {
    if (this.host.isDraining()) return;
    const now = this.host.now();
    const shared = this.host.shared;
    const seen = shared?.generation() ?? 0;
    let blocked = false;
    for (const dest of this.readyDests) {
      if (dest.todo.length > 0 && dest.isDead(now)) this.deferTodo(dest);
      const processLimit = this.host.limits.get(dest.transport).processLimit;
      while (dest.todo.length > 0 && dest.hasSlot()) {
        if ((this.transportBusy.get(dest.transport) ?? 0) >= processLimit) break;
        const job = dest.todo.peek()!;
        if (!job.cancelled) {
          job.lane = this.takeLane(dest, processLimit);
          if (job.lane < 0) {
            // Lanes are full only while the agents' number changes (one shard), or another shard holds the slots.
            blocked = shared !== undefined;
            break;
          }
        }
        dest.todo.shift();
        if (!job.cancelled) this.dispatch(job);
      }
      if (dest.todo.length === 0) this.readyDests.delete(dest);
    }
    if (blocked) shared!.wake(seen, () => this.pump());
  }

  /**
   * The lane a delivery to `dest` takes now (with several shards, with its
   * host-wide destination and transport slots), or -1 when none is free.
   */
  private takeLane(dest: Destination<Job>, processLimit: number): number {
    const lanes = Math.max(1, this.host.lanes(dest.transport));
    const start = dest.laneSeed % lanes;
    const shared = this.host.shared;
    if (shared) {
      return shared.acquireLane(dest.key, dest.limit, dest.transportKey, processLimit, {
        key: (lane) => dest.laneKey(lane),
        pick: (busy) => pickLane(dest.limit, lanes, start, busy),
      });
    }
    return pickLane(dest.limit, lanes, start, (lane) => dest.laneBusy[lane] ?? 0);
  }

  /** One step of a pass is done; the pass ends when none is left. */
  endWork(e: Entry): void {
    if (!e.pass) return;
    e.pass.pending--;
    if (e.pass.pending === 0) void finishPass(this.host, e);
  }

  private destination(key: string, transport: string, nexthop: string): Destination<Job> {
    let d = this.dests.get(key);
    if (!d) {
      const l = this.host.limits.get(transport);
      d = new Destination<Job>(
        transport,
        nexthop,
        this.host.params.initialConcurrency,
        Math.min(l.destinationConcurrency, l.processLimit),
        this.host.params.failedCohortLimit,
      );
      this.dests.set(key, d);
    }
    return d;
  }

  private dispatch(job: Job): void {
    const e = job.entry;
    const { dest } = job;
    e.jobs.delete(job);
    dest.busy++;
    const lane = job.lane ?? 0;
    dest.laneBusy[lane] = (dest.laneBusy[lane] ?? 0) + 1;
    this.transportBusy.set(dest.transport, (this.transportBusy.get(dest.transport) ?? 0) + 1);
    this.inFlightCount++;
    const req = buildRequest(e.msg, job.indices, dest.transport, dest.nexthop, e.activeTime);
    let p: Promise<DeliveryResult>;
    try {
      p = this.host.deliver(dest.transport, req, lane);
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
    const lane = job.lane ?? 0;
    this.host.shared?.release(dest.key, dest.transportKey, dest.laneKey(lane));
    dest.laneBusy[lane]--;
    dest.busy--;
    this.transportBusy.set(dest.transport, (this.transportBusy.get(dest.transport) ?? 1) - 1);
    this.inFlightCount--;
  }

  private dropIfIdle(dest: Destination<Job>): void {
    // An idle queue is freed, as Postfix frees it; its window starts over.
    if (dest.busy === 0 && dest.todo.length === 0 && !dest.dead) {
      const key = `${dest.transport}\u0000${dest.nexthop}`;
      // Its last error outlives it for a while, so the API can show why mail waits for it.
      if (dest.lastError) {
        this.recentErrors.delete(key);
        this.recentErrors.set(key, { transport: dest.transport, nexthop: dest.nexthop, limit: dest.limit, lastError: dest.lastError });
        if (this.recentErrors.size > RECENT_ERROR_LIMIT) this.recentErrors.delete(this.recentErrors.keys().next().value!);
      }
      this.dests.delete(key);
      this.readyDests.delete(dest);
    }
  }

  private onResult(job: Job, res: DeliveryResult): void {
    this.freeSlot(job);
    const e = job.entry;
    const now = this.host.now();
    const { outcomes, relays, successNotes, siteFailure } = readResult(res, job.indices, nextAttemptAfterDeferral(this.host.params, e.msg.arrivalTime, now));
    // Every recipient deferred: the site, not the recipients, is the problem.
    if (siteFailure) {
      if (job.dest.failure(now, this.host.params.minimalBackoffMs, siteFailure)) this.deferTodo(job.dest);
    } else {
      job.dest.success();
    }
    if (!e.deleted) this.recordAndApply(e, outcomes, relays, true, successNotes);
    this.endWork(e);
    this.dropIfIdle(job.dest);
    this.pump();
  }

  private onReject(job: Job, err: unknown): void {
    this.freeSlot(job);
    const e = job.entry;
    const retryable = (err as { retryable?: unknown })?.retryable === true;
    if (!retryable) this.host.log.warning(`${e.msg.queueId}: transport ${job.dest.transport}: ${(err as Error)?.message ?? String(err)}`);
    if (!e.deleted) {
      // A crashed agent says nothing about the site: retry soon, without feedback.
      const now = this.host.now();
      const at = retryable ? now + this.host.params.minimalBackoffMs : nextAttemptAfterDeferral(this.host.params, e.msg.arrivalTime, now);
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
    const now = this.host.now();
    const nextAttempt = at ?? nextAttemptAfterDeferral(this.host.params, e.msg.arrivalTime, now);
    const { queueId, arrivalTime } = e.msg;
    const activeTime = e.activeTime || now;
    const outcomes: RecipientOutcome[] = indices.map((i) => {
      // No connection was made: delays c and d are 0.
      const line = formatDelivery({
        to: e.msg.recipients[i].address, relay: 'none', arrivalTime, activeTime,
        connectStart: now, transmitStart: now, end: now, dsn, status: 'deferred', reason,
      });
      this.host.log.queue(queueId, line);
      return { index: i, state: 'deferred', reason, dsn, nextAttempt };
    });
    this.recordAndApply(e, outcomes, undefined, attempted);
  }

  /** Records outcomes in the journal, then (only then) applies them in memory. */
  private recordAndApply(e: Entry, outcomes: RecipientOutcome[], relays: Map<number, string> | undefined, attempted: boolean, successNotes?: Map<number, SuccessNote>): void {
    if (e.pass) e.pass.pending++;
    this.host.workStarted();
    let p: Promise<{ finished: boolean }>;
    try {
      p = this.host.recordOutcomes(e.msg.queueId, outcomes);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (r) => {
        if (e.deleted) return;
        applyOutcomes(e, outcomes, relays, attempted, undefined, successNotes);
        if (r?.finished) e.finished = true;
      },
      (err) => {
        // Not durable: keep the recipients to retry. A delivered one may be delivered twice; none is lost.
        this.host.log.warning(`${e.msg.queueId}: cannot record delivery status: ${(err as Error)?.message ?? String(err)}`);
        if (e.deleted) return;
        const at = this.host.now() + this.host.params.minimalBackoffMs;
        for (const o of outcomes) {
          const r = e.msg.recipients[o.index];
          if (r && isLive(r)) {
            r.state = 'deferred';
            r.nextAttempt = at;
          }
        }
      },
    ).finally(() => {
      this.host.workDone();
      this.endWork(e);
      this.host.checkIdle();
    });
  }
}
