/**
 * log-pacer: when a thread's buffered log lines are written. A quiet thread
 * writes at the end of the event-loop turn that logged, as soon as it can;
 * a busy one writes about once per LOG_WRITE_INTERVAL_MS (timers fire on
 * whole milliseconds). Under load a thread turns its loop thousands of
 * times a second and logs in most turns, so a write per turn was a system
 * call per message per thread (the log writes were 2-5% of the smtpd, qmgr
 * and smtp threads, perf/harness `bench run` under --cpu-prof). The
 * interval is kept short because a line may be read right after what it
 * reports was seen elsewhere (the mail at the next hop). A crashing thread
 * loses at most the lines of its last interval, as it lost its last turn's
 * before; every orderly exit flushes first (flushLog).
 */

/** The least time between two writes of one sink while its thread is busy. */
export const LOG_WRITE_INTERVAL_MS = 2;

export class LogPacer {
  private scheduled = false;
  private lastWrite = -Infinity;
  private timeout: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** Writes so far (each call of the flush function that had lines), for the tests and the syscall counts. */
  writes = 0;

  /** `flush` writes what is pending and returns whether there was anything. */
  constructor(private readonly flush: () => boolean, private readonly intervalMs = LOG_WRITE_INTERVAL_MS) {}

  /** A line was buffered: schedules the write unless one is scheduled. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = this.lastWrite + this.intervalMs - performance.now();
    if (wait <= 0) this.immediate = setImmediate(this.run);
    else this.timeout = setTimeout(this.run, wait);
  }

  /** Writes now (an exit, a reopen, a reconfiguration): the scheduled write, if any, is dropped. */
  now(): void {
    clearTimeout(this.timeout);
    clearImmediate(this.immediate);
    this.run();
  }

  private readonly run = (): void => {
    this.scheduled = false;
    this.timeout = undefined;
    this.immediate = undefined;
    if (this.flush()) {
      this.writes++;
      this.lastWrite = performance.now();
    }
  };
}
