/**
 * restart-policy: when a crashed actor comes back. The rule:
 * - Before the daemon has started (start() not finished), OTP's restart
 *   intensity stands: more than supervisor_restart_limit restarts of one
 *   actor within supervisor_restart_window mean a configuration that cannot
 *   come up, and start fails (fatal) rather than looping.
 * - Once the daemon serves, restarts never stop it: neither load nor one
 *   client's input may turn into a stopped daemon. An actor that crashes is
 *   restarted at once; past the intensity limit, its restarts are throttled
 *   instead, each delay doubling from one second up to
 *   service_throttle_time, and the crash rate falls back as old restarts
 *   leave the window. An actor that dies before it was ever ready is
 *   Postfix's "bad command startup": throttled for service_throttle_time at
 *   once, as Postfix's master does.
 * Counts are per actor (slot), so one crashing service slows no other.
 * Malformed values fall back to the defaults; `check` reports them.
 */
import { MainConfig } from '../config/main-config.js';

/** What to do with a crashed actor. */
export type RestartDecision =
  | { kind: 'now' }
  | { kind: 'later'; delayMs: number; reason: string }
  | { kind: 'fatal'; reason: string };

/** Restart times within a sliding window, as OTP counts restart intensity. */
export class RestartIntensity {
  private times: number[] = [];

  constructor(
    readonly limit: number,
    readonly windowSeconds: number,
  ) {}

  /** Records one restart; returns true when the limit is now exceeded. */
  record(now = Date.now()): boolean {
    const since = now - this.windowSeconds * 1000;
    this.times = this.times.filter((t) => t > since);
    this.times.push(now);
    return this.times.length > this.limit;
  }

  /** Restarts within the window. */
  count(now = Date.now()): number {
    const since = now - this.windowSeconds * 1000;
    return this.times.filter((t) => t > since).length;
  }
}

/** The first throttled restart waits this long; each further one twice the one before. */
const FIRST_DELAY_MS = 1000;

/** The restart rule above, with a restart history per actor. */
export class RestartPolicy {
  /** Restart times per actor, oldest first. */
  private readonly history = new WeakMap<object, number[]>();

  constructor(
    public limit: number,
    public windowSeconds: number,
    /** service_throttle_time, in seconds. */
    public throttleSeconds: number,
  ) {}

  /** Reads supervisor_restart_limit (10), supervisor_restart_window (60s) and service_throttle_time (60s). */
  static fromParams(params: Record<string, string>, dir: string): RestartPolicy {
    const p = new RestartPolicy(10, 60, 60);
    p.configure(params, dir);
    return p;
  }

  /** Takes new limits (after a reload); the histories stay. */
  configure(params: Record<string, string>, dir: string): void {
    const c = new MainConfig(params, dir);
    const read = (name: string, fallback: number, how: (n: string) => number): number => {
      try {
        return c.get(name) ? how(name) : fallback;
      } catch {
        return fallback; // check reports the malformed value
      }
    };
    this.limit = read('supervisor_restart_limit', 10, (n) => c.int(n));
    this.windowSeconds = read('supervisor_restart_window', 60, (n) => c.time(n));
    this.throttleSeconds = read('service_throttle_time', 60, (n) => c.time(n));
  }

  /**
   * Records a crash of `actor` (any object that stands for it: the slot)
   * at `now` and decides its restart. `started`: the daemon serves;
   * `wasReady`: the crashed incarnation had become ready.
   */
  decide(actor: object, name: string, now: number, started: boolean, wasReady: boolean): RestartDecision {
    const since = now - this.windowSeconds * 1000;
    const times = (this.history.get(actor) ?? []).filter((t) => t > since);
    times.push(now);
    this.history.set(actor, times);
    const n = times.length;
    const exceeded = n > this.limit;
    const throttleMs = this.throttleSeconds * 1000;
    if (!started) {
      if (exceeded) return { kind: 'fatal', reason: `restart intensity exceeded: ${n} restarts in ${this.windowSeconds} s; last: ${name}` };
      return { kind: 'now' };
    }
    if (!wasReady) return { kind: 'later', delayMs: throttleMs, reason: `${name}: bad command startup -- throttling` };
    if (!exceeded) return { kind: 'now' };
    const delayMs = Math.min(throttleMs, FIRST_DELAY_MS * 2 ** Math.min(30, n - this.limit - 1));
    return { kind: 'later', delayMs, reason: `restart intensity exceeded: ${n} restarts of ${name} in ${this.windowSeconds} s -- throttling` };
  }
}
