/**
 * peer: one end of a MessageChannel to another actor (PeerLink) and the set
 * of live instances of one role (PeerGroup). Requests carry correlation ids
 * and time out; frames posted in the same event-loop turn go out as one batch. When a
 * peer dies, close() rejects every call pending to it at once with a
 * retryable ERR_PEER_DOWN; a call to a group with no live instance waits for
 * one up to its timeout, then rejects ERR_NO_PEER. Nothing hangs forever.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Rep, Req } from '../protocol/protocol.js';
import { ActorCallError } from './actor-error.js';
import { CAST, ERR, OK, REQ, decodeBatch, postBatch, type Frame } from './wire.js';

/** Default time a call waits for its reply. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/** Who a message came from. */
export interface PeerAddress {
  role: string;
  instance: number;
}

/** Runs an inbound request or cast; returns the reply (or a promise of it). */
export type Dispatch = (kind: string, body: unknown, from: PeerAddress) => unknown;

/** Reports problems that have no caller to tell (bad posts, failed casts). */
export type Warn = (text: string) => void;

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  /** performance.now() past which the call has timed out. */
  deadline: number;
  timeoutMs: number;
  kind: string;
}

/** How often a link looks for timed-out calls: a quarter of the shortest timeout pending, within these bounds (ms). */
const SWEEP_MIN_MS = 5;
const SWEEP_MAX_MS = 1000;

/** One channel to one incarnation of a peer. */
export class PeerLink {
  private readonly pending = new Map<number, Pending>();
  private outbox: Frame[] = [];
  private flushQueued = false;
  private readonly flushBound = (): void => this.flush();
  private nextId = 1;
  private closed = false;
  /**
   * One timer per link looks for timed-out calls, instead of a timer set
   * and cleared for every call (the timers were 1-2% of a busy thread);
   * a call times out up to a quarter of its timeout (at most a second) late.
   */
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepEveryMs = Infinity;

  /**
   * @param remote the peer at the other end; `uid` is unique per incarnation
   * @param dispatch runs the requests the peer sends us
   */
  constructor(
    private readonly port: MessagePort,
    readonly remote: PeerAddress & { uid: number },
    private readonly dispatch: Dispatch,
    private readonly warn: Warn,
  ) {
    port.on('message', (data) => this.receive(data));
    port.on('messageerror', (err) => this.warn(`message from ${this.name()} could not be read: ${err.message}`));
    port.on('close', () => this.close('channel closed'));
  }

  name(): string {
    return `${this.remote.role}[${this.remote.instance}]`;
  }

  isClosed(): boolean {
    return this.closed;
  }

  pendingCount(): number {
    return this.pending.size;
  }

