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
import { bodyFilePath, locationPath } from './store-segment.js';
import { STORE_ERRORS, type BodyLocation } from './store-types.js';

const CHUNK = 64 * 1024;

function checkLocation(location: BodyLocation): void {
  const f = location.file;
  const ok = [location.segment, location.offset, location.length, location.shard ?? 0, ...(f ? [f.offset, f.length] : [])]
    .every((n) => Number.isSafeInteger(n) && n >= 0) && (!f || (typeof f.name === 'string' && /^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(f.name)));
  if (!ok) throw new StoreError(STORE_ERRORS.NOT_FOUND, `bad content location ${JSON.stringify(location)}`);
}

/** One contiguous piece of a content: a file and a byte range. */
interface Piece {
  path: string;
  offset: number;
  length: number;
  what: string;
}

/** The pieces of a content in order: the record's blob, then the body file's range. */
function piecesOf(queueDir: string, location: BodyLocation): Piece[] {
  checkLocation(location);
  const out: Piece[] = [{ path: locationPath(queueDir, location), offset: location.offset, length: location.length, what: `segment ${location.segment} offset ${location.offset}` }];
  const f = location.file;
  if (f) out.push({ path: bodyFilePath(queueDir, location.shard, f.name), offset: f.offset, length: f.length, what: `body file ${f.name}` });
  return out;
}

/** The content's whole length. */
export function contentLength(location: BodyLocation): number {
  return location.length + (location.file ? location.file.length : 0);
}

/**
 * Reads a message's content (headers + body) in one Buffer; `headersOnly`
 * reads only the journal record's part (the whole content, or the header
 * section of a message whose body is in a file).
 */
export async function readContent(queueDir: string, location: BodyLocation, headersOnly = false): Promise<Buffer> {
  const pieces = piecesOf(queueDir, location);
  if (headersOnly) pieces.length = 1;
  const total = pieces.reduce((n, p) => n + p.length, 0);
  const buf = Buffer.allocUnsafe(total);
  let at = 0;
  for (const p of pieces) {
    await readPiece(p, buf, at);
    at += p.length;
  }
  return buf;
}

async function readPiece(p: Piece, buf: Buffer, at: number): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(p.path, 'r');
  } catch (err) {
    throw readFailure(err, p.what);
  }
  try {
    let got = 0;
    while (got < p.length) {
      const { bytesRead } = await fh.read(buf, at + got, p.length - got, p.offset + got);
      if (bytesRead === 0) throw new StoreError(STORE_ERRORS.NOT_FOUND, `${p.what}: content runs past the file's end`);
      got += bytesRead;
    }
  } catch (err) {
    throw readFailure(err, p.what);
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
  private pieces: Piece[] = [];
  private piece = 0;
  private done = 0;

  constructor(private readonly queueDir: string, private readonly location: BodyLocation) {
    super();
  }

  override _construct(callback: (error?: Error | null) => void): void {
    try {
      this.pieces = piecesOf(this.queueDir, this.location);
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.openPiece().then(() => callback(), (err: unknown) => callback(err as Error));
  }

  private async openPiece(): Promise<void> {
    const p = this.pieces[this.piece];
    try {
      this.fh = await open(p.path, 'r');
    } catch (err) {
      throw readFailure(err, p.what);
    }
  }

  override _read(): void {
    const p = this.pieces[this.piece];
    const want = Math.min(CHUNK, p.length - this.done);
    if (want <= 0) {
      if (this.piece + 1 >= this.pieces.length) {
        this.push(null);
        return;
      }
      // The next piece: the body file after the header section.
      const fh = this.fh;
      this.fh = undefined;
      this.piece++;
      this.done = 0;
      void (fh ? fh.close().catch(() => undefined) : Promise.resolve())
        .then(() => this.openPiece())
        .then(() => this._read(), (err: unknown) => this.destroy(err as Error));
      return;
    }
    const fh = this.fh as FileHandle;
    const buf = Buffer.allocUnsafe(want);
    fh.read(buf, 0, want, p.offset + this.done).then(
      ({ bytesRead }) => {
        if (bytesRead === 0) {
          this.destroy(new StoreError(STORE_ERRORS.NOT_FOUND, `${p.what}: content runs past the file's end`));
          return;
        }
        this.done += bytesRead;
        this.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
      },
      (err: unknown) => this.destroy(readFailure(err, p.what)),
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
