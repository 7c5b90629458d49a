/**
 * store-spool: the file a large message is received into
 * (QUEUEDIR/spool/QUEUEID, 0600), written as the bytes arrive so that no
 * buffer holds the whole message. The receiver writes, then finish()
 * syncs the file and hands back its length; the store's append() moves it
 * beside the journal (queue-store). abort() deletes it. Writes are queued
 * in order; `pending` says how many bytes are queued and not yet written,
 * so a receiver can pause its socket when the disk is slower than it.
 * Errors: the first write failure is kept and thrown by finish(); abort()
 * never throws.
 */
import type { FileHandle } from 'node:fs/promises';
import { unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { makePrivateDir, openPrivate } from '../util/private-files.js';
import { spoolPath } from './store-segment.js';

export class SpoolFile {
  private fh: Promise<FileHandle>;
  private chain: Promise<void>;
  private failure: Error | undefined;
  private written = 0;
  private queued = 0;
  private ended = false;

  private constructor(readonly path: string) {
    this.fh = openPrivate(path, 'wx').catch(async (err: NodeJS.ErrnoException) => {
      // The spool directory is made by the store when it opens; a receiver running without one makes it.
      if (err.code !== 'ENOENT') throw err;
      await makePrivateDir(dirname(path));
      return openPrivate(path, 'wx');
    });
    this.chain = this.fh.then(
      () => undefined,
      (err: Error) => {
        this.failure ??= err;
      },
    );
  }

  /** Starts the spool file of `queueId` under `queueDir` (an existing one is an error: ids are unique). */
  static create(queueDir: string, queueId: string): SpoolFile {
    return new SpoolFile(spoolPath(queueDir, queueId));
  }

  /** Bytes given to write() so far. */
  get size(): number {
    return this.queued;
  }

  /** Bytes queued and not yet on their way to the kernel. */
  get pending(): number {
    return this.queued - this.written;
  }

  /** Queues `chunk` (kept by reference until written: the caller must not reuse it). */
  write(chunk: Buffer): Promise<void> {
    if (this.ended) throw new Error('spool file already finished');
    this.queued += chunk.length;
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        const fh = await this.fh;
        let at = 0;
        while (at < chunk.length) at += (await fh.write(chunk, at, chunk.length - at)).bytesWritten;
        this.written += chunk.length;
      } catch (err) {
        this.failure ??= err as Error;
      }
    });
    return this.chain;
  }

  /** Waits for the writes, syncs the file and closes it; resolves with its length. */
  async finish(): Promise<number> {
    this.ended = true;
    await this.chain;
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
    await this.chain;
    await this.fh.then((fh) => fh.close()).catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }
}