  call(kind: string, body: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closed) {
      return Promise.reject(new ActorCallError(`${this.name()} is down`, 'ERR_PEER_DOWN', true));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, deadline: performance.now() + timeoutMs, timeoutMs, kind });
      this.armSweep(timeoutMs);
      this.enqueue([REQ, id, kind, body]);
    });
  }

  private armSweep(timeoutMs: number): void {
    const every = Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, timeoutMs / 4));
    if (this.sweepTimer && every >= this.sweepEveryMs) return;
    clearInterval(this.sweepTimer);
    this.sweepEveryMs = every;
    // Unref'd: the port keeps the thread alive while a call waits on it; the timer must not after the last reply.
    this.sweepTimer = setInterval(() => this.sweep(), every).unref();
  }

  /** Rejects the calls past their deadline; stops looking once none is pending. */
  private sweep(): void {
    const now = performance.now();
    for (const [id, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(id);
      p.reject(new ActorCallError(`${p.kind} to ${this.name()}: no reply in ${p.timeoutMs} ms`, 'ERR_CALL_TIMEOUT', true));
    }
    if (this.pending.size === 0) this.stopSweep();
  }

  private stopSweep(): void {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.sweepEveryMs = Infinity;
  }

  cast(kind: string, body: unknown): boolean {
    if (this.closed) return false;
    this.enqueue([CAST, kind, body]);
    return true;
  }

  /** Sends what is queued, rejects every pending call with ERR_PEER_DOWN and closes the port. */
  close(reason: string): void {
    if (this.closed) return;
    // Casts and replies queued in this turn still leave (a shutdown hook's last words); on a port the peer closed they go nowhere.
    this.flush();
    this.closed = true;
    this.stopSweep();
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new ActorCallError(`${p.kind} to ${this.name()}: peer down (${reason})`, 'ERR_PEER_DOWN', true));
    }
    try {
      this.port.close();
    } catch {
      // already closed by the other side
    }
  }

  /**
   * Frames go out at the end of the event-loop turn, not of the task: a
   * busy thread serves many sockets and many inbound posts in one turn,
   * and every post costs an encode, a copy, a wake-up of the other thread
   * and a decode there. Per turn, qmgr and the journal spent a tenth less
   * CPU per message than per task (perf/harness `bench run`, 1 KiB kept).
   */
  private enqueue(frame: Frame): void {
    this.outbox.push(frame);
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(this.flushBound);
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.closed || this.outbox.length === 0) return;
    const frames = this.outbox;
    this.outbox = [];
    try {
      postBatch(this.port, frames);
    } catch (err) {
      // A body msgpack cannot encode: fail those calls, not the channel.
      for (const f of frames) {
        if (f[0] === REQ) this.settle(f[1], undefined, new ActorCallError(`${f[2]}: cannot encode request: ${(err as Error).message}`, 'ERR_REMOTE', false));
        else if (f[0] === OK) this.enqueue([ERR, f[1], `cannot encode reply: ${(err as Error).message}`, 'ERR_REMOTE', false, 'ERR_WIRE']);
        else this.warn(`cannot encode message to ${this.name()}: ${(err as Error).message}`);
      }
    }
  }

  private settle(id: number, value: unknown, err?: Error): void {
    const p = this.pending.get(id);
    if (!p) return; // timed out already
    this.pending.delete(id);
    if (err) p.reject(err);
    else p.resolve(value);
  }

  private receive(data: unknown): void {
    let frames: Frame[];
    try {
      frames = decodeBatch(data);
    } catch (err) {
      this.warn(`dropped a post from ${this.name()}: ${(err as Error).message}`);
      return;
    }
    for (const f of frames) {
      switch (f[0]) {
        case REQ:
          this.serve(f[1], f[2], f[3]);
          break;
        case CAST:
          this.serveCast(f[1], f[2]);
          break;
        case OK:
          this.settle(f[1], f[2]);
          break;
        case ERR:
          this.settle(f[1], undefined, new ActorCallError(f[2], f[3] as 'ERR_REMOTE', f[4], f[5] ?? undefined));
          break;
        default:
          this.warn(`dropped a frame of unknown type from ${this.name()}`);
      }
    }
  }

  private serve(id: number, kind: string, body: unknown): void {
    let result: unknown;
    try {
      result = this.dispatch(kind, body, this.remote);
    } catch (err) {
      this.replyError(id, err);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (value) => this.reply(id, value),
        (err) => this.replyError(id, err),
      );
    } else {
      this.reply(id, result);
    }
  }

  private serveCast(kind: string, body: unknown): void {
    try {
      const result = this.dispatch(kind, body, this.remote);
      if (result instanceof Promise) result.catch((err: unknown) => this.castFailed(kind, err));
    } catch (err) {
      this.castFailed(kind, err);
    }
  }

  private castFailed(kind: string, err: unknown): void {
    this.warn(`cast ${kind} from ${this.name()} failed: ${(err as Error)?.message ?? String(err)}`);
  }

  private reply(id: number, value: unknown): void {
    if (!this.closed) this.enqueue([OK, id, value === undefined ? null : value]);
  }

  private replyError(id: number, err: unknown): void {
    if (this.closed) return;
    const e = err as { message?: string; code?: unknown; retryable?: unknown };
    const message = typeof e?.message === 'string' ? e.message.split('\n')[0] : String(err);
    const remoteCode = typeof e?.code === 'string' ? e.code : undefined;
    this.enqueue([ERR, id, message, 'ERR_REMOTE', e?.retryable === true, remoteCode]);
  }
}

interface Member {
  link: PeerLink;
  retiring: boolean;
}

interface Waiter {
  wake(): void;
}

/** Options of PeerGroup.call. */
export interface CallOptions {
  timeoutMs?: number;
  /** Send to this instance number. */
  instance?: number;
  /** Send to the instance this key hashes to (stable while the set of instances is). */
  key?: string;
}

/**
 * The live instances of one role (or one service), as seen from one actor,
 * typed by the protocol they serve: a kind P does not list, or a body of
 * the wrong shape, is a compile error.
 */
export interface PeerGroup<P> {
  call<K extends keyof P & string>(kind: K, body: Req<P, K>, opts?: CallOptions): Promise<Rep<P, K>>;
  cast<K extends keyof P & string>(kind: K, body: Req<P, K>, opts?: { instance?: number; key?: string }): void;
  size(): number;
  /** The instance numbers of the live members, each once, in order. */
  instances(): number[];
}

/**
 * The PeerGroup implementation, untyped: links come and go as the supervisor
 * wires and unwires. Callers see it through typedGroup() as the PeerGroup of
 * the protocol its peers serve.
 */
export class PeerSet {
  private members: Member[] = [];
  private waiters = new Set<Waiter>();
  private rr = 0;

