/**
 * log: Postfix-format log lines, one per event:
 *   "MMM DD HH:MM:SS host syslog_name/ROLE[ID]: text"
 * Lines go to maillog_file when it is set; otherwise to syslog (log-syslog)
 * when the daemon runs detached (`postrider start` sets LOG_MODE_ENV to
 * "syslog" in its environment, which every worker thread inherits) and the
 * syslog socket exists; otherwise to standard output (start-fg).
 * Each thread buffers its lines and writes them at the end of the turn, or
 * once per few milliseconds while busy (log-pacer), so the hot path pays
 * for a string, not a system call. reopen() serves
 * logrotate (SIGHUP / `postrider logrotate`). tapLog() hands this thread's
 * lines, a batch per turn, to a reader besides the sink (the HTTP API's
 * event stream, through log-channel); with no tap a line costs one size
 * check more.
 */
import { openSync, writeSync, closeSync } from 'node:fs';
import { hostname } from 'node:os';
import { existsSync } from 'node:fs';
import { LogPacer } from './log-pacer.js';
import { SyslogSink, type LogEntry } from './log-syslog.js';
import type { Severity } from './syslog-format.js';

/** The environment variable by which `postrider start` asks its daemon for syslog. */
export const LOG_MODE_ENV = 'POSTRIDER_LOG';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Syslog-style timestamp in local time, as Postfix writes it ("Nov  8 09:05:01"). */
export function syslogTime(d = new Date()): string {
  const day = d.getDate();
  return `${MONTHS[d.getMonth()]} ${day < 10 ? ' ' + day : day} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** The second the stamp below is for (milliseconds since the epoch / 1000), and the stamp. */
let stampSecond = -1;
let stamp = '';

/**
 * syslogTime() of now, made once per second: a busy thread logs several
 * lines a message, and each local-time conversion asks the time zone
 * rules again. A new second (a DST change included) makes a new stamp.
 */
export function syslogTimeNow(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== stampSecond) {
    stampSecond = second;
    stamp = syslogTime(new Date(second * 1000));
  }
  return stamp;
}

export interface LogSink {
  /** `line` is the whole formatted line; `entry` its parts, for syslog. */
  write(line: string, entry?: LogEntry): void;
  flush(): void;
  reopen(): void;
}

/** Buffered sink to a file (O_APPEND, so lines from many threads interleave whole) or stdout. */
export class BufferedSink implements LogSink {
  private fd: number;
  private pending: string[] = [];
  /** When the lines are written (log-pacer): a write per turn when quiet, per interval when busy. */
  readonly pacer = new LogPacer(() => this.writePending());

  constructor(private readonly file: string | undefined) {
    this.fd = file ? openSync(file, 'a') : 1;
  }

  write(line: string): void {
    this.pending.push(line);
    this.pacer.schedule();
  }

  flush(): void {
    this.pacer.now();
  }

  private writePending(): boolean {
    if (this.pending.length === 0) return false;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    try {
      writeSync(this.fd, text);
    } catch {
      // A log that cannot be written must never take mail down with it.
    }
    return true;
  }

  reopen(): void {
    this.flush();
    if (!this.file) return;
    const old = this.fd;
    this.fd = openSync(this.file, 'a');
    closeSync(old);
  }
}

let sink: LogSink | undefined;
let host = hostname();
let syslogName = 'postrider';

/** Where lines go when maillog_file is empty: the syslog socket and facility. */
export interface SyslogTarget {
  socket: string;
  facility: number;
}

let syslogKey = '';

/** The sink for these settings (the syslog sink is kept while its settings stay). */
function sinkFor(opts: { maillogFile?: string; syslog?: SyslogTarget }): LogSink {
  if (opts.maillogFile || !opts.syslog || process.env[LOG_MODE_ENV] !== 'syslog' || !existsSync(opts.syslog.socket)) {
    if (sink instanceof SyslogSink) sink.close();
    syslogKey = '';
    return new BufferedSink(opts.maillogFile || undefined);
  }
  const key = `${opts.syslog.socket}\u0000${opts.syslog.facility}`;
  if (sink instanceof SyslogSink && key === syslogKey) return sink;
  if (sink instanceof SyslogSink) sink.close();
  syslogKey = key;
  return new SyslogSink(opts.syslog.socket, opts.syslog.facility);
}

/** Sets where this thread's log lines go; called at start and at each reconfiguration. */
export function configureLogging(opts: { maillogFile?: string; myhostname?: string; syslogName?: string; syslog?: SyslogTarget; sink?: LogSink }): void {
  sink?.flush();
  sink = opts.sink ?? sinkFor(opts);
  if (opts.myhostname) host = opts.myhostname.split('.')[0];
  if (opts.syslogName) syslogName = opts.syslogName;
}

export function reopenLog(): void {
  sink?.reopen();
}

export function flushLog(): void {
  sink?.flush();
  flushTaps();
}

/** Reads this thread's log lines: newline-joined, a batch per event-loop turn. */
export type LogTap = (lines: string) => void;

const taps = new Set<LogTap>();
let tapped: string[] = [];
let tapScheduled = false;

/** Adds a tap; returns the function that removes it. */
export function tapLog(fn: LogTap): () => void {
  taps.add(fn);
  return () => {
    taps.delete(fn);
  };
}

function tap(line: string): void {
  tapped.push(line);
  if (!tapScheduled) {
    tapScheduled = true;
    setImmediate(flushTaps);
  }
}

function flushTaps(): void {
  tapScheduled = false;
  if (tapped.length === 0) return;
  const lines = tapped.join('\n');
  tapped = [];
  for (const fn of taps) {
    try {
      fn(lines);
    } catch {
      // A reader that fails must never take mail down with it.
    }
  }
}

export class Logger {
  constructor(readonly role: string, readonly id: number | string) {}

  private emit(text: string, severity: Severity = 'info'): void {
    if (!sink) sink = new BufferedSink(undefined);
    const tag = `${syslogName}/${this.role}`;
    const line = `${syslogTimeNow()} ${host} ${tag}[${this.id}]: ${text}`;
    sink.write(line, { tag, id: this.id, severity, text });
    if (taps.size > 0) tap(line);
  }

  info(text: string): void {
    this.emit(text);
  }

  warning(text: string): void {
    this.emit(`warning: ${text}`, 'warning');
  }

  error(text: string): void {
    this.emit(`error: ${text}`, 'error');
  }

  fatal(text: string): void {
    this.emit(`fatal: ${text}`, 'fatal');
  }

  /** A line about one queued message: "QUEUEID: text". */
  queue(queueId: string, text: string): void {
    this.emit(`${queueId}: ${text}`);
  }
}
