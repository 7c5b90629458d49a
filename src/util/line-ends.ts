/**
 * line-ends: whether content has any line end but CRLF, answered by one
 * native regular-expression scan of its bytes as a Latin-1 string (each
 * byte one character). Finding every LF with Buffer.indexOf costs a call
 * per line, about three times as long at 64 KiB; the exact per-line work
 * runs only where this says there is something to change.
 */

/** A CR not followed by LF, or an LF not preceded by CR. */
const NOT_CRLF = /\r(?!\n)|(?<!\r)\n/;

/** True when some CR or LF in `buf` is not part of a CRLF pair (a CR at the very end counts, an LF at the very start too). */
export function hasBareLineEnd(buf: Buffer): boolean {
  return NOT_CRLF.test(buf.toString('latin1'));
}
