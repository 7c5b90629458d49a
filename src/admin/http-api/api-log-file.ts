/**
 * api-log-file: the HTTP API's line source when maillog_file is set: the
 * file followed from its end at start(), polled every pollMs, across
 * logrotate (a file that shrank or was replaced is read again from its
 * start).
 *
 * Why the file rather than the log channel here: every thread writes its
 * lines there already, so following it adds no work to the threads that
 * carry mail (the channel costs each a message per event-loop turn).
 *
 * Errors: a file that is missing or unreadable is tried again on the next
 * poll; nothing throws.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import type { LineSource } from './api-events.js';

export class FileLines implements LineSource {
  private onLine?: (line: string) => void;
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

  start(onLine: (line: string) => void): void {
    this.stop();
    this.onLine = onLine;
    this.open(true);
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.partial = '';
    this.onLine = undefined;
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
      for (const line of lines) this.onLine?.(line);
      if (n < this.buf.length) return;
    }
  }
}
