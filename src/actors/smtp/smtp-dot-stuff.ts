/**
 * smtp-dot-stuff: the DATA transparency of RFC 5321 4.5.2 as nodemailer's
 * DataStream applies it (a dot that starts a line is doubled, a bare CR or
 * bare LF becomes CRLF, and a dot after a bare CR is doubled too, so no
 * receiver can read "\r.\r" as the end of the data), with the same output
 * byte for byte, but found by native scans for CR and LF instead of a
 * JavaScript loop over every byte: that loop was a quarter of an smtp
 * thread's CPU at 64 KiB a message. A chunk with nothing to change (CRLF
 * lines, no dot at a line's start) is found by one regular-expression scan
 * and passed on as it is.
 *
 * dotStuff(chunk, last) returns the chunk's bytes to send (the chunk itself
 * when nothing changes); `last` is the byte before it, or false at the start
 * of the data. smtp-data sends a whole message as one chunk and ends it as
 * DataStream's _flush does. Never throws.
 */
import { NOT_CRLF } from '../../util/line-ends.js';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const INSERT_CR = Buffer.from('\r');
const INSERT_LF = Buffer.from('\n');
const INSERT_LF_DOT = Buffer.from('\n.');
const INSERT_DOT = Buffer.from('.');

/** Anything in a chunk that escaping changes: a bare CR or LF (line-ends), or a dot that starts a line. */
const ESCAPED = new RegExp(`${NOT_CRLF.source}|\\n\\.`);

/** The escaped bytes of `chunk`, given the byte sent before it (false: none yet). */
export function dotStuff(chunk: Buffer, last: number | false): Buffer {
  const len = chunk.length;
  if (len === 0) return chunk;
  // The common chunk, CRLF lines and no leading dot, checked in one native scan; the edges with the last chunk go the long way.
  if (last !== CR && chunk[0] !== DOT && !ESCAPED.test(chunk.toString('latin1'))) return chunk;
  let parts: Buffer[] | undefined;
  let from = 0;
  let total = 0;
  const insertAt = (at: number, insert: Buffer): void => {
    parts ??= [];
    if (at > from) {
      parts.push(chunk.subarray(from, at));
      total += at - from;
    }
    parts.push(insert);
    total += insert.length;
    from = at;
  };
  // The first byte, whose predecessor was in the last chunk (a CR or LF at 0 is handled with the rest below).
  const first = chunk[0];
  if (last === CR && first !== LF) insertAt(0, first === DOT ? INSERT_LF_DOT : INSERT_LF);
  else if (first === DOT && (last === LF || last === false)) insertAt(0, INSERT_DOT);
  let cr = chunk.indexOf(CR);
  let lf = chunk.indexOf(LF);
  while (cr !== -1 || lf !== -1) {
    if (lf === -1 || (cr !== -1 && cr < lf)) {
      // A CR not followed by LF: a line end of its own (a CR ending the chunk is judged with the next one).
      const next = cr + 1 < len ? chunk[cr + 1] : LF;
      if (next !== LF) insertAt(cr + 1, next === DOT ? INSERT_LF_DOT : INSERT_LF);
      cr = chunk.indexOf(CR, cr + 1);
    } else {
      const prev = lf > 0 ? chunk[lf - 1] : last;
      if (prev !== CR) insertAt(lf, INSERT_CR);
      if (lf + 1 < len && chunk[lf + 1] === DOT) insertAt(lf + 1, INSERT_DOT);
      lf = chunk.indexOf(LF, lf + 1);
    }
  }
  if (!parts) return chunk;
  if (from < len) {
    parts.push(chunk.subarray(from));
    total += len - from;
  }
  return Buffer.concat(parts, total);
}
