/**
 * smtpd-anvil: the client counters of Postfix's anvil(8) server, behind the
 * interface smtpd talks to. Per (service, client address) it keeps the open
 * connection count and, over fixed windows of anvil_rate_time_unit that
 * start at the client's first event, the rates of connections, MAIL FROM
 * (messages), RCPT TO (recipients) and AUTH commands. Like anvil it only
 * counts and answers the count after each event; the limits belong to each
 * smtpd service (smtpd_client_*_limit, which master.cf -o may override), so
 * the caller compares.
 *
 * Anvil is the interface: every answer is a promise, so the counts can move
 * to a process-wide anvil (an actor that several smtpd threads ask over
 * their MessageChannels) without changing smtpd. MemoryAnvil is the one
 * implementation today: one per Smtpd, in memory, no timers; an entry with
 * no open connection is dropped once its window has passed (checked lazily,
 * at most once per time unit). Nothing here throws.
 */

/** The connection count and rate of a client after a connect event. */
export interface AnvilConnectCounts {
  /** Open connections from this client to this service, this one included. */
  count: number;
  /** Connections from this client to this service in the current window, this one included. */
  rate: number;
}

/** Postfix's anvil protocol as smtpd uses it. */
export interface Anvil {
  /** A client connected; every connect is matched by one disconnect. */
  connect(service: string, addr: string): Promise<AnvilConnectCounts>;
  /** A client that connect() counted went away. */
  disconnect(service: string, addr: string): void;
  /** A MAIL FROM: the client's message rate, this one included. */
  mail(service: string, addr: string): Promise<number>;
  /** A RCPT TO: the client's recipient rate, this one included. */
  rcpt(service: string, addr: string): Promise<number>;
  /** An AUTH command: the client's AUTH rate, this one included. */
  auth(service: string, addr: string): Promise<number>;
}

interface RemoteCounts {
  count: number;
  start: number;
  rate: number;
  mail: number;
  rcpt: number;
  auth: number;
}

type RateName = 'rate' | 'mail' | 'rcpt' | 'auth';

/** The in-memory anvil: the counts of one thread. */
export class MemoryAnvil implements Anvil {
  private readonly remotes = new Map<string, RemoteCounts>();
  private lastSweep = 0;

  /** `unitMs`: anvil_rate_time_unit in milliseconds; `now` is for tests of the windows. */
  constructor(
    private readonly unitMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  connect(service: string, addr: string): Promise<AnvilConnectCounts> {
    const r = this.remote(service, addr);
    r.count++;
    this.incr(r, 'rate');
    return Promise.resolve({ count: r.count, rate: r.rate });
  }

  disconnect(service: string, addr: string): void {
    const r = this.remotes.get(key(service, addr));
    if (r && r.count > 0) r.count--;
  }

  mail(service: string, addr: string): Promise<number> {
    return Promise.resolve(this.incr(this.remote(service, addr), 'mail'));
  }

  rcpt(service: string, addr: string): Promise<number> {
    return Promise.resolve(this.incr(this.remote(service, addr), 'rcpt'));
  }

  auth(service: string, addr: string): Promise<number> {
    return Promise.resolve(this.incr(this.remote(service, addr), 'auth'));
  }

  /** Open connections from `addr` to `service` (status and tests). */
  open(service: string, addr: string): number {
    return this.remotes.get(key(service, addr))?.count ?? 0;
  }

  private remote(service: string, addr: string): RemoteCounts {
    const now = this.now();
    this.sweep(now);
    const k = key(service, addr);
    let r = this.remotes.get(k);
    if (!r) {
      r = { count: 0, start: now, rate: 0, mail: 0, rcpt: 0, auth: 0 };
      this.remotes.set(k, r);
    }
    return r;
  }

  /** One event: a new window resets every rate (anvil keeps one window per client). */
  private incr(r: RemoteCounts, what: RateName): number {
    const now = this.now();
    if (now - r.start >= this.unitMs) {
      r.start = now;
      r.rate = 0;
      r.mail = 0;
      r.rcpt = 0;
      r.auth = 0;
    }
    return ++r[what];
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < this.unitMs) return;
    this.lastSweep = now;
    for (const [k, r] of this.remotes) {
      if (r.count === 0 && now - r.start >= this.unitMs) this.remotes.delete(k);
    }
  }
}

function key(service: string, addr: string): string {
  return `${service}:${addr}`;
}
