/**
 * smtp-connection-cache: Postfix's scache inside the agent. Idle sessions
 * are kept per next hop for smtp_connection_cache_time_limit, handed out
 * once each (a taken session is the taker's alone), and closed when they
 * reach smtp_connection_reuse_count_limit uses (0 = no limit) or
 * smtp_connection_reuse_time_limit age. A session the server closes while
 * idle leaves the cache by itself. Never throws.
 */
import type { SmtpSession } from './smtp-session.js';

interface Idle {
  session: SmtpSession;
  timer: NodeJS.Timeout;
  onEnd: () => void;
}

/** Idle SMTP sessions per next hop, for reuse by later deliveries (one per agent). */
export class SmtpConnectionCache {
  private readonly idle = new Map<string, Idle[]>();

  /**
   * @param idleMs how long an unused session is kept
   * @param reuseLimit the most transactions per session (0 = no limit)
   * @param ageLimitMs the oldest a session may be and still be reused (0 = no limit)
   */
  constructor(
    private readonly idleMs: number,
    private readonly reuseLimit: number,
    private readonly ageLimitMs = 0,
  ) {}

  /** Number of idle sessions held (all next hops). */
  get size(): number {
    let n = 0;
    for (const list of this.idle.values()) n += list.length;
    return n;
  }

  /** Takes an idle session for `key`, if there is a live one. */
  take(key: string): SmtpSession | undefined {
    const list = this.idle.get(key);
    while (list && list.length) {
      const entry = list.pop()!;
      this.release(entry);
      if (!entry.session.client.dead) {
        if (!list.length) this.idle.delete(key);
        return entry.session;
      }
    }
    this.idle.delete(key);
    return undefined;
  }

  /** Keeps `session` for reuse, or closes it when a limit says so. */
  put(key: string, session: SmtpSession): void {
    const tooOld = this.ageLimitMs > 0 && Date.now() - session.openedAt >= this.ageLimitMs;
    const worn = this.reuseLimit > 0 && session.uses >= this.reuseLimit;
    if (session.client.dead || tooOld || worn || this.idleMs <= 0) {
      session.client.shutdown();
      return;
    }
    const entry: Idle = {
      session,
      timer: setTimeout(() => this.expire(key, entry), this.idleMs),
      onEnd: () => this.expire(key, entry),
    };
    // An idle cache must not keep the thread alive on its own.
    entry.timer.unref();
    session.client.once('end', entry.onEnd);
    const list = this.idle.get(key) ?? [];
    list.push(entry);
    this.idle.set(key, list);
  }

  /** Closes every idle session. */
  closeAll(): void {
    for (const list of this.idle.values()) {
      for (const entry of list) {
        this.release(entry);
        entry.session.client.shutdown();
      }
    }
    this.idle.clear();
  }

  private release(entry: Idle): void {
    clearTimeout(entry.timer);
    entry.session.client.removeListener('end', entry.onEnd);
  }

  private expire(key: string, entry: Idle): void {
    const list = this.idle.get(key);
    const i = list ? list.indexOf(entry) : -1;
    if (i < 0) return;
    list!.splice(i, 1);
    if (!list!.length) this.idle.delete(key);
    this.release(entry);
    entry.session.client.shutdown();
  }
}
