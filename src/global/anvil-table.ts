/**
 * anvil-table: the client counters of Postfix's anvil(8), as a plain table
 * that the anvil actor (every smtpd thread's counts) and smtpd's own
 * in-thread MemoryAnvil both use. Per (service, client address) it keeps
 * the open connection count and, over fixed windows of anvil_rate_time_unit
 * that start at the client's first event, the rates of connections, MAIL
 * FROM (messages), RCPT TO (recipients) and AUTH commands. Like anvil it
 * only counts and answers the count after each event; the limits belong to
 * each smtpd service, so the caller compares.
 *
 * Each connect may name its owner (the smtpd thread that holds the
 * connection) and the owner's id for it: its disconnect then releases
 * exactly that connection, once, and only if this table counted it (a
 * disconnect for a connection an earlier, restarted anvil counted changes
 * nothing); dropOwner() releases every connection an owner still held, as
 * anvil does when an smtpd process's stream closes, so a thread that dies
 * does not leave its clients counted for ever.
 *
 * No timers: an entry with no open connection is dropped once its window
 * has passed (checked lazily, at most once per time unit). Nothing here
 * throws.
 */

/** The connection count and rate of a client after a connect event. */
export interface AnvilConnectCounts {
  /** Open connections from this client to this service, this one included. */
  count: number;
  /** Connections from this client to this service in the current window, this one included. */
  rate: number;
}

/** The rates anvil counts besides connections. */
export type AnvilRate = 'mail' | 'rcpt' | 'auth';

interface RemoteCounts {
  count: number;
  start: number;
  rate: number;
  mail: number;
  rcpt: number;
  auth: number;
}

/** The in-memory counters. */
export class AnvilTable {
  private readonly remotes = new Map<string, RemoteCounts>();
  /** owner -> the owner's connection id -> the key it counts under. */
  private readonly owners = new Map<number, Map<number, string>>();
  private lastSweep = 0;

  /** `unitMs`: anvil_rate_time_unit in milliseconds; `now` is for tests of the windows. */
  constructor(
    public unitMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A connection; `owner` and `id` (both or neither) let its disconnect and its owner's end release exactly it. */
  connect(service: string, addr: string, owner?: number, id?: number): AnvilConnectCounts {
    const k = key(service, addr);
    const r = this.remote(k);
    r.count++;
    this.incr(r, 'rate');
    if (owner !== undefined && id !== undefined) {
      let held = this.owners.get(owner);
      if (!held) this.owners.set(owner, (held = new Map()));
      held.set(id, k);
    }
    return { count: r.count, rate: r.rate };
  }

  /** The end of a connection; with an owner and id, only of one this table counted under them. */
  disconnect(service: string, addr: string, owner?: number, id?: number): void {
    let k = key(service, addr);
    if (owner !== undefined && id !== undefined) {
      const held = this.owners.get(owner);
      const counted = held?.get(id);
      // Never counted here (an earlier anvil did, or none): nothing to release.
      if (counted === undefined) return;
      held!.delete(id);
      k = counted;
    }
    const r = this.remotes.get(k);
    if (r && r.count > 0) r.count--;
  }

  /** Releases every connection `owner` still holds (its thread is gone); returns how many. */
  dropOwner(owner: number): number {
    const held = this.owners.get(owner);
    if (!held) return 0;
    this.owners.delete(owner);
    for (const k of held.values()) {
      const r = this.remotes.get(k);
      if (r && r.count > 0) r.count--;
    }
    return held.size;
  }

  /** One MAIL, RCPT or AUTH event: the client's rate of it, this one included. */
  event(service: string, addr: string, what: AnvilRate): number {
    return this.incr(this.remote(key(service, addr)), what);
  }

  /** Open connections from `addr` to `service` (status and tests). */
  open(service: string, addr: string): number {
    return this.remotes.get(key(service, addr))?.count ?? 0;
  }

  /** Whether a connection is open or a rate window still runs: ending now would forget a limit in force. */
  holdsState(): boolean {
    const now = this.now();
    for (const r of this.remotes.values()) if (r.count > 0 || now - r.start < this.unitMs) return true;
    return false;
  }

  /** Clients with an entry (status). */
  size(): number {
    return this.remotes.size;
  }

  private remote(k: string): RemoteCounts {
    const now = this.now();
    this.sweep(now);
    let r = this.remotes.get(k);
    if (!r) {
      r = { count: 0, start: now, rate: 0, mail: 0, rcpt: 0, auth: 0 };
      this.remotes.set(k, r);
    }
    return r;
  }

  /** One event: a new window resets every rate (anvil keeps one window per client). */
  private incr(r: RemoteCounts, what: 'rate' | AnvilRate): number {
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
  return `${service}\0${addr}`;
}
