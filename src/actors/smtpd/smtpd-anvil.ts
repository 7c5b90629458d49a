/**
 * smtpd-anvil: per-client connection count and connection rate, as
 * Postfix's anvil server keeps them for smtpd_client_connection_count_limit
 * and smtpd_client_connection_rate_limit. The rate is counted in fixed
 * windows of anvil_rate_time_unit per client address. Kept in memory per
 * Smtpd (one listener thread); no timers, idle entries are swept lazily.
 */

interface ClientCounts {
  open: number;
  windowStart: number;
  rate: number;
}

export type AnvilVerdict = { ok: true } | { ok: false; reason: 'count' | 'rate'; value: number };

export class SmtpdAnvil {
  private readonly clients = new Map<string, ClientCounts>();
  private lastSweep = 0;

  constructor(
    private readonly countLimit: number,
    private readonly rateLimit: number,
    private readonly unitMs: number,
  ) {}

  /**
   * Counts a new connection from `addr` and says whether it is within the
   * limits. A refused connection is not counted as open (call release() only
   * for admitted ones); it still counts towards the rate, as in Postfix.
   */
  connect(addr: string, now = Date.now()): AnvilVerdict {
    this.sweep(now);
    let c = this.clients.get(addr);
    if (!c) {
      c = { open: 0, windowStart: now, rate: 0 };
      this.clients.set(addr, c);
    }
    if (now - c.windowStart >= this.unitMs) {
      c.windowStart = now;
      c.rate = 0;
    }
    c.rate++;
    if (this.countLimit > 0 && c.open + 1 > this.countLimit) return { ok: false, reason: 'count', value: c.open + 1 };
    if (this.rateLimit > 0 && c.rate > this.rateLimit) return { ok: false, reason: 'rate', value: c.rate };
    c.open++;
    return { ok: true };
  }

  /** An admitted connection from `addr` ended. */
  release(addr: string): void {
    const c = this.clients.get(addr);
    if (c && c.open > 0) c.open--;
  }

  /** Open connections from `addr` (for tests and status). */
  open(addr: string): number {
    return this.clients.get(addr)?.open ?? 0;
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < this.unitMs) return;
    this.lastSweep = now;
    for (const [addr, c] of this.clients) {
      if (c.open === 0 && now - c.windowStart >= this.unitMs) this.clients.delete(addr);
    }
  }
}
