/**
 * log-syslog: the log sink for syslog: RFC 3164 datagrams
 * "<PRI>Mmm dd hh:mm:ss TAG[ID]: text" (the form glibc's syslog() sends)
 * on the local syslog socket (syslog_socket, /dev/log by default), with
 * facility syslog_facility and the line's severity.
 *
 * Node cannot open a unix datagram socket (node:dgram speaks UDP only,
 * node:net streams only), and the one maintained binding (unix-dgram) is a
 * native addon that must be compiled at install. So the datagrams are sent
 * by util-linux's logger(1), present on every Debian system (bsdutils is
 * essential): one logger per tag and id this thread logs under (a handful),
 * fed lines with a "<PRI>" prefix each, started when the first such line is
 * written and ending when this thread closes its end of the pipe. Lines are
 * handed over as BufferedSink writes them (log-pacer).
 *
 * Never throws: when logger cannot run, the lines go to standard error and
 * one warning says why.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { LogPacer } from './log-pacer.js';
import { priority, type Severity } from './syslog-format.js';

/** What a log line is made of, for sinks that send the parts apart. */
export interface LogEntry {
  tag: string;
  id: number | string;
  severity: Severity;
  text: string;
}

/** The program that sends the datagrams (util-linux). */
export const LOGGER_PROGRAM = 'logger';

interface Feed {
  child: ChildProcessByStdio<Writable, null, null>;
  pending: string;
  failed: boolean;
}

export class SyslogSink {
  private readonly feeds = new Map<string, Feed>();
  /** When the lines are handed over (log-pacer), as BufferedSink writes them. */
  private readonly pacer = new LogPacer(() => this.handOver());

  constructor(
    private readonly socket: string,
    private readonly facility: number,
  ) {}

  write(line: string, entry?: LogEntry): void {
    if (!entry) {
      process.stderr.write(line + '\n');
      return;
    }
    const feed = this.feedFor(entry.tag, String(entry.id));
    if (feed.failed) {
      process.stderr.write(line + '\n');
      return;
    }
    feed.pending += `<${priority(this.facility, entry.severity)}>${entry.text}\n`;
    this.pacer.schedule();
  }

  flush(): void {
    this.pacer.now();
  }

  private handOver(): boolean {
    let wrote = false;
    for (const feed of this.feeds.values()) {
      if (!feed.pending || feed.failed) continue;
      feed.child.stdin.write(feed.pending);
      feed.pending = '';
      wrote = true;
    }
    return wrote;
  }

  /** Nothing to reopen: each datagram finds the socket anew. */
  reopen(): void {
    this.flush();
  }

  /** Ends every logger (each sends what it has read, then exits). */
  close(): void {
    this.flush();
    for (const feed of this.feeds.values()) feed.child.stdin.end();
    this.feeds.clear();
  }

  private feedFor(tag: string, id: string): Feed {
    const key = `${tag}\u0000${id}`;
    const feed = this.feeds.get(key);
    if (feed) return feed;
    const facilityName = this.facility === 0 ? 'kern' : 'user';
    const child = spawn(
      LOGGER_PROGRAM,
      // --prio-prefix: each line's "<PRI>" sets its priority; -p the one of a line without it.
      ['-u', this.socket, '-t', tag, `--id=${id}`, '--prio-prefix', '-p', `${facilityName}.info`, '--socket-errors=off'],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    );
    const f: Feed = { child, pending: '', failed: false };
    child.on('error', (err) => {
      if (f.failed) return;
      f.failed = true;
      process.stderr.write(`${tag}[${id}]: warning: cannot run ${LOGGER_PROGRAM} to send log lines to ${this.socket}: ${err.message}\n`);
      process.stderr.write(f.pending);
    });
    // A logger that went away must not take the thread with it.
    child.stdin.on('error', () => undefined);
    // Neither the child nor its pipe keeps the thread alive.
    child.unref();
    (child.stdin as Socket).unref();
    this.feeds.set(key, f);
    return f;
  }
}
