/**
 * supervisor-watchdog: tells a busy actor thread from a dead one. Every
 * heartbeat the supervisor pings each running actor; an actor that has not
 * answered is "stalled". While it is stalled the watchdog reads the thread's
 * CPU time (Worker.cpuUsage(), which answers from the main thread even while
 * the worker's event loop is blocked):
 * - CPU time advancing: the thread is busy (a large message, a burst of
 *   load). It is left alone, with one warning, for up to `busyTimeoutMs`
 *   (supervisor_busy_timeout) in one stall; only past that is it ended, as
 *   a thread that loops forever must not keep its sessions hostage.
 * - no CPU progress for `missed` heartbeats: the thread is dead (blocked in
 *   a wait that will not end, or its channel is gone) and is ended at once.
 * Ending is the caller's `kill`; the restart that follows is the
 * supervisor's. Without Worker.cpuUsage (Node before 24) every stall counts
 * as dead after `missed` heartbeats, as before. Nothing here throws.
 */
import type { Logger } from '../util/log.js';
import type { Incarnation } from './supervisor-types.js';

export interface WatchdogOptions {
  heartbeatMs: number;
  /** Heartbeats without an answer and without CPU progress after which a thread is dead. */
  missed: number;
  /** The longest a busy thread may go without answering (updated on reload). */
  busyTimeoutMs: number;
  log: Logger;
  /** Ends the thread; `why` is the log line's reason. */
  kill(inc: Incarnation, why: string): void;
}

/** One stall of one thread. */
interface Stall {
  since: number;
  /** CPU time (µs) at the last reading, and when that reading was asked for. */
  cpu?: number;
  cpuAt: number;
  /** When the CPU time was last seen advancing (the stall's start until then). */
  progressAt: number;
  reading: boolean;
  busyLogged: boolean;
}

/** CPU time a thread must gain, as a share of the wall time between two readings, to count as working. */
const PROGRESS_SHARE = 0.01;

export class Watchdog {
  private readonly stalls = new WeakMap<Incarnation, Stall>();

  constructor(readonly opts: WatchdogOptions) {}

  /**
   * Judges one running incarnation at a heartbeat, before the next ping is
   * sent; returns false when it was ended.
   */
  check(inc: Incarnation, now = Date.now()): boolean {
    const behind = inc.sentPings - inc.lastPong;
    let stall = this.stalls.get(inc);
    if (behind === 0) {
      if (stall?.busyLogged) this.opts.log.info(`process ${name(inc)} pid ${inc.threadId}: answering again after ${seconds(now - stall.since)} s busy`);
      if (stall) this.stalls.delete(inc);
      return true;
    }
    if (!stall) {
      stall = { since: now, cpuAt: now, progressAt: now, reading: false, busyLogged: false };
      this.stalls.set(inc, stall);
    }
    this.read(inc, stall, now);
    const o = this.opts;
    if (now - stall.progressAt >= o.missed * o.heartbeatMs) {
      this.stalls.delete(inc);
      o.kill(inc, `not responding (${behind} heartbeats missed, no CPU progress)`);
      return false;
    }
    if (now - stall.since >= o.busyTimeoutMs) {
      this.stalls.delete(inc);
      o.kill(inc, `not responding for ${seconds(now - stall.since)} s while busy (supervisor_busy_timeout)`);
      return false;
    }
    if (!stall.busyLogged && behind >= o.missed) {
      stall.busyLogged = true;
      o.log.warning(`process ${name(inc)} pid ${inc.threadId}: busy, not answering for ${seconds(now - stall.since)} s; its CPU time advances, so it is left to finish`);
    }
    return true;
  }

  /** Asks for the thread's CPU time; a reading that advanced enough moves progressAt. */
  private read(inc: Incarnation, stall: Stall, now: number): void {
    const worker = inc.worker as { cpuUsage?: () => Promise<NodeJS.CpuUsage> };
    if (stall.reading || typeof worker.cpuUsage !== 'function') return;
    stall.reading = true;
    worker.cpuUsage().then(
      (u) => {
        stall.reading = false;
        const cpu = u.user + u.system;
        if (stall.cpu !== undefined && cpu - stall.cpu >= Math.max(1000, (now - stall.cpuAt) * 1000 * PROGRESS_SHARE)) stall.progressAt = now;
        stall.cpu = cpu;
        stall.cpuAt = now;
      },
      () => {
        // the thread has exited: its exit event does the rest
        stall.reading = false;
      },
    );
  }
}

function name(inc: Incarnation): string {
  return inc.slot?.role ?? 'spare';
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
