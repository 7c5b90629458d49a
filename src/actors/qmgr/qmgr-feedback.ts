/**
 * qmgr-feedback: one destination's queue and its concurrency window, after
 * Postfix's qmgr_queue and qmgr_feedback.
 *
 * The rule, kept simple and deterministic:
 * - slow start: the window opens at initial_destination_concurrency (capped
 *   at the destination's limit) and grows by one per successful delivery,
 *   up to `<transport>_destination_concurrency_limit`;
 * - a site failure (every recipient of a request deferred, as a refused or
 *   dropped connection gives) halves the window, at least 1;
 * - a site failure while the window is already 1 counts a failed cohort; at
 *   default_destination_concurrency_failed_cohort_limit failed cohorts the
 *   destination is dead until minimal_backoff_time has passed, and comes
 *   back with the initial window. Any success clears the count (and a
 *   delivery that was in flight and succeeds revives a dead destination).
 * Never throws.
 */
import { Fifo } from './qmgr-fifo.js';
import { hashKey } from '../../runtime/peer.js';

/** Why a dead destination is dead: copied to the recipients it defers. */
export interface DeadReason {
  reason: string;
  dsn: string;
}

/** One (transport, nexthop) queue: pending jobs, busy count and window. */
export class Destination<J> {
  /** Jobs waiting for a delivery slot. */
  readonly todo = new Fifo<J>();
  /** Deliveries in flight. */
  busy = 0;
  window: number;
  failedCohorts = 0;
  /** While now < deadUntil the destination is not tried. */
  deadUntil = 0;
  dead: DeadReason | undefined;
  /** The last site failure, for the HTTP API's destinations view. */
  lastError: (DeadReason & { at: number }) | undefined;

  constructor(
    readonly transport: string,
    readonly nexthop: string,
    private readonly initial: number,
    readonly limit: number,
    private readonly failedCohortLimit: number,
  ) {
    this.window = Math.max(1, Math.min(initial, limit));
    this.key = `${transport}\u0000${nexthop}`;
    this.transportKey = `${transport}\u0001`;
    this.laneSeed = hashKey(`${transport}:${nexthop}`);
  }

  /** Deliveries in flight per lane (qmgr-lanes), with one queue shard. */
  readonly laneBusy: number[] = [];
  /** Its first lane is this modulo the number of lanes. */
  readonly laneSeed: number;

  /** A lane's key in the host-wide counters. */
  laneKey(lane: number): string {
    return `${this.key}\u0002${lane}`;
  }

  /** This destination's key in the host-wide counters (shared-limits). */
  readonly key: string;
  /** Its transport's key there (the process limit). */
  readonly transportKey: string;

  /** True while the destination may not be tried; revives it once its time is up. */
  isDead(now: number): boolean {
    if (!this.dead) return false;
    if (now < this.deadUntil) return true;
    this.dead = undefined;
    this.failedCohorts = 0;
    this.window = Math.max(1, Math.min(this.initial, this.limit));
    return false;
  }

  /** Forgets a dead status (flush and requeue, as Postfix's qmgr re-enables every queue on a flush). */
  revive(): void {
    if (!this.dead) return;
    this.deadUntil = 0;
    this.isDead(0);
  }

  /** True when another delivery may start now. */
  hasSlot(): boolean {
    return this.busy < this.window;
  }

  /** Positive feedback: one more concurrent delivery, up to the limit. A success also revives a dead destination. */
  success(): void {
    this.failedCohorts = 0;
    if (this.dead) {
      this.dead = undefined;
      this.deadUntil = 0;
    }
    if (this.window < this.limit) this.window++;
  }

  /**
   * Negative feedback after a site failure. Returns true when this failure
   * made the destination dead (then its waiting jobs should be deferred).
   */
  failure(now: number, deadForMs: number, why: DeadReason): boolean {
    this.lastError = { reason: why.reason, dsn: why.dsn, at: now };
    if (this.dead) return false;
    if (this.window <= 1) {
      this.failedCohorts++;
      if (this.failedCohorts >= this.failedCohortLimit) {
        this.dead = { reason: why.reason, dsn: why.dsn };
        this.deadUntil = now + deadForMs;
        return true;
      }
      return false;
    }
    this.window = Math.max(1, Math.floor(this.window / 2));
    return false;
  }
}
