/**
 * cleanup-edits: the changes content checks make to a message (IGNORE,
 * PREPEND and REPLACE of header_checks, mime_header_checks and body_checks;
 * IGNORE of body lines too)
 * and the assembly of the message that cleanup hands to the store: the new
 * top headers, the kept, replaced and prepended header lines, the empty
 * line, then the body with its line edits. Header edits are keyed by the
 * header's index in the split message; body edits by byte range in the
 * normalised message. Pure; never throws: an edit whose range overlaps one
 * already applied is skipped.
 */
import { headerValue, type HeaderField } from './cleanup-content.js';

const CRLF = Buffer.from('\r\n');

/** One change to a body line or a MIME part header, by byte range [start, end) of the message. */
export interface BodyEdit {
  start: number;
  end: number;
  /** The line to write, without CRLF; absent with `replace`: the range is deleted (IGNORE). */
  text?: string;
  /** true: the text (or nothing) takes the range's place; false: it goes before the range. */
  replace: boolean;
}

/** Every edit the checks asked for. */
export interface ContentEdits {
  /** Indexes of primary headers to drop (IGNORE). */
  ignored: Set<number>;
  /** Header lines (without CRLF) to write before a primary header, in the order they fired. */
  prepend: Map<number, string[]>;
  /** The header line (without CRLF) that takes a primary header's place. */
  replace: Map<number, string>;
  body: BodyEdit[];
}

/** An empty set of edits. */
export function noEdits(): ContentEdits {
  return { ignored: new Set(), prepend: new Map(), replace: new Map(), body: [] };
}

/** True when there is nothing to change. */
export function isEmpty(edits: ContentEdits): boolean {
  return edits.ignored.size === 0 && edits.prepend.size === 0 && edits.replace.size === 0 && edits.body.length === 0;
}

/** A header as it will be written: lowercase name and trimmed unfolded value. */
export interface OutputHeader {
  name: string;
  value: string;
}

function parseHeaderLine(line: string): OutputHeader {
  const colon = line.indexOf(':');
  return { name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() };
}

/** The primary headers in their final order, after the edits (for the From/Date/Message-ID scan). */
export function outputHeaders(buf: Buffer, headers: HeaderField[], edits: ContentEdits): OutputHeader[] {
  const out: OutputHeader[] = [];
  for (let i = 0; i < headers.length; i++) {
    for (const line of edits.prepend.get(i) ?? []) out.push(parseHeaderLine(line));
    if (edits.ignored.has(i)) continue;
    const replaced = edits.replace.get(i);
    out.push(replaced !== undefined ? parseHeaderLine(replaced) : { name: headers[i].name, value: headerValue(buf, headers[i]) });
  }
  return out;
}

/**
 * New header bytes + the (edited) original header bytes + empty line + the
 * (edited) body, with the header length.
 */
export function assemble(
  buf: Buffer,
  headers: HeaderField[],
  headerEnd: number,
  bodyStart: number,
  top: Buffer,
  edits: ContentEdits | undefined,
): { bytes: Buffer; headerLength: number } {
  const parts: Buffer[] = [top];
  if (!edits || (edits.ignored.size === 0 && edits.prepend.size === 0 && edits.replace.size === 0)) {
    parts.push(buf.subarray(0, headerEnd));
  } else {
    for (let i = 0; i < headers.length; i++) {
      for (const line of edits.prepend.get(i) ?? []) parts.push(Buffer.from(line + '\r\n', 'utf8'));
      if (edits.ignored.has(i)) continue;
      const replaced = edits.replace.get(i);
      parts.push(replaced !== undefined ? Buffer.from(replaced + '\r\n', 'utf8') : buf.subarray(headers[i].start, headers[i].end));
    }
  }
  // A header section that ended without an empty line, or at a last line without CRLF, still gets one.
  const tail = parts[parts.length - 1];
  if (parts.length > 1 && tail.length > 0 && tail[tail.length - 1] !== 0x0a) parts.push(CRLF);
  parts.push(CRLF);
  let headerLength = 0;
  for (const p of parts) headerLength += p.length;
  if (!edits || edits.body.length === 0) {
    parts.push(buf.subarray(bodyStart));
    return { bytes: Buffer.concat(parts, headerLength + buf.length - bodyStart), headerLength };
  }
  // Stable sort: at one position the edits keep the order in which they fired.
  const body = [...edits.body].sort((a, b) => a.start - b.start);
  let from = bodyStart;
  for (const e of body) {
    if (e.start < from || e.end > buf.length) continue;
    parts.push(buf.subarray(from, e.start));
    if (e.text !== undefined) parts.push(Buffer.from(e.text + '\r\n', 'utf8'));
    from = e.replace ? e.end : e.start;
  }
  parts.push(buf.subarray(from));
  return { bytes: Buffer.concat(parts), headerLength };
}
