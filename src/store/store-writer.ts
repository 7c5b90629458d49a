/**
 * store-writer: the journal's single writer with group commit. Appends that
 * arrive while a flush runs are coalesced into the next flush: one writev,
 * one fdatasync, then every append in the batch is acknowledged. A lone
 * append is flushed at once. Batches are capped by bytes. Segments are
 * pre-sized with ftruncate (zeros), and a new one starts when a batch would
 * not fit.
 *
 * Errors: a failed write or sync rejects the whole batch with ERR_STORE_FULL
 * (ENOSPC, EDQUOT, EFBIG) or ERR_STORE_IO, after cutting the segment back to
 * its last durable offset; the next batch tries again (after EFBIG, in a
 * fresh segment). Appends after close() reject with ERR_STORE_CLOSED.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { observe } from '../util/metrics-counters.js';
import { StoreError, writeFailure } from './store-errors.js';
import type { EncodedFrame } from './store-frame.js';
import { JOURNAL_DIR, segmentPath, syncDir } from './store-segment.js';
import { STORE_ERRORS } from './store-types.js';

/** Where a frame landed. */
export interface FramePosition {
  segment: number;
  offset: number;
}

/** Flush statistics, exposed as QueueStore.stats. */
export interface WriterStats {
  /** fdatasync calls that made a batch durable. */
  flushes: number;
  /** Records made durable. */
  records: number;
  /** Bytes made durable. */
  bytes: number;
  /** Records in the most recent batch. */
  lastBatch: number;
}

interface Pending {
  frame: EncodedFrame;
  resolve: (p: FramePosition) => void;
  reject: (e: Error) => void;
}

export interface WriterOptions {
  segmentBytes: number;
  maxBatchBytes: number;
  /** Called when a segment is started, so compaction knows which ones are sealed. */
  onSegment?: (n: number, previous: number | undefined, previousBytes: number) => void;
}

/** The group-commit writer; one per open store. */
export class JournalWriter {
  readonly stats: WriterStats = { flushes: 0, records: 0, bytes: 0, lastBatch: 0 };
  private queue: Pending[] = [];
  private head = 0;
  private running = false;
  private closed = false;
  private fh: FileHandle | undefined;
  private offset = 0;
  private segmentSealed = false;
  private idle: (() => void)[] = [];

  private constructor(private readonly queueDir: string, private segment: number, private readonly opts: WriterOptions) {}

  /** Starts writing in a new segment numbered `firstSegment`. */
  static async create(queueDir: string, firstSegment: number, opts: WriterOptions): Promise<JournalWriter> {
    const w = new JournalWriter(queueDir, firstSegment - 1, opts);
    await w.startSegment();
    return w;
  }

  /** The segment appends currently go to. */
  get currentSegment(): number {
    return this.segment;
  }

  /** Queues a frame; resolves with its position once it is on disk. */
  append(frame: EncodedFrame): Promise<FramePosition> {
    if (this.closed) return Promise.reject(new StoreError(STORE_ERRORS.CLOSED, 'queue store is closed'));
    return new Promise<FramePosition>((resolve, reject) => {
      this.queue.push({ frame, resolve, reject });
      if (!this.running) {
        this.running = true;
        void this.run();
      }
    });
  }

  private async run(): Promise<void> {
    while (this.head < this.queue.length) {
      const batch = this.takeBatch();
      await this.flush(batch);
      // Let the callers just acknowledged submit their next records, so they
      // join this next batch instead of waiting a whole fdatasync for it.
      if (this.head < this.queue.length) await new Promise<void>((r) => setImmediate(r));
    }
    this.queue = [];
    this.head = 0;
    this.running = false;
    const waiters = this.idle;
    this.idle = [];
    for (const w of waiters) w();
  }

