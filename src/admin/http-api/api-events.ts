/**
 * api-events: the delivery log as structured events for the HTTP API's
 * Server-Sent Events stream. parseLogLine reads one Postfix-format line
 * (received, delivered, deferred, bounced, expired, rejected, an actor's
 * crash or restart); LogFollower follows maillog_file while someone
 * listens, from its end at the first listener, across logrotate (a file
 * that shrank or was replaced is read again from its start).
 *
 * Why the log file: every thread writes its lines there itself, in batches;
 * following the file costs the relay nothing while nobody listens, where a
 * tap in each thread would post a message per line at full load.
 *
 * Errors: a line that is none of the above is no event; a file that is
 * missing or unreadable is tried again on the next poll; nothing throws.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

export type ApiEventType = 'received' | 'delivered' | 'deferred' | 'bounced' | 'expired' | 'rejected' | 'actor';

export interface ApiEvent {
  type: ApiEventType;
  /** The line's timestamp as written ("Dec  5 05:00:00"). */
  time: string;
  /** syslog_name/role, as in the line. */
  program: string;
  queueId?: string;
  from?: string;
  to?: string;
  size?: number;
  nrcpt?: number;
  relay?: string;
  dsn?: string;
  reason?: string;
  client?: string;
  /** For an actor event: what happened to which role[instance]. */
  actor?: string;
  line: string;
}

const HEAD = /^(\w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ ([^\s[]+)\[\d+\]: (.*)$/;
const RECEIVED = /^([0-9A-Za-z]+): from=<([^>]*)>, size=(\d+), nrcpt=(\d+)/;
const OUTCOME = /^([0-9A-Za-z]+): to=<([^>]*)>,(?:.*?relay=([^,]+),)?.*?dsn=(\d\.\d+\.\d+), status=(sent|deferred|bounced|expired) \((.*)\)$/;
const REJECT = /^NOQUEUE: reject: \w+ from ([^:]+): (.*?); from=<([^>]*)>(?: to=<([^>]*)>)?/;
const RESTARTED = /^(\S+\[\d+\]) restarted in \d+ ms/;
const CRASHED = /^process (\S+) pid (\d+) exit status (\d+)/;

const STATUS_TYPE: Record<string, ApiEventType> = { sent: 'delivered', deferred: 'deferred', bounced: 'bounced', expired: 'expired' };

/** The event one log line records, or undefined. */
export function parseLogLine(line: string): ApiEvent | undefined {
  const h = HEAD.exec(line);
  if (!h) return undefined;
  const [, time, program, text] = h;
  const base = { time, program, line };
  let m = OUTCOME.exec(text);
  if (m) {
    const e: ApiEvent = { ...base, type: STATUS_TYPE[m[5]], queueId: m[1], to: m[2], dsn: m[4], reason: m[6] };
    if (m[3]) e.relay = m[3];
    return e;
  }
  m = RECEIVED.exec(text);
  if (m) return { ...base, type: 'received', queueId: m[1], from: m[2], size: Number(m[3]), nrcpt: Number(m[4]) };
  m = REJECT.exec(text);
  if (m) {
    const e: ApiEvent = { ...base, type: 'rejected', client: m[1], reason: m[2], from: m[3] };
    if (m[4] !== undefined) e.to = m[4];
    return e;
  }
  m = RESTARTED.exec(text);
  if (m) return { ...base, type: 'actor', actor: m[1], reason: 'restarted' };
  m = CRASHED.exec(text);
  if (m) return { ...base, type: 'actor', actor: m[1], reason: `exit status ${m[3]}` };
  return undefined;
}

export type EventListener = (e: ApiEvent) => void;

/** Follows a log file for its listeners; polls only while it has any. */
export class LogFollower {
  private readonly listeners = new Set<EventListener>();
  private timer?: NodeJS.Timeout;
  private fd?: number;
  private ino = 0;
  private offset = 0;
  private partial = '';
  private readonly buf = Buffer.allocUnsafe(256 * 1024);

  constructor(
    private readonly file: string,
    private readonly pollMs = 250,
  ) {}

  /** Adds a listener; returns the function that removes it. */
  listen(fn: EventListener): () => void {
    if (this.listeners.size === 0) this.begin();
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0) this.end();
    };
  }

  get listening(): number {
    return this.listeners.size;
  }

  close(): void {
    this.listeners.clear();
    this.end();
  }

  private begin(): void {
    this.open(true);
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  private end(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.partial = '';
  }

  /** Opens the file; atEnd: start after what is there now (the first listener wants what comes next). */
  private open(atEnd: boolean): void {
    try {
      this.fd = openSync(this.file, 'r');
      const st = fstatSync(this.fd);
      this.ino = st.ino;
      this.offset = atEnd ? st.size : 0;
    } catch {
      this.fd = undefined;
    }
  }

  private poll(): void {
    if (this.fd === undefined) {
      this.open(false);
      if (this.fd === undefined) return;
    }
    // logrotate: a new file under the name, or this one truncated, is read from its start.
    try {
      const st = statSync(this.file);
      if (st.ino !== this.ino || st.size < this.offset) {
        closeSync(this.fd);
        this.open(false);
        if (this.fd === undefined) return;
      }
    } catch {
      return;
    }
    for (;;) {
      let n = 0;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, this.offset);
      } catch {
        return;
      }
      if (n <= 0) return;
      this.offset += n;
      const text = this.partial + this.buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        const e = parseLogLine(line);
        if (e) for (const fn of this.listeners) fn(e);
      }
      if (n < this.buf.length) return;
    }
  }
}
