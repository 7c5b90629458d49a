/**
 * smtpd-message: assembles the content of one DATA phase as it goes to the
 * submission: the un-dot-stuffed bytes from smtp-server, collected up to
 * message_size_limit (beyond it the bytes are counted and dropped, and the
 * message is refused), with bare <LF> turned into <CR><LF> (Postfix's
 * smtpd_forbid_bare_newline = normalize; the line end Postfix itself would
 * write); BODY=BINARYMIME content is kept as sent. Never throws.
 */

export class MessageCollector {
  private chunks: Buffer[] = [];
  private bytes = 0;
  /** True once the content went over the limit; the bytes are no longer kept. */
  oversized = false;

  /** `normalize`: bare <LF> becomes <CR><LF> (false for BODY=BINARYMIME, whose bytes are kept as sent). */
  constructor(
    private readonly limit: number,
    private readonly normalize = true,
  ) {}

  add(chunk: Buffer): void {
    if (this.oversized) return;
    this.bytes += chunk.length;
    if (this.limit > 0 && this.bytes > this.limit) {
      this.oversized = true;
      this.chunks = [];
      return;
    }
    this.chunks.push(chunk);
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

/** Inserts CR before every LF that lacks one; returns the input itself when there is none. */
export function normalizeBareLF(buf: Buffer): Buffer {
  let bare = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) {
    if (i === 0 || buf[i - 1] !== 0x0d) bare++;
  }
  if (bare === 0) return buf;
  const out = Buffer.allocUnsafe(buf.length + bare);
  let o = 0;
  let start = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) {
    if (i === 0 || buf[i - 1] !== 0x0d) {
      o += buf.copy(out, o, start, i);
      out[o++] = 0x0d;
      start = i;
    }
  }
  o += buf.copy(out, o, start);
  return out;
}
