/**
 * store-read: reading a message's content by location, from any thread,
 * without the store object: a whole Buffer, or a stream that reads in
 * chunks (never a whole segment). A segment that compaction has deleted
 * fails with ERR_STORE_NOT_FOUND (ask the index for the new location); other
 * failures are ERR_STORE_IO.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { readFailure, StoreError } from './store-errors.js';
import { locationPath } from './store-segment.js';
import { STORE_ERRORS, type BodyLocation } from './store-types.js';

const CHUNK = 64 * 1024;

function checkLocation(location: BodyLocation): void {
  const ok = [location.segment, location.offset, location.length, location.shard ?? 0].every((n) => Number.isSafeInteger(n) && n >= 0);
  if (!ok) throw new StoreError(STORE_ERRORS.NOT_FOUND, `bad content location ${JSON.stringify(location)}`);
}

/** Reads a message's content (headers + body) in one Buffer. */
export async function readContent(queueDir: string, location: BodyLocation): Promise<Buffer> {
  checkLocation(location);
  const what = `segment ${location.segment} offset ${location.offset}`;
  let fh: FileHandle;
  try {
    fh = await open(locationPath(queueDir, location), 'r');
  } catch (err) {
    throw readFailure(err, what);
  }
  try {
    const buf = Buffer.allocUnsafe(location.length);
    let got = 0;
    while (got < location.length) {
      const { bytesRead } = await fh.read(buf, got, location.length - got, location.offset + got);
      if (bytesRead === 0) throw new StoreError(STORE_ERRORS.NOT_FOUND, `${what}: content runs past the segment's end`);
      got += bytesRead;
    }
    return buf;
  } catch (err) {
    throw readFailure(err, what);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** A readable stream of a message's content, read CHUNK bytes at a time. */
export function contentStream(queueDir: string, location: BodyLocation): Readable {
  return new ContentStream(queueDir, location);
}

class ContentStream extends Readable {
  private fh: FileHandle | undefined;
  private done = 0;

  constructor(private readonly queueDir: string, private readonly location: BodyLocation) {
    super();
  }

  override _construct(callback: (error?: Error | null) => void): void {
    try {
      checkLocation(this.location);
    } catch (err) {
      callback(err as Error);
      return;
    }
    open(locationPath(this.queueDir, this.location), 'r').then(
      (fh) => {
        this.fh = fh;
        callback();
      },
      (err: unknown) => callback(readFailure(err, `segment ${this.location.segment}`)),
    );
  }

  override _read(): void {
    const fh = this.fh as FileHandle;
    const want = Math.min(CHUNK, this.location.length - this.done);
    if (want <= 0) {
      this.push(null);
      return;
    }
    const buf = Buffer.allocUnsafe(want);
    fh.read(buf, 0, want, this.location.offset + this.done).then(
      ({ bytesRead }) => {
        if (bytesRead === 0) {
          this.destroy(new StoreError(STORE_ERRORS.NOT_FOUND, `segment ${this.location.segment}: content runs past the segment's end`));
          return;
        }
        this.done += bytesRead;
        this.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
      },
      (err: unknown) => this.destroy(readFailure(err, `segment ${this.location.segment}`)),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const fh = this.fh;
    this.fh = undefined;
    if (!fh) {
      callback(error);
      return;
    }
    fh.close().then(() => callback(error), () => callback(error));
  }
}
