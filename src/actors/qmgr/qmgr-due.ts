/**
 * qmgr-due: the deferred queue's wake-up. Holds each deferred message's due
 * time and one timer for the earliest of them (never a timer per message).
 * The timer also fires at least every queue_run_delay while anything waits,
 * so a scan happens even when the clock is injected and jumps.
 * Never throws; the callback's errors are the caller's to catch.
 */

/** Deferred queue ids and when each is due; calls `onDue` with the due ones. */
export class DueTimer {
  private readonly due = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private stopped = false;

  /**
   * @param now the scheduler's clock (ms)
   * @param scanIntervalMs queue_run_delay: the longest the timer sleeps
   * @param onDue receives the queue ids whose time has come (already removed)
   */
  constructor(
    private readonly now: () => number,
    private readonly scanIntervalMs: number,
    private readonly onDue: (queueIds: string[]) => void,
  ) {}

  get size(): number {
    return this.due.size;
  }

  has(queueId: string): boolean {
    return this.due.has(queueId);
  }

  /** Sets (or moves) a message's due time. */
  set(queueId: string, at: number): void {
    this.due.set(queueId, at);
    this.arm(at);
  }

  delete(queueId: string): boolean {
    return this.due.delete(queueId);
  }

  /** Queue ids currently waiting. */
  ids(): IterableIterator<string> {
    return this.due.keys();
  }

  /** Runs a scan now: hands over every message whose due time has passed. */
  scan(): string[] {
    const now = this.now();
    const ready: string[] = [];
    for (const [id, at] of this.due) {
      if (at <= now) ready.push(id);
    }
    for (const id of ready) this.due.delete(id);
    this.rearm();
    if (ready.length > 0) this.onDue(ready);
    return ready;
  }

  /** Clears the timer for good. */
  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private rearm(): void {
    this.clear();
    let earliest = Number.POSITIVE_INFINITY;
    for (const at of this.due.values()) if (at < earliest) earliest = at;
    if (earliest !== Number.POSITIVE_INFINITY) this.arm(earliest);
  }

  private arm(at: number): void {
    if (this.stopped) return;
    const now = this.now();
    const fireAt = Math.min(at, now + this.scanIntervalMs);
    if (this.timer && this.timerAt <= fireAt) return;
    this.clear();
    this.timerAt = fireAt;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.scan();
    }, Math.max(0, fireAt - now));
  }
}
