/**
 * smtpd-policy-client: the client side of Postfix's policy delegation
 * protocol (SMTPD_POLICY_README). A request is "name=value" lines ended by
 * an empty line; the answer is "action=..." (other attributes are ignored)
 * ended by an empty line. All I/O is asynchronous with a deadline, so a
 * slow or silent server never holds the thread.
 *
 * PolicyClients keeps one pool of connections per service (per endpoint and
 * settings): a connection serves one request at a time, is reused by later
 * requests (of this session or another), and is closed once idle for
 * max_idle, older than max_ttl, or after request_limit requests. With
 * reuse_count_limit (smtpd_policy_service_reuse_count_limit, Postrider's)
 * a connection serves at most that many SMTP sessions: once it has, no new
 * session takes it, and it is closed when the last of its sessions ends
 * (sessionEnded()). Postfix needs no such limit: its policy connection
 * belongs to one smtpd process, which exits after max_use sessions; an
 * smtpd thread here lives on, so this gives back that bound. A request
 * that fails (connect refused, timeout, the server closed, an answer
 * without action=, an oversized or malformed answer) is retried on a new
 * connection after retry_delay, up to try_limit attempts.
 *
 * Errors: query() never rejects; it resolves with the action, or with
 * { error } naming the last problem (the caller logs it and applies the
 * default action).
 */
import { connect, type Socket } from 'node:net';
import type { PolicyService } from '../../config/policy-service.js';

/** What a query gave: the server's action, or why there is none. */
export type PolicyAnswer = { action: string } | { error: string };

/** The longest answer accepted (bytes): a server that talks more is broken. */
const MAX_ANSWER = 16384;

/** One kept connection. */
interface PolicyConnection {
  socket: Socket;
  born: number;
  requests: number;
  idleTimer?: NodeJS.Timeout;
  /** SMTP sessions it has served (counted only under reuse_count_limit). */
  served: number;
  /** Those of its sessions that have not ended yet. */
  live: Set<string>;
}

/** The connections of one service. */
class PolicyPool {
  private readonly idle: PolicyConnection[] = [];
  private readonly all = new Set<PolicyConnection>();
  /** Set by close(): a request still retrying opens no new connection. */
  private closed = false;

  constructor(private readonly service: PolicyService) {}

  /**
   * Sends one request (for the SMTP session `sessionId`, when known); tries
   * again on a fresh connection after a failure, up to try_limit.
   */
  async query(request: string, sessionId?: string): Promise<PolicyAnswer> {
    const o = this.service.options;
    let error = '';
    for (let attempt = 1; attempt <= o.tryLimit; attempt++) {
      if (attempt > 1) await delay(o.retryDelayMs);
      if (this.closed) return { error: 'smtpd is closing' };
      // After a failure, a kept connection may be as stale as the one that failed.
      const conn = attempt === 1 ? this.take(sessionId) : undefined;
      try {
        const c = conn ?? (await this.open());
        this.serve(c, sessionId);
        const answer = await this.exchange(c, request);
        this.release(c);
        return { action: answer };
      } catch (err) {
        error = (err as Error).message;
      }
    }
    return { error };
  }

  /** Closes every connection. */
  close(): void {
    this.closed = true;
    for (const c of this.all) this.drop(c);
    this.idle.length = 0;
  }

  /** The SMTP session `sessionId` ended: a connection that has served its reuse_count_limit sessions closes with its last one. */
  sessionEnded(sessionId: string): void {
    if (this.service.options.reuseCountLimit <= 0) return;
    for (const c of this.all) {
      if (!c.live.delete(sessionId) || !this.worn(c) || c.live.size > 0) continue;
      const i = this.idle.indexOf(c);
      // One in use closes when released.
      if (i >= 0) {
        this.idle.splice(i, 1);
        this.drop(c);
      }
    }
  }