  private takeBatch(): Pending[] {
    let bytes = 0;
    let end = this.head;
    while (end < this.queue.length) {
      const size = this.queue[end].frame.size;
      if (end > this.head && bytes + size > this.opts.maxBatchBytes) break;
      bytes += size;
      end++;
    }
    const batch = this.queue.slice(this.head, end);
    this.head = end;
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  private async flush(batch: Pending[]): Promise<void> {
    let bytes = 0;
    for (const p of batch) bytes += p.frame.size;
    // The last durable offset of the segment this batch goes to.
    let good = this.offset;
    try {
      if (this.segmentSealed || !this.fh || (this.offset > 0 && this.offset + bytes > this.opts.segmentBytes)) {
        await this.startSegment();
        good = this.offset;
      }
      const base = this.offset;
      const buffers: Uint8Array[] = [];
      const positions: FramePosition[] = [];
      let at = base;
      for (const p of batch) {
        buffers.push(p.frame.head);
        if (p.frame.blob) buffers.push(p.frame.blob);
        positions.push({ segment: this.segment, offset: at });
        at += p.frame.size;
      }
      // Many small records: one copy into one buffer is cheaper than a long iovec.
      const small = buffers.length > 8 && bytes < buffers.length * 4096;
      await writeAll(this.fh as FileHandle, small ? [Buffer.concat(buffers, bytes)] : buffers, base);
      const syncStart = performance.now();
      await (this.fh as FileHandle).datasync();
      // Two observations per fdatasync, not per record: nothing on the per-append path.
      observe('journal_fsync_seconds', (performance.now() - syncStart) / 1000);
      observe('journal_batch_records', batch.length);
      this.offset = at;
      this.stats.flushes++;
      this.stats.records += batch.length;
      this.stats.bytes += bytes;
      this.stats.lastBatch = batch.length;
      for (let i = 0; i < batch.length; i++) batch[i].resolve(positions[i]);
    } catch (err) {
      const e = writeFailure(err, `journal segment ${this.segment}`);
      await this.cutBack(e, good);
      for (const p of batch) p.reject(e);
    }
  }

  /** After a failed batch: drop whatever part of it reached the file. */
  private async cutBack(e: StoreError, goodOffset: number): Promise<void> {
    if (e.sysCode === 'EFBIG') this.segmentSealed = true;
    if (!this.fh) return;
    try {
      await this.fh.truncate(goodOffset);
      this.offset = goodOffset;
      await this.fh.datasync();
    } catch {
      // Cannot even truncate: start afresh in a new segment next time.
      this.segmentSealed = true;
    }
  }

  private async startSegment(): Promise<void> {
    const next = this.segment + 1;
    const path = segmentPath(this.queueDir, next);
    const fh = await open(path, 'w+');
    try {
      try {
        await fh.truncate(this.opts.segmentBytes);
      } catch (err) {
        // Pre-sizing only saves metadata updates; a file-size limit is not fatal here.
        if ((err as NodeJS.ErrnoException).code !== 'EFBIG') throw err;
      }
      await fh.sync();
      await syncDir(join(this.queueDir, JOURNAL_DIR));
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    const old = this.fh;
    const previous = old ? this.segment : undefined;
    const previousBytes = this.offset;
    this.fh = fh;
    this.segment = next;
    this.offset = 0;
    this.segmentSealed = false;
    this.opts.onSegment?.(next, previous, previousBytes);
    await old?.close().catch(() => undefined);
  }

  /** Resolves when every queued append has been settled. */
  drain(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Settles what is queued, then closes the segment; later appends reject. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}

async function writeAll(fh: FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  let pos = position;
  let bufs = buffers;
  for (;;) {
    const total = bufs.reduce((n, b) => n + b.length, 0);
    const { bytesWritten } = await fh.writev(bufs, pos);
    if (bytesWritten >= total) return;
    if (bytesWritten === 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
    pos += bytesWritten;
    let skip = bytesWritten;
    const rest: Uint8Array[] = [];
    for (const b of bufs) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      rest.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    bufs = rest;
  }
}
