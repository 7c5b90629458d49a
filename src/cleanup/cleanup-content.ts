/**
 * cleanup-content: the byte-level work on a message: bare LF to CRLF, and
 * the split of the header section from the body without a MIME parse. The
 * header section ends at the first empty line, at the first line that is not
 * a header, or where it would exceed header_size_limit (the rest then becomes
 * body, as Postfix does). Never throws; any bytes are a message.
 */
import { normalizeBareLF } from '../util/line-ends.js';

const LF = 0x0a;
const CR = 0x0d;

/** The same bytes as a Buffer (a view, no copy). */
export function asBuffer(content: Uint8Array): Buffer {
  return Buffer.isBuffer(content) ? content : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
}

/** Returns the content with every bare LF turned into CRLF; the same bytes (no copy) when there is none. */
export function normalizeLineEnds(content: Uint8Array): Buffer {
  return normalizeBareLF(asBuffer(content));
}

/** One logical header: its bytes [start, end) including folded lines and the final CRLF. */
export interface HeaderField {
  start: number;
  end: number;
  /** Lowercase field name. */
  name: string;
}

export interface SplitMessage {
  headers: HeaderField[];
  /** Where the header bytes end (exclusive). */
  headerEnd: number;
  /** Where the body starts (after the empty line when there was one). */
  bodyStart: number;
}

/** Length of a header name at `pos` when the line is "name:" (white space before the colon allowed), else -1. */
function headerNameLength(buf: Buffer, pos: number, lineEnd: number): number {
  let i = pos;
  while (i < lineEnd) {
    const c = buf[i];
    if (c === 0x3a) break;
    if (c <= 0x20 || c >= 0x7f) break;
    i++;
  }
  if (i === pos) return -1;
  let j = i;
  while (j < lineEnd && (buf[j] === 0x20 || buf[j] === 0x09)) j++;
  return j < lineEnd && buf[j] === 0x3a ? i - pos : -1;
}

/** Splits a CRLF message into header fields and body. */
export function splitMessage(buf: Buffer, headerSizeLimit: number): SplitMessage {
  const headers: HeaderField[] = [];
  let pos = 0;
  let current: HeaderField | undefined;
  while (pos < buf.length) {
    const nl = buf.indexOf(LF, pos);
    const next = nl < 0 ? buf.length : nl + 1;
    const textEnd = nl < 0 ? buf.length : nl > pos && buf[nl - 1] === CR ? nl - 1 : nl;
    if (textEnd === pos) return { headers, headerEnd: pos, bodyStart: next };
    const first = buf[pos];
    if ((first === 0x20 || first === 0x09) && current) {
      if (next > headerSizeLimit) return overflow(headers, current);
      current.end = next;
    } else {
      const nameLength = headerNameLength(buf, pos, textEnd);
      if (nameLength < 0) return { headers, headerEnd: pos, bodyStart: pos };
      if (next > headerSizeLimit) return { headers, headerEnd: pos, bodyStart: pos };
      current = { start: pos, end: next, name: buf.toString('latin1', pos, pos + nameLength).toLowerCase() };
      headers.push(current);
    }
    pos = next;
  }
  return { headers, headerEnd: pos, bodyStart: pos };
}

/** A folded header crossed the limit: it and the rest become body. */
function overflow(headers: HeaderField[], current: HeaderField): SplitMessage {
  headers.pop();
  return { headers, headerEnd: current.start, bodyStart: current.start };
}

/** A header as one logical line "Name: value", unfolded (line breaks removed, white space kept), without the final CRLF. */
export function unfoldHeader(buf: Buffer, field: HeaderField): string {
  const text = buf.toString('utf8', field.start, field.end);
  return text.replace(/\r?\n/g, '');
}

/** A header's value (after the colon), unfolded and trimmed. */
export function headerValue(buf: Buffer, field: HeaderField): string {
  const line = unfoldHeader(buf, field);
  return line.slice(line.indexOf(':') + 1).trim();
}