  /** The newest idle connection this session may use; dead and old ones met on the way are closed. */
  private take(sessionId: string | undefined): PolicyConnection | undefined {
    const now = Date.now();
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = this.idle[i];
      if (c.socket.destroyed || now - c.born >= this.service.options.maxTtlMs) {
        this.idle.splice(i, 1);
        this.drop(c);
        continue;
      }
      // Past reuse_count_limit a connection stays with the sessions it has.
      if (sessionId !== undefined && this.worn(c) && !c.live.has(sessionId)) continue;
      this.idle.splice(i, 1);
      clearTimeout(c.idleTimer);
      return c;
    }
    return undefined;
  }

  /** Counts a new SMTP session on the connection (under reuse_count_limit only: otherwise nothing is kept per session). */
  private serve(c: PolicyConnection, sessionId: string | undefined): void {
    if (sessionId === undefined || this.service.options.reuseCountLimit <= 0 || c.live.has(sessionId)) return;
    c.served++;
    c.live.add(sessionId);
  }

  /** True when the connection has served reuse_count_limit sessions. */
  private worn(c: PolicyConnection): boolean {
    const limit = this.service.options.reuseCountLimit;
    return limit > 0 && c.served >= limit;
  }

  private release(c: PolicyConnection): void {
    const o = this.service.options;
    const finished = this.worn(c) && c.live.size === 0;
    if (this.closed || finished || c.socket.destroyed || (o.requestLimit > 0 && c.requests >= o.requestLimit) || Date.now() - c.born >= o.maxTtlMs) {
      this.drop(c);
      return;
    }
    c.idleTimer = setTimeout(() => {
      const i = this.idle.indexOf(c);
      if (i >= 0) this.idle.splice(i, 1);
      this.drop(c);
    }, o.maxIdleMs);
    c.idleTimer.unref();
    this.idle.push(c);
  }

  private drop(c: PolicyConnection): void {
    clearTimeout(c.idleTimer);
    this.all.delete(c);
    c.socket.destroy();
  }

  private open(): Promise<PolicyConnection> {
    const ep = this.service.endpoint;
    const timeoutMs = this.service.options.timeoutMs;
    return new Promise((resolve, reject) => {
      const socket = ep.kind === 'inet' ? connect({ host: ep.host, port: ep.port }) : connect({ path: ep.path });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('timeout while connecting'));
      }, timeoutMs);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new Error(connectError(err)));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        // A kept connection's later errors surface in exchange(); none may go unhandled while it waits.
        socket.on('error', () => undefined);
        socket.setNoDelay(true);
        const c: PolicyConnection = { socket, born: Date.now(), requests: 0, served: 0, live: new Set() };
        this.all.add(c);
        resolve(c);
      });
    });
  }

  /** Writes the request and reads one answer; rejects (and drops the connection) on any failure. */
  private exchange(c: PolicyConnection, request: string): Promise<string> {
    const socket = c.socket;
    c.requests++;
    return new Promise((resolve, reject) => {
      let text = '';
      const finish = (err?: Error, action?: string): void => {
        clearTimeout(timer);
        socket.removeListener('data', onData);
        socket.removeListener('close', onClose);
        socket.removeListener('error', onError);
        if (err) {
          this.drop(c);
          reject(err);
        } else {
          resolve(action!);
        }
      };
      const onData = (chunk: Buffer): void => {
        text += chunk.toString('latin1');
        if (text.length > MAX_ANSWER) return finish(new Error(`answer longer than ${MAX_ANSWER} bytes`));
        const end = endOfAnswer(text);
        if (end < 0) return;
        if (end < text.length) return finish(new Error('unexpected data after the answer'));
        const read = readAnswer(text);
        if ('error' in read) finish(new Error(read.error));
        else finish(undefined, read.action);
      };
      const onClose = (): void => finish(new Error('server closed the connection'));
      const onError = (err: Error): void => finish(new Error(err.message));
      const timer = setTimeout(() => finish(new Error('timeout while waiting for the answer')), this.service.options.timeoutMs);
      socket.on('data', onData);
      socket.once('close', onClose);
      socket.once('error', onError);
      socket.write(request);
    });
  }
}

/** The index just past the empty line that ends an answer, or -1 when it has not arrived yet. */
function endOfAnswer(text: string): number {
  if (text.startsWith('\n')) return 1;
  const i = text.indexOf('\n\n');
  return i < 0 ? -1 : i + 2;
}

/** The action of an answer ("name=value" lines); an error when a line is not name=value or there is no action. */
export function readAnswer(text: string): { action: string } | { error: string } {
  let action: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return { error: `malformed answer line "${printable(line)}"` };
    if (line.slice(0, eq) === 'action' && action === undefined) action = line.slice(eq + 1);
  }
  if (action === undefined) return { error: 'answer without an action attribute' };
  if (action.trim() === '') return { error: 'empty action' };
  return { action: action.trim() };
}

/** A request's text: "name=value" lines and the empty line; a value loses any newline (it would end the request). */
export function formatRequest(attrs: ReadonlyArray<readonly [string, string]>): string {
  let out = '';
  for (const [name, value] of attrs) out += `${name}=${value.replace(/[\r\n]/g, ' ')}\n`;
  return out + '\n';
}

function printable(s: string): string {
  return s.slice(0, 100).replace(/[^\x20-\x7e]/g, '?');
}

function connectError(err: NodeJS.ErrnoException): string {
  if (err.code === 'ECONNREFUSED') return 'Connection refused';
  if (err.code === 'ENOENT') return 'No such file or directory';
  return err.message;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Every policy service's pool, by service; one per Smtpd. */
export class PolicyClients {
  private readonly pools = new Map<string, PolicyPool>();

  /** Sends a request to `service` (a pool per name and settings) for the SMTP session `sessionId`; see PolicyPool.query. */
  query(service: PolicyService, request: string, sessionId?: string): Promise<PolicyAnswer> {
    const key = JSON.stringify([service.endpoint, service.options]);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new PolicyPool(service);
      this.pools.set(key, pool);
    }
    return pool.query(request, sessionId);
  }

  /** An SMTP session ended (for smtpd_policy_service_reuse_count_limit). */
  sessionEnded(sessionId: string): void {
    for (const pool of this.pools.values()) pool.sessionEnded(sessionId);
  }

  /** Closes every kept connection (smtpd's close). */
  close(): void {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }
}
