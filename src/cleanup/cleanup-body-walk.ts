/**
 * cleanup-body-walk: body_checks, mime_header_checks and nested_header_checks
 * over a message, by a simple line walk over its MIME parts (no decoding, no
 * full parse, as Postfix's mime_state): boundaries come from Content-Type
 * parameters, part headers are unfolded and go to mime_header_checks, the
 * headers of an attached message (message/rfc822) to nested_header_checks
 * (its MIME headers, Content-* and MIME-Version, to mime_header_checks, as
 * Postfix classes them), other lines (boundary lines excepted) go to
 * body_checks, up to body_checks_size_limit bytes of each part; lines
 * longer than line_length_limit are checked in pieces of that length, as
 * Postfix stores them. The first REJECT or
 * DISCARD ends the walk. Each event carries the byte range of the matched
 * header or line (a piece reports its whole line), so cleanup can apply
 * PREPEND and REPLACE to the body. Runs in the body worker; a failing table
 * throws.
 */
import type { LookupTable } from '../config/lookup-table.js';
import { parseAction, type CheckEvent, type CheckMap } from './cleanup-actions.js';

export interface BodyWalkOptions {
  bodyChecks?: LookupTable;
  mimeHeaderChecks?: LookupTable;
  nestedHeaderChecks?: LookupTable;
  /** body_checks_size_limit: bytes of each part that body_checks see. */
  bodySizeLimit: number;
  /** line_length_limit: the longest piece of a line that a check sees (Postfix's default 2048). */
  lineLength?: number;
}

/** line_length_limit's default. */
const LINE_PIECE = 2048;

/** Headers Postfix classes as MIME headers wherever they appear. */
const MIME_HEADER = /^(content-[a-z0-9-]*|mime-version)\s*:/i;

/** The boundary of a multipart Content-Type value, or undefined. */
export function multipartBoundary(contentType: string): string | undefined {
  if (!/^\s*multipart\//i.test(contentType)) return undefined;
  const m = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^\s;]+))/i.exec(contentType);
  const b = m ? (m[1] ?? m[2]) : undefined;
  return b ? b : undefined;
}

/** True when a Content-Type value announces an attached message whose headers follow. */
function isMessage(contentType: string): boolean {
  return /^\s*message\/(rfc822|global)\b/i.test(contentType);
}

/**
 * Walks the body of a CRLF message starting at `bodyStart`, given the
 * primary Content-Type value; returns the checks that fired.
 */
export function walkBody(buf: Buffer, bodyStart: number, primaryContentType: string, opts: BodyWalkOptions): CheckEvent[] {
  const events: CheckEvent[] = [];
  const boundaries: string[] = [];
  const top = multipartBoundary(primaryContentType);
  if (top) boundaries.push(top);
  let inHeaders = isMessage(primaryContentType);
  // The header block being read belongs to an attached message, not to a MIME part.
  let nested = inHeaders;
  const piece = opts.lineLength && opts.lineLength > 0 ? opts.lineLength : LINE_PIECE;
  let header = '';
  let headerStart = 0;
  let headerEnd = 0;
  let contentType = '';
  let partBytes = 0;

  const check = (table: LookupTable | undefined, line: string, map: CheckMap, start: number, end: number): boolean => {
    if (!table) return false;
    const value = table.get(line);
    if (value === undefined) return false;
    const action = parseAction(value);
    if (action.verb === 'DUNNO' || action.verb === 'OK') return false;
    const where = map === 'body_checks' ? 'body' : 'header';
    events.push({ verb: action.verb, text: action.text, where, line, map, start, end });
    return action.verb === 'REJECT' || action.verb === 'DISCARD';
  };
  const endHeader = (): boolean => {
    if (!header) return false;
    const line = header;
    header = '';
    if (/^content-type\s*:/i.test(line)) contentType = line.slice(line.indexOf(':') + 1).trim();
    if (nested && !MIME_HEADER.test(line)) return check(opts.nestedHeaderChecks, line, 'nested_header_checks', headerStart, headerEnd);
    return check(opts.mimeHeaderChecks, line, 'mime_header_checks', headerStart, headerEnd);
  };

  let pos = bodyStart;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    const next = nl < 0 ? buf.length : nl + 1;
    const end = nl < 0 ? buf.length : nl > pos && buf[nl - 1] === 0x0d ? nl - 1 : nl;
    const lineBytes = next - pos;
    const lineStart = pos;
    const line = buf.toString('utf8', pos, end);
    pos = next;

    if (boundaries.length > 0 && line.startsWith('--')) {
      const hit = boundaries.findIndex((b) => line === `--${b}` || line === `--${b}--` || line.startsWith(`--${b} `) || line.startsWith(`--${b}\t`));
      if (hit >= 0) {
        if (inHeaders && endHeader()) return events;
        const closing = line.startsWith(`--${boundaries[hit]}--`);
        boundaries.length = closing ? hit : hit + 1;
        inHeaders = !closing;
        nested = false;
        contentType = '';
        partBytes = 0;
        continue;
      }
    }

    if (inHeaders) {
      if (line === '') {
        if (endHeader()) return events;
        inHeaders = false;
        const b = multipartBoundary(contentType);
        if (b) boundaries.push(b);
        else if (isMessage(contentType)) inHeaders = nested = true;
        contentType = '';
        continue;
      }
      if ((line[0] === ' ' || line[0] === '\t') && header) {
        header += line;
        headerEnd = next;
        continue;
      }
      if (endHeader()) return events;
      header = line;
      headerStart = lineStart;
      headerEnd = next;
      continue;
    }

    if (!opts.bodyChecks || partBytes >= opts.bodySizeLimit) continue;
    partBytes += lineBytes;
    if (line.length <= piece) {
      if (check(opts.bodyChecks, line, 'body_checks', lineStart, next)) return events;
      continue;
    }
    // Postfix stores long lines as line_length_limit pieces, and body_checks see each piece.
    for (let off = 0; off < line.length; off += piece) {
      if (check(opts.bodyChecks, line.slice(off, off + piece), 'body_checks', lineStart, next)) return events;
    }
  }
  if (inHeaders) endHeader();
  return events;
}
