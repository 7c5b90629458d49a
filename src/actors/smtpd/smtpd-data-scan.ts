/**
 * smtpd-data-scan: smtp-server's DATA-mode parser (SMTPStream's
 * _feedDataStream) with the same result byte for byte, but found by native
 * searches for "<LF>." instead of a JavaScript loop over every byte, which
 * was a tenth of an smtpd thread's CPU at 64 KiB a message; and an escape
 * dot is dropped in the same pass instead of one event-loop turn per
 * dot-stuffed line.
 *
 * The library's rules, kept exactly (its tests of the terminator split
 * across chunks and of a first line "." sent stuffed rely on them): the end
 * is <CR><LF>.<CR><LF>, or ".<CR><LF>" as the very first line; a line that
 * starts with ".." loses its first dot; the last four bytes of each chunk
 * wait for the next one (prefixed to it), since a terminator or an escape
 * may straddle the two. The emitted content ends with the <CR><LF> before
 * the terminator. Never throws.
 */
import type { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

const LF_DOT = Buffer.from('\n.');
const FIRST_LINE_END = Buffer.from('.\r\n');
const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
/** Bytes kept back at a chunk's end: enough for a terminator's head. */
const HELD = 4;

/** Feeds one chunk of DATA content through `parser` (its _feedDataStream, as the library calls it). */
export function feedDataStream(parser: SMTPStream, input: Buffer, done: () => void): void {
  const dataStream = parser._dataStream!;
  let chunk = input;
  const held = parser._lastBytes;
  if (held && held.length) {
    chunk = Buffer.concat([held, chunk], held.length + chunk.length);
    parser._lastBytes = false;
  }
  let len = chunk.length;
  if (parser._atDataStart && len >= 3 && chunk.subarray(0, 3).equals(FIRST_LINE_END)) {
    parser._endDataMode(false, chunk.subarray(3), done);
    return;
  }
  // The escape dot of the first line: from here on a leading dot is content.
  if (parser._atDataStart && len >= 2 && chunk[0] === DOT && chunk[1] === DOT) {
    chunk = chunk.subarray(1);
    len--;
    parser._atDataStart = false;
  }
  const emit = (part: Buffer): void => {
    parser._countDataBytes(part.length);
    if (dataStream.writable) dataStream.write(part);
  };
  // `from`: the first byte not yet emitted. A dot examined is at i >= 2 and
  // i < len - 2 (the library's bounds: the bytes past them wait for the next chunk).
  let from = 0;
  for (let at = chunk.indexOf(LF_DOT, 1); at >= 0 && at + 1 < len - 2; at = chunk.indexOf(LF_DOT, at + 2)) {
    const i = at + 1;
    if (chunk[i - 2] === CR && chunk[i + 1] === CR && chunk[i + 2] === LF) {
      const last = chunk.subarray(from, i);
      parser._countDataBytes(last.length);
      parser._endDataMode(last, chunk.subarray(i + 3), done);
      return;
    }
    if (chunk[i + 1] === DOT) {
      emit(chunk.subarray(from, i));
      from = i + 1;
    }
  }
  const keep = Math.max(from, len - HELD);
  parser._lastBytes = chunk.subarray(keep);
  if (keep <= from) return done();
  const out = chunk.subarray(from, keep);
  parser._countDataBytes(out.length);
  if (!dataStream.writable) return done();
  if (dataStream.write(out) || dataStream.destroyed) return done();
  // A stream that the application destroys never drains, only closes.
  const onDrain = (): void => {
    dataStream.removeListener('drain', onDrain);
    dataStream.removeListener('close', onDrain);
    done();
  };
  dataStream.once('drain', onDrain);
  dataStream.once('close', onDrain);
}
