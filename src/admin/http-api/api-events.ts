/**
 * api-events: the delivery log as structured events for the HTTP API's
 * Server-Sent Events stream and throughput graph. parseLogLine reads one
 * Postfix-format line (received, delivered, deferred, bounced, expired,
 * rejected, an actor's crash or restart); LogEvents turns the lines of a
 * LineSource into events for its listeners, reading only while it has any.
 *
 * The line sources: api-log-file follows maillog_file when it is set;
 * api-log-shared reads every thread's lines from the log channel
 * (util/log-channel) when the log goes to standard output or to syslog.
 *
 * Errors: a line that is none of the above is no event; nothing throws.
 */

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

/** Where log lines come from: start() begins handing over whole lines, stop() ends it. */
export interface LineSource {
  start(onLine: (line: string) => void): void;
  stop(): void;
}

/** The events of a source's lines, for its listeners; reads only while it has any. */
export class LogEvents {
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly source: LineSource) {}

  /** Adds a listener; returns the function that removes it. */
  listen(fn: EventListener): () => void {
    if (this.listeners.size === 0) this.source.start((line) => this.line(line));
    this.listeners.add(fn);
    return () => {
      if (!this.listeners.delete(fn)) return;
      if (this.listeners.size === 0) this.source.stop();
    };
  }

  get listening(): number {
    return this.listeners.size;
  }

  close(): void {
    if (this.listeners.size > 0) this.source.stop();
    this.listeners.clear();
  }

  private line(line: string): void {
    const e = parseLogLine(line);
    if (e) for (const fn of this.listeners) fn(e);
  }
}
