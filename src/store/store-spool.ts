/**
 * store-spool: the file a large message is received into
 * (QUEUEDIR/spool/QUEUEID, 0600), written as the bytes arrive so that no
 * buffer holds the whole message. The receiver writes, then finish()
 * syncs the file and hands back its length; the store's append() moves it
 * beside the journal (queue-store). abort() deletes it. Writes are queued
 * in order and whatever queued up meanwhile goes in one writev; `pending`
 * and whenBelow() let a receiver pause its socket while the disk is behind,
 * so the bytes waiting in memory stay bounded.
 * Errors: the first write failure is kept and thrown by finish(); abort()
 * never throws.
 */
import type { FileHandle } from 'node:fs/promises';
import { unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { makePrivateDir, openPrivate } from '../util/private-files.js';
import { unwrittenBuffers } from '../util/unwritten-buffers.js';
import { spoolPath } from './store-segment.js';

/** Buffers handed to one writev (well below IOV_MAX). */
const BATCH = 256;

export class SpoolFile {
  private fh: Promise<FileHandle>;
  private failure: Error | undefined;
  private queue: Buffer[] = [];
  private running: Promise<void> | undefined;
  private written = 0;
  private queued = 0;
  private ended = false;
  private waiters: Array<{ below: number; resolve: () => void }> = [];

  private constructor(readonly path: string) {
    this.fh = openPrivate(path, 'wx').catch(async (err: NodeJS.ErrnoException) => {
      // The spool directory is made by the store when it opens; a receiver running without one makes it.
      if (err.code !== 'ENOENT') throw err;
      await makePrivateDir(dirname(path));
      return openPrivate(path, 'wx');
    });
    this.fh.catch((err: Error) => {
      this.failure ??= err;
    });
  }

  /** Starts the spool file of `queueId` under `queueDir` (an existing one is an error: ids are unique). */
  static create(queueDir: string, queueId: string): SpoolFile {
    return new SpoolFile(spoolPath(queueDir, queueId));
  }

  /** Bytes given to write() so far. */
  get size(): number {
    return this.queued;
  }

  /** Bytes queued and not yet written. */
  get pending(): number {
    return this.queued - this.written;
  }

  /**
   * Queues `chunk` (kept by reference until written: the caller must not
   * reuse it). Whatever is queued while a write is under way goes in the
   * next one, in a single writev.
   */
  write(chunk: Buffer): void {
    if (this.ended) throw new Error('spool file already finished');
    if (chunk.length === 0) return;
    this.queued += chunk.length;
    this.queue.push(chunk);
    this.running ??= this.drain();
  }

  /** Resolves once at most `bytes` are pending (at once if so now, or after a failure). */
  whenBelow(bytes: number): Promise<void> {
    if (this.pending <= bytes || this.failure) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ below: bytes, resolve }));
  }

  private async drain(): Promise<void> {
    try {
      const fh = await this.fh;
      while (this.queue.length > 0 && !this.failure) {
        let batch = this.queue.splice(0, BATCH);
        let left = batch.reduce((n, b) => n + b.length, 0);
        const total = left;
        while (left > 0) {
          const { bytesWritten } = await fh.writev(batch);
          left -= bytesWritten;
          if (left > 0) batch = unwrittenBuffers(batch, bytesWritten);
        }
        this.written += total;
        this.wake();
      }
    } catch (err) {
      this.failure ??= err as Error;
    } finally {
      this.running = undefined;
      this.wake();
    }
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.pending <= w.below || this.failure) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  /** Waits for the writes, syncs the file and closes it; resolves with its length. */
  async finish(): Promise<number> {
    this.ended = true;
    while (this.running) await this.running;
    if (this.failure) throw this.failure;
    const fh = await this.fh;
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return this.written;
  }

  /** Closes and deletes the file (the message was refused or the session ended). */
  async abort(): Promise<void> {
    this.ended = true;
    this.queue = [];
    // Nothing more will be written: whoever waits for the disk to catch up goes on.
    this.failure ??= new Error('spool file aborted');
    this.wake();
    while (this.running) await this.running.catch(() => undefined);
    await this.fh.then((fh) => fh.close()).catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }
}
