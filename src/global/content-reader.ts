/**
 * content-reader: reads queued content for a delivery agent, keeping the
 * journal segments it reads open between deliveries. Opening and closing a
 * segment per delivery cost more than the delivery's own SMTP work; an open
 * descriptor also keeps reading right after compaction has unlinked the
 * segment, since the bytes at a location never change.
 * Small contents are read synchronously (a page-cache copy of a few KiB is
 * cheaper than a round trip through the thread pool); large ones not, so a
 * 10 MB message never stalls the thread's other deliveries.
 * Errors: as the store's readContent (ERR_STORE_NOT_FOUND, ERR_STORE_IO).
 */
import { closeSync, openSync, read as readAsync, readSync } from 'node:fs';
import { promisify } from 'node:util';
import { locationPath } from '../store/store-segment.js';
import { readContent, StoreError } from '../store/queue-store.js';
import { STORE_ERRORS, type BodyLocation } from '../store/store-types.js';

const SYNC_LIMIT = 256 * 1024;
const MAX_OPEN = 32;
const IDLE_MS = 10_000;

const readP = promisify(readAsync);

/** One number per segment file of any queue shard (segment numbers stay far below 2^40). */
function fileKey(location: BodyLocation): number {
  return (location.shard ?? 0) * 2 ** 40 + location.segment;
}

export class ContentReader {
  private readonly open = new Map<number, { fd: number; lastUsed: number; busy: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly queueDir: string) {
    this.sweeper = setInterval(() => this.sweep(Date.now() - IDLE_MS), IDLE_MS);
    this.sweeper.unref();
  }

  async read(location: BodyLocation): Promise<Buffer> {
    // A large message's body is in a file of its own, read once per delivery: no descriptor kept.
    if (location.file) return readContent(this.queueDir, location);
    let fd: number;
    try {
      fd = this.fdFor(location);
    } catch {
      // Let the store's own reader name the failure (not found, I/O).
      return readContent(this.queueDir, location);
    }
    const entry = this.open.get(fileKey(location))!;
    entry.busy++;
    try {
      return await this.readFrom(fd, location);
    } finally {
      entry.busy--;
      entry.lastUsed = Date.now();
    }
  }

  private async readFrom(fd: number, location: BodyLocation): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(location.length);
    let got = 0;
    while (got < location.length) {
      const n =
        location.length <= SYNC_LIMIT
          ? readSync(fd, buf, got, location.length - got, location.offset + got)
          : (await readP(fd, buf, got, location.length - got, location.offset + got)).bytesRead;
      if (n === 0) throw new StoreError(STORE_ERRORS.NOT_FOUND, `segment ${location.segment} offset ${location.offset}: content runs past the segment's end`);
      got += n;
    }
    return buf;
  }

  close(): void {
    clearInterval(this.sweeper);
    this.sweep(Infinity);
  }

  private fdFor(location: BodyLocation): number {
    const now = Date.now();
    const segment = fileKey(location);
    const hit = this.open.get(segment);
    if (hit) {
      hit.lastUsed = now;
      return hit.fd;
    }
    const fd = openSync(locationPath(this.queueDir, location), 'r');
    if (this.open.size >= MAX_OPEN) {
      let oldest: number | undefined;
      for (const [seg, e] of this.open) if (e.busy === 0 && (oldest === undefined || e.lastUsed < this.open.get(oldest)!.lastUsed)) oldest = seg;
      if (oldest !== undefined) this.drop(oldest);
    }
    this.open.set(segment, { fd, lastUsed: now, busy: 0 });
    return fd;
  }

  private sweep(before: number): void {
    for (const [seg, e] of this.open) if (e.busy === 0 && e.lastUsed < before) this.drop(seg);
  }

  private drop(segment: number): void {
    const e = this.open.get(segment);
    if (!e) return;
    this.open.delete(segment);
    try {
      closeSync(e.fd);
    } catch {
      // Already closed: nothing to do.
    }
  }
}
