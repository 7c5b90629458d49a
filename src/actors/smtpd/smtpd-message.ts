/**
 * smtpd-message: assembles the content of one DATA phase as it goes to the
 * submission: the un-dot-stuffed bytes from smtp-server, collected up to
 * message_size_limit (beyond it the bytes are counted and dropped, and the
 * message is refused), with bare <LF> turned into <CR><LF> (Postfix's
 * smtpd_forbid_bare_newline = normalize; the line end Postfix itself would
 * write); BODY=BINARYMIME content is kept as sent. A message that grows
 * past message_spool_threshold goes, from then on, to a spool file as it
 * arrives (the bytes so far first), so no buffer holds it whole; its bare
 * <LF> are normalised as they are written (as cleanup normalises any
 * content it is given, BINARYMIME included), the last byte of each chunk
 * carried to the next. Never throws; a spool write failure surfaces when
 * the file is finished.
 */
import type { SpoolFile } from '../../store/store-spool.js';
import { normalizeBareLF } from '../../util/line-ends.js';

/** Where a message past the spool threshold goes: its threshold and how its file is made. */
export interface SpillTo {
  threshold: number;
  create: () => SpoolFile;
}

export class MessageCollector {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private spool: SpoolFile | undefined;
  /** The last byte written to the spool was <CR> (a <LF> opening the next chunk is not bare). */
  private lastCR = false;
  /** True once the content went over the limit; the bytes are no longer kept. */
  oversized = false;

  /** `normalize`: bare <LF> becomes <CR><LF> (false for BODY=BINARYMIME, whose bytes are kept as sent). */
  constructor(
    private readonly limit: number,
    private readonly normalize = true,
    private readonly spill?: SpillTo,
  ) {}

  add(chunk: Buffer): void {
    if (this.oversized) return;
    this.bytes += chunk.length;
    if (this.limit > 0 && this.bytes > this.limit) {
      this.oversized = true;
      this.chunks = [];
      this.discard();
      return;
    }
    if (this.spool) {
      this.toSpool(chunk);
      return;
    }
    this.chunks.push(chunk);
    if (this.spill && this.spill.threshold > 0 && this.bytes > this.spill.threshold) {
      this.spool = this.spill.create();
      for (const c of this.chunks) this.toSpool(c);
      this.chunks = [];
    }
  }

  private toSpool(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const out = normalizeBareLF(chunk, this.lastCR);
    this.lastCR = chunk[chunk.length - 1] === 0x0d;
    (this.spool as SpoolFile).write(out);
  }

  /** The spool file once the message went past the threshold; content() is then empty. */
  get spooled(): SpoolFile | undefined {
    return this.spool;
  }

  /** Deletes the spool file, if any (the message is refused or the session ended). */
  discard(): void {
    const spool = this.spool;
    this.spool = undefined;
    if (spool) void spool.abort();
  }

  /** content() turns bare LF into CRLF (false for BODY=BINARYMIME). */
  get normalizes(): boolean {
    return this.normalize;
  }

  /** Bytes received so far, as the client sent them. */
  get size(): number {
    return this.bytes;
  }

  /** The whole content, bare <LF> normalised to <CR><LF>; taken once (the chunks are released). */
  content(): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.bytes);
    this.chunks = [];
    return this.normalize ? normalizeBareLF(all) : all;
  }
}