  constructor(
    readonly role: string,
    private readonly warn: Warn,
    private readonly defaultTimeoutMs = DEFAULT_CALL_TIMEOUT_MS,
  ) {}

  /**
   * Runs when a call or cast finds no live instance (or not the one it
   * names), before it waits for one: an actor asks the supervisor to start
   * a role that waits on demand.
   */
  onEmpty?: () => void;

  add(link: PeerLink): void {
    this.members.push({ link, retiring: false });
    this.members.sort((a, b) => a.link.remote.instance - b.link.remote.instance || a.link.remote.uid - b.link.remote.uid);
    for (const w of [...this.waiters]) w.wake();
  }

  /** Stops sending new work to an incarnation; calls already sent keep their replies. */
  retire(uid: number): void {
    for (const m of this.members) if (m.link.remote.uid === uid) m.retiring = true;
  }

  /** The incarnation died: reject its pending calls now and forget it. */
  down(uid: number, reason: string): void {
    for (const m of this.members) if (m.link.remote.uid === uid) m.link.close(reason);
    this.members = this.members.filter((m) => m.link.remote.uid !== uid);
  }

  closeAll(reason: string): void {
    for (const m of this.members) m.link.close(reason);
    this.members = [];
  }

  links(): PeerLink[] {
    return this.members.map((m) => m.link);
  }

  size(): number {
    let n = 0;
    for (const m of this.members) if (isLive(m)) n++;
    return n;
  }

  instances(): number[] {
    const out: number[] = [];
    for (const m of this.members) if (isLive(m) && !out.includes(m.link.remote.instance)) out.push(m.link.remote.instance);
    return out;
  }

  /** The index-th live link, in member order. */
  private nthLive(index: number): PeerLink | undefined {
    for (const m of this.members) if (isLive(m) && index-- === 0) return m.link;
    return undefined;
  }

  /** Called per message: walks the members without building a list. */
  private pick(opts?: { instance?: number; key?: string }): PeerLink | undefined {
    if (opts?.instance !== undefined) {
      let found: PeerLink | undefined;
      for (const m of this.members) if (isLive(m) && m.link.remote.instance === opts.instance) found = m.link; // newest incarnation
      return found;
    }
    const n = this.size();
    if (n === 0) return undefined;
    if (opts?.key !== undefined) return this.nthLive(hashKey(opts.key) % n);
    this.rr = (this.rr + 1) % n;
    return this.nthLive(this.rr);
  }

  /** Waits until pick() finds a link or the deadline passes. */
  private async pickWaiting(opts: CallOptions | undefined, deadline: number): Promise<PeerLink | undefined> {
    for (;;) {
      const link = this.pick(opts);
      if (link) return link;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const w: Waiter = {
          wake: () => {
            clearTimeout(timer);
            this.waiters.delete(w);
            resolve();
          },
        };
        const timer = setTimeout(w.wake, left);
        this.waiters.add(w);
      });
    }
  }

  call(kind: string, body: unknown, opts?: CallOptions): Promise<unknown> {
    const timeoutMs = opts?.timeoutMs ?? this.defaultTimeoutMs;
    const link = this.pick(opts);
    if (link) return link.call(kind, body, timeoutMs);
    if (this.size() === 0 || opts?.instance !== undefined) this.onEmpty?.();
    const deadline = Date.now() + timeoutMs;
    return this.pickWaiting(opts, deadline).then((l) => {
      if (!l) throw new ActorCallError(`${kind}: no live ${this.role}${opts?.instance !== undefined ? `[${opts.instance}]` : ''} instance`, 'ERR_NO_PEER', true);
      return l.call(kind, body, Math.max(1, deadline - Date.now()));
    });
  }

  cast(kind: string, body: unknown, opts?: { instance?: number; key?: string }): void {
    const link = this.pick(opts);
    if (link) {
      link.cast(kind, body);
      return;
    }
    if (this.size() === 0 || opts?.instance !== undefined) this.onEmpty?.();
    void this.pickWaiting(opts, Date.now() + this.defaultTimeoutMs).then((l) => {
      if (!l || !l.cast(kind, body)) this.warn(`cast ${kind} to ${this.role} dropped: no live instance`);
    });
  }
}

function isLive(m: Member): boolean {
  return !m.retiring && !m.link.isClosed();
}

/** FNV-1a, so a key maps to the same instance in every thread. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The PeerGroup view of a PeerSet for protocol P. The one place the typing
 * meets the untyped channel: callers choose P through the role -> protocol
 * map (ctx.peers, ctx.transport, Supervisor.callActor), never by hand.
 */
export function typedGroup<P>(set: PeerSet): PeerGroup<P> {
  return set as unknown as PeerGroup<P>;
}
