/**
 * smtpd-anvil: the client counters of Postfix's anvil(8) server, behind the
 * interface smtpd talks to. Per (service, client address): the open
 * connection count and the rates of connections, MAIL FROM (messages),
 * RCPT TO (recipients) and AUTH commands per anvil_rate_time_unit
 * (global/anvil-table.ts counts them). Anvil only counts; the limits belong
 * to each smtpd service, so the caller compares.
 *
 * Two implementations:
 * - MemoryAnvil: the counts of one thread, in memory (a lone Smtpd, tests);
 * - RemoteAnvil: the anvil actor's counts, which every smtpd thread of the
 *   process shares (a service running several threads on one port counts a
 *   client across all of them, as Postfix's anvil does for its smtpd
 *   processes). A question anvil does not answer in ANVIL_TIMEOUT_MS, or
 *   asked while no anvil runs (it is restarting) or within ANVIL_RETRY_MS of
 *   an unanswered one, is answered "allowed" with a warning (at most one a
 *   minute), as Postfix's smtpd carries on when it cannot reach anvil: a
 *   sick anvil delays a session by the timeout at most, once per retry
 *   period and thread.
 *
 * Nothing here throws or rejects.
 */
import { AnvilTable, type AnvilConnectCounts } from '../../global/anvil-table.js';
import type { AnvilProtocol } from '../../protocol/protocol.js';
import type { PeerGroup } from '../../runtime/peer.js';

export type { AnvilConnectCounts } from '../../global/anvil-table.js';

/**
 * A connect's answer: the counts, and what the matching disconnect must
 * carry. `counted` false: nothing was asked (no anvil), so no disconnect
 * is due; `ticket`: this thread's name for the connection, so anvil
 * releases exactly it (also when smtpd stopped waiting for the answer).
 */
export interface AnvilConnection extends AnvilConnectCounts {
  counted?: boolean;
  ticket?: number;
}

/** Postfix's anvil protocol as smtpd uses it. */
export interface Anvil {
  /** A client connected; every counted connect is matched by one disconnect. */
  connect(service: string, addr: string): Promise<AnvilConnection>;
  /** A client that connect() counted went away (`ticket`: the connect's). */
  disconnect(service: string, addr: string, ticket?: number): void;
  /** A MAIL FROM: the client's message rate, this one included. */
  mail(service: string, addr: string): Promise<number>;
  /** A RCPT TO: the client's recipient rate, this one included. */
  rcpt(service: string, addr: string): Promise<number>;
  /** An AUTH command: the client's AUTH rate, this one included. */
  auth(service: string, addr: string): Promise<number>;
}

/** The in-memory anvil: the counts of one thread. */
export class MemoryAnvil implements Anvil {
  private readonly table: AnvilTable;

  /** `unitMs`: anvil_rate_time_unit in milliseconds; `now` is for tests of the windows. */
  constructor(unitMs: number, now: () => number = Date.now) {
    this.table = new AnvilTable(unitMs, now);
  }

  connect(service: string, addr: string): Promise<AnvilConnectCounts> {
    return Promise.resolve(this.table.connect(service, addr));
  }

  disconnect(service: string, addr: string): void {
    this.table.disconnect(service, addr);
  }

  mail(service: string, addr: string): Promise<number> {
    return Promise.resolve(this.table.event(service, addr, 'mail'));
  }

  rcpt(service: string, addr: string): Promise<number> {
    return Promise.resolve(this.table.event(service, addr, 'rcpt'));
  }

  auth(service: string, addr: string): Promise<number> {
    return Promise.resolve(this.table.event(service, addr, 'auth'));
  }

  /** Open connections from `addr` to `service` (status and tests). */
  open(service: string, addr: string): number {
    return this.table.open(service, addr);
  }
}

/** How long smtpd waits for anvil's answer before it lets the client through. */
export const ANVIL_TIMEOUT_MS = 2000;
/** After a question anvil did not answer, how long smtpd lets clients through without asking. */
export const ANVIL_RETRY_MS = 5000;

/** What an unanswered question is taken to mean: within every limit, and nothing to release. */
const ALLOWED: AnvilConnection = { count: 0, rate: 0, counted: false };

/** The process-wide anvil actor, asked over this thread's channels to it. */
export class RemoteAnvil implements Anvil {
  private warned = 0;
  /** Until when questions are not asked (anvil did not answer the last one). */
  private quietUntil = 0;
  private nextTicket = 1;

  constructor(
    private readonly peer: PeerGroup<AnvilProtocol>,
    private readonly warn: (text: string) => void,
    private readonly timeoutMs = ANVIL_TIMEOUT_MS,
    private readonly retryMs = ANVIL_RETRY_MS,
  ) {}

  connect(service: string, addr: string): Promise<AnvilConnection> {
    if (!this.reachable()) return Promise.resolve(ALLOWED);
    const ticket = this.nextTicket++;
    const question = this.peer.call('connect', { service, addr, id: ticket }, { timeoutMs: this.timeoutMs });
    // Asked: the disconnect is due even if the answer comes too late (anvil may count it then).
    return this.ask(question.then((c) => ({ ...c, ticket })), { count: 0, rate: 0, ticket });
  }

  disconnect(service: string, addr: string, ticket?: number): void {
    // With no anvil running, the counts died with the anvil that had them.
    if (ticket !== undefined && this.peer.size() > 0) this.peer.cast('disconnect', { service, addr, id: ticket });
  }

  mail(service: string, addr: string): Promise<number> {
    return this.rate(service, addr, 'mail');
  }

  rcpt(service: string, addr: string): Promise<number> {
    return this.rate(service, addr, 'rcpt');
  }

  auth(service: string, addr: string): Promise<number> {
    return this.rate(service, addr, 'auth');
  }

  private rate(service: string, addr: string, what: 'mail' | 'rcpt' | 'auth'): Promise<number> {
    if (!this.reachable()) return Promise.resolve(0);
    return this.ask(this.peer.call('event', { service, addr, what }, { timeoutMs: this.timeoutMs }), 0);
  }

  /**
   * False for a while after anvil did not answer: the client is let through
   * at once. With no anvil running the question is asked all the same: anvil
   * waits on demand, and the call starts it.
   */
  private reachable(): boolean {
    return Date.now() >= this.quietUntil;
  }

  private ask<T>(question: Promise<T>, allowed: T): Promise<T> {
    return question.catch((err: Error) => {
      this.quietUntil = Date.now() + this.retryMs;
      this.unreachable(err.message);
      return allowed;
    });
  }

  private unreachable(why: string): void {
    const now = Date.now();
    if (now - this.warned < 60_000) return;
    this.warned = now;
    this.warn(`problem talking to server anvil: ${why}; client limits are not enforced until it answers`);
  }
}
