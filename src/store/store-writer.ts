/**
 * store-writer: the journal's single writer with group commit. Appends that
 * arrive while a flush runs are coalesced into the next flush: one writev,
 * one fdatasync, then every append in the batch is acknowledged. After a
 * flush the writer lets one turn of the event loop pass before it takes the
 * next batch, so the callers it just acknowledged join that batch together
 * rather than one of them going first alone. A lone append (writer idle) is
 * flushed at once. Batches are capped by bytes. A batch of lazy records
 * only (the end of a delivered message) is written without an fdatasync:
 * the next one of the segment covers it, and a rollover or a close syncs a
 * segment's lazy tail. Segments are
 * pre-sized with ftruncate (zeros), and a new one starts when a batch would
 * not fit; the next segment is made ready in the background, so a rollover
 * costs no file creation or fsync on the append path. The write and the
 * fdatasync are both synchronous, in the journal's own thread: the appends
 * that arrive meanwhile wait in its message port and make the next batch,
 * as they waited for the promise before, and handing each fdatasync to
 * libuv's thread pool and back cost more CPU than the sync itself (process
 * CPU per fdatasync 80-200 us through the pool against 50-65 us in the
 * thread; perf/harness `bench run`, 1 KiB kept: about 2% of the process's
 * CPU per message). A slow disk delays the journal's other requests by one
 * sync; they wait on the same disk anyway.
 *
 * Errors: a failed write or sync rejects the whole batch with ERR_STORE_FULL
 * (ENOSPC, EDQUOT, EFBIG) or ERR_STORE_IO, after cutting the segment back to
 * its last durable offset; the next batch tries again (after EFBIG, in a
 * fresh segment). Appends after close() reject with ERR_STORE_CLOSED.
 */
import { fdatasyncSync, writevSync } from 'node:fs';
import { unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { observe } from '../util/metrics-counters.js';
import { openPrivate } from '../util/private-files.js';
import { unwrittenBuffers } from '../util/unwritten-buffers.js';
import { StoreError, writeFailure } from './store-errors.js';
import type { EncodedFrame } from './store-frame.js';
import { JOURNAL_DIR, segmentPath, syncDir } from './store-segment.js';
import { STORE_ERRORS } from './store-types.js';

/** Flush statistics, exposed as QueueStore.stats. */
export interface WriterStats {
  /** fdatasync calls that made a batch durable. */
  flushes: number;
  /** Batches written without an fdatasync of their own (lazy records only). */
  lazyWrites: number;
  /** Records written (durable, or lazy and durable with the next fdatasync). */
  records: number;
  /** Bytes written, likewise. */
  bytes: number;
  /** Records in the most recent batch. */
  lastBatch: number;
}

/**
 * Frames that will share one writev and one fdatasync, and the one promise
 * they all wait on: nothing is allocated per append but the array slot.
 */
class Batch {
  readonly frames: EncodedFrame[] = [];
  bytes = 0;
  /** Some frame must be on disk before the batch is acknowledged: the batch ends with an fdatasync. */
  durable = false;
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (e: Error) => void;

  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A batch nobody awaits any more (its callers gave up) must not crash the process.
    this.done.catch(() => undefined);
  }
}

export interface WriterOptions {
  segmentBytes: number;
  maxBatchBytes: number;
  /** Called when a segment is started, so compaction knows which ones are sealed. */
  onSegment?: (n: number, previous: number | undefined, previousBytes: number) => void;
}

/** A segment file made ready ahead of need. */
interface Prepared {
  n: number;
  fh: Promise<FileHandle>;
}

/** The group-commit writer; one per open store. */
export class JournalWriter {
  readonly stats: WriterStats = { flushes: 0, lazyWrites: 0, records: 0, bytes: 0, lastBatch: 0 };
  /** Batches waiting for the flush now running; the last one takes new appends. */
  private waiting: Batch[] = [];
  private running = false;
  private closed = false;
  private fh: FileHandle | undefined;
  private offset = 0;
  private segmentSealed = false;
  /** Lazy records were written to the current segment since its last fdatasync. */
  private unsynced = false;
  private prepared: Prepared | undefined;
  private idle: (() => void)[] = [];
  /** Where small records are gathered for one write; grows to the largest batch. */
  private scratch = Buffer.allocUnsafeSlow(256 * 1024);

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

  /**
   * Queues a frame; resolves once it is on disk, and then frame.segment and
   * frame.offset say where it landed. Frames queued together share a promise.
   * `durable` false (a lazy record): resolves once the frame is written to
   * the segment (the page cache), without an fdatasync of its own; the next
   * fdatasync of the segment, whoever asks for it, makes it durable too. A
   * killed process loses nothing written; a machine that loses power may
   * lose the lazy records written since the last fdatasync.
   */
  append(frame: EncodedFrame, durable = true): Promise<void> {
    if (this.closed) return Promise.reject(new StoreError(STORE_ERRORS.CLOSED, 'queue store is closed'));
    let batch = this.waiting.length > 0 ? this.waiting[this.waiting.length - 1] : undefined;
    if (!batch || (batch.frames.length > 0 && batch.bytes + frame.size > this.opts.maxBatchBytes)) {
      batch = new Batch();
      this.waiting.push(batch);
    }
    batch.frames.push(frame);
    batch.bytes += frame.size;
    if (durable) batch.durable = true;
    if (!this.running) {
      this.running = true;
      void this.run();
    }
    return batch.done;
  }

