/**
 * line-ends: whether content has any line end but CRLF, answered by one
 * native regular-expression scan of its bytes as a Latin-1 string (each
 * byte one character). Finding every LF with Buffer.indexOf costs a call
 * per line, about three times as long at 64 KiB; the exact per-line work
 * runs only where this says there is something to change. normalizeBareLF
 * is the one bare-LF normaliser, smtpd's (as content arrives) and
 * cleanup's (for what came another way); crlfToLf gives the local and
 * virtual agents UNIX line ends.
 */

/** A CR not followed by LF, or an LF not preceded by CR. */
export const NOT_CRLF = /\r(?!\n)|(?<!\r)\n/;
const LF = 0x0a;
const CR = 0x0d;

/** True when some CR or LF in `buf` is not part of a CRLF pair (a CR at the very end counts, an LF at the very start too). */
export function hasBareLineEnd(buf: Buffer): boolean {
  return NOT_CRLF.test(buf.toString('latin1'));
}

/**
 * Inserts CR before every LF that lacks one; returns the input itself when
 * there is none. `afterCR`: the byte before buf was a CR (a chunk of a stream).
 */
export function normalizeBareLF(buf: Buffer, afterCR = false): Buffer {
  if (!hasBareLineEnd(buf)) return buf;
  let bare = 0;
  for (let i = buf.indexOf(LF); i >= 0; i = buf.indexOf(LF, i + 1)) {
    if (i === 0 ? !afterCR : buf[i - 1] !== CR) bare++;
  }
  if (bare === 0) return buf;
  const out = Buffer.allocUnsafe(buf.length + bare);
  let o = 0;
  let start = 0;
  for (let i = buf.indexOf(LF); i >= 0; i = buf.indexOf(LF, i + 1)) {
    if (i === 0 ? !afterCR : buf[i - 1] !== CR) {
      o += buf.copy(out, o, start, i);
      out[o++] = CR;
      start = i;
    }
  }
  o += buf.copy(out, o, start);
  return out;
}

/** The message with UNIX line ends (CRLF -> LF), for the local and virtual agents; done once per message, not per recipient. */
export function crlfToLf(content: Buffer): Buffer {
  const out = Buffer.allocUnsafe(content.length);
  let n = 0;
  for (let i = 0; i < content.length; i++) {
    const b = content[i];
    if (b === CR && content[i + 1] === LF) continue;
    out[n++] = b;
  }
  return out.subarray(0, n);
}