  private async run(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.shift() as Batch;
      await this.flush(batch);
      // Let the callers just acknowledged submit their next records before
      // choosing what to flush next, or to stop: stopping at once made the
      // first of them a lone append, flushed by itself, while all the others
      // waited a whole fdatasync for it before their own.
      await new Promise<void>((r) => setImmediate(r));
    }
    this.running = false;
    const waiters = this.idle;
    this.idle = [];
    for (const w of waiters) w();
  }

  private async flush(batch: Batch): Promise<void> {
    const frames = batch.frames;
    const bytes = batch.bytes;
    // The last durable offset of the segment this batch goes to.
    let good = this.offset;
    try {
      if (this.segmentSealed || !this.fh || (this.offset > 0 && this.offset + bytes > this.opts.segmentBytes)) {
        await this.startSegment();
        good = this.offset;
      }
      const base = this.offset;
      const buffers: Uint8Array[] = [];
      for (const f of frames) {
        buffers.push(f.head);
        if (f.blob) buffers.push(f.blob);
      }
      // Many small records: one copy into one buffer is cheaper than a long
      // iovec. The buffer is kept and reused (the write is synchronous), so a
      // batch does not cost a fresh allocation and its page faults.
      const small = buffers.length > 8 && bytes < buffers.length * 4096;
      writeAll((this.fh as FileHandle).fd, small ? [this.gather(buffers, bytes)] : buffers, base, bytes);
      if (batch.durable) {
        const syncStart = performance.now();
        fdatasyncSync((this.fh as FileHandle).fd);
        this.unsynced = false;
        // Two observations per fdatasync, not per record: nothing on the per-append path.
        observe('journal_fsync_seconds', (performance.now() - syncStart) / 1000);
        observe('journal_batch_records', frames.length);
        this.stats.flushes++;
      } else {
        this.unsynced = true;
        this.stats.lazyWrites++;
      }
      this.offset = base + bytes;
      this.stats.records += frames.length;
      this.stats.bytes += bytes;
      this.stats.lastBatch = frames.length;
      let pos = base;
      for (const f of frames) {
        f.segment = this.segment;
        f.offset = pos;
        pos += f.size;
      }
      batch.resolve();
    } catch (err) {
      const e = writeFailure(err, `journal segment ${this.segment}`);
      await this.cutBack(e, good);
      batch.reject(e);
    }
  }

  /** Copies `buffers` end to end into the reused scratch buffer. */
  private gather(buffers: Uint8Array[], bytes: number): Buffer {
    if (this.scratch.length < bytes) this.scratch = Buffer.allocUnsafeSlow(Math.max(bytes, 2 * this.scratch.length));
    const out = this.scratch;
    let at = 0;
    for (const b of buffers) {
      out.set(b, at);
      at += b.length;
    }
    return out.subarray(0, bytes);
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

  /** Creates (0600, whatever the umask), pre-sizes and syncs segment `n` (file and directory entry). */
  private async createSegment(n: number): Promise<FileHandle> {
    const fh = await openPrivate(segmentPath(this.queueDir, n), 'w+');
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
    return fh;
  }

  /**
   * Moves to the next segment: the one prepared in the background when it is
   * ready, else a new one made now (which reports any failure to the batch).
   */
  private async startSegment(): Promise<void> {
    const next = this.segment + 1;
    let fh: FileHandle | undefined;
    const ready = this.prepared;
    this.prepared = undefined;
    if (ready) {
      const got = await ready.fh.catch(() => undefined);
      if (got && ready.n === next) fh = got;
      else await got?.close().catch(() => undefined);
    }
    fh ??= await this.createSegment(next);
    const old = this.fh;
    // Later fdatasyncs go to the new segment: the old one's lazy tail is made durable now.
    if (old && this.unsynced) await old.datasync().catch(() => undefined);
    this.unsynced = false;
    const previous = old ? this.segment : undefined;
    const previousBytes = this.offset;
    this.fh = fh;
    this.segment = next;
    this.offset = 0;
    this.segmentSealed = false;
    this.opts.onSegment?.(next, previous, previousBytes);
    await old?.close().catch(() => undefined);
    this.prepareNext();
  }

  /**
   * Makes the segment after the current one in the background, so a rollover
   * costs no file creation and no fsync on the append path. A failure here is
   * forgotten: the rollover then tries inline and reports it.
   */
  private prepareNext(): void {
    if (this.closed) return;
    const n = this.segment + 1;
    const fh = this.createSegment(n);
    fh.catch(() => undefined);
    this.prepared = { n, fh };
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
    if (fh && this.unsynced) await fh.datasync().catch(() => undefined);
    this.unsynced = false;
    await fh?.close();
    // The prepared segment was never written: remove it rather than leave an empty file.
    const ready = this.prepared;
    this.prepared = undefined;
    if (ready) {
      const pfh = await ready.fh.catch(() => undefined);
      if (pfh) {
        await pfh.close().catch(() => undefined);
        await unlink(segmentPath(this.queueDir, ready.n)).catch(() => undefined);
        await syncDir(join(this.queueDir, JOURNAL_DIR)).catch(() => undefined);
      }
    }
  }
}

/**
 * Writes every byte of `buffers` (`total` bytes in all) at `position`. Synchronous on purpose: it
 * only copies into the page cache (about a tenth of a millisecond for a
 * batch), while a thread-pool round trip costs more than the copy on a busy
 * machine and delays the fdatasync that everyone in the batch waits for.
 */
function writeAll(fd: number, buffers: Uint8Array[], position: number, total: number): void {
  let pos = position;
  let left = total;
  let bufs = buffers;
  for (;;) {
    const bytesWritten = writevSync(fd, bufs, pos);
    if (bytesWritten >= left) return;
    if (bytesWritten === 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
    pos += bytesWritten;
    left -= bytesWritten;
    bufs = unwrittenBuffers(bufs, bytesWritten);
  }
}
