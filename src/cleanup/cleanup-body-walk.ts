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
 * PREPEND and REPLACE to the body.
 *
 * Multipart nesting stops at mime_nesting_limit, as in Postfix: a deeper
 * boundary is not followed (its lines are plain body text), so the cost of
 * the walk stays linear in the message size however deep the nesting; when
 * `reportNesting` is set (Postfix does so when header_checks,
 * mime_header_checks or nested_header_checks are in use) the walk ends there
 * and reports the Content-Type header that went too deep, which cleanup
 * rejects with "5.6.0 MIME nesting exceeds safety limit".
 *
 * Runs in the body worker; a table that fails a lookup throws
 * ContentCheckError naming its map.
 */
import type { LookupTable } from '../config/lookup-table.js';
import { ContentCheckError, parseAction, type CheckEvent, type CheckMap } from './cleanup-actions.js';

export interface BodyWalkOptions {
  bodyChecks?: LookupTable;
  mimeHeaderChecks?: LookupTable;
  nestedHeaderChecks?: LookupTable;
  /** body_checks_size_limit: bytes of each part that body_checks see. */
  bodySizeLimit: number;
  /** line_length_limit: the longest piece of a line that a check sees (Postfix's default 2048). */
  lineLength?: number;
  /** mime_nesting_limit: how deep multipart boundaries are followed. */
  nestingLimit: number;
  /** End the walk with `nesting` when the limit is exceeded (else the deeper parts are body text). */
  reportNesting: boolean;
}

/** What the walk found: the checks that fired, and the header that exceeded the nesting limit, if reported. */
export interface BodyWalkResult {
  events: CheckEvent[];
  /** The unfolded Content-Type header that went deeper than mime_nesting_limit. */
  nesting?: string;
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

/**
 * The multipart boundaries followed, outermost first, as delimiter lines
 * ("--" + boundary). find() runs for every line that starts with "--": a
 * map answers the usual "--b" and "--b--" lines without a scan; only a line
 * with white space in it (transport padding, a boundary with spaces) is
 * compared with every delimiter, as Postfix's mime_state does.
 */
class Delimiters {
  readonly lines: string[] = [];
  /** Delimiter line -> index of its outermost occurrence. */
  private readonly index = new Map<string, number>();

  get length(): number {
    return this.lines.length;
  }

  push(boundary: string): void {
    const d = `--${boundary}`;
    if (!this.index.has(d)) this.index.set(d, this.lines.length);
    this.lines.push(d);
  }

  /** Drops the delimiters from `length` on (their parts ended). */
  truncate(length: number): void {
    for (let i = length; i < this.lines.length; i++) if (this.index.get(this.lines[i]) === i) this.index.delete(this.lines[i]);
    this.lines.length = length;
  }

  /** The index of the boundary whose delimiter `line` is ("--b", "--b--", either followed by white space and more), -1 when none. */
  find(line: string): number {
    const exact = this.index.get(line) ?? (line.endsWith('--') ? this.index.get(line.slice(0, -2)) : undefined);
    if (exact !== undefined) return exact;
    if (!line.includes(' ') && !line.includes('\t')) return -1;
    for (let i = 0; i < this.lines.length; i++) {
      const d = this.lines[i];
      if (!line.startsWith(d)) continue;
      let k = d.length;
      if (line.startsWith('--', k)) k += 2;
      if (k === line.length || line[k] === ' ' || line[k] === '\t') return i;
    }
    return -1;
  }
}

/** True when a Content-Type value announces an attached message whose headers follow. */
function isMessage(contentType: string): boolean {
  return /^\s*message\/(rfc822|global)\b/i.test(contentType);
}

/**
 * Walks the body of a CRLF message starting at `bodyStart`, given the
 * primary Content-Type value; returns the checks that fired.
 */
export function walkBody(buf: Buffer, bodyStart: number, primaryContentType: string, opts: BodyWalkOptions): BodyWalkResult {
  const events: CheckEvent[] = [];
  const result: BodyWalkResult = { events };
  const boundaries = new Delimiters();
  /**
   * Follows a new multipart boundary unless that would go deeper than the
   * limit (Postfix's test: the nesting level, one less than the boundaries
   * followed, exceeds mime_nesting_limit); true when the walk must end.
   */
  const push = (boundary: string, header: string): boolean => {
    if (boundaries.length - 1 <= opts.nestingLimit) {
      boundaries.push(boundary);
      return false;
    }
    if (!opts.reportNesting) return false;
    result.nesting = header;
    return true;
  };
  const top = multipartBoundary(primaryContentType);
  if (top && push(top, `Content-Type: ${primaryContentType}`)) return result;
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
    let value: string | undefined;
    try {
      value = table.get(line);
    } catch (err) {
      throw new ContentCheckError(map, (err as Error).message);
    }
    if (value === undefined) return false;
    const action = parseAction(value);
    if (action.verb === 'DUNNO' || action.verb === 'OK') return false;
    const where = map === 'body_checks' ? 'body' : 'header';
    events.push({ verb: action.verb, text: action.text, where, line, map, start, end });
    return action.verb === 'REJECT' || action.verb === 'DISCARD';
  };
  /** The part's Content-Type header as seen, for the nesting report. */
  let contentTypeHeader = '';
  const endHeader = (): boolean => {
    if (!header) return false;
    const line = header;
    header = '';
    if (/^content-type\s*:/i.test(line)) {
      contentType = line.slice(line.indexOf(':') + 1).trim();
      contentTypeHeader = line;
    }
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
      const hit = boundaries.find(line);
      if (hit >= 0) {
        if (inHeaders && endHeader()) return result;
        const closing = line.startsWith('--', boundaries.lines[hit].length);
        boundaries.truncate(closing ? hit : hit + 1);
        inHeaders = !closing;
        nested = false;
        contentType = '';
        contentTypeHeader = '';
        partBytes = 0;
        continue;
      }
    }

    if (inHeaders) {
      if (line === '') {
        if (endHeader()) return result;
        inHeaders = false;
        const b = multipartBoundary(contentType);
        if (b) {
          if (push(b, contentTypeHeader)) return result;
        } else if (isMessage(contentType)) inHeaders = nested = true;
        contentType = '';
        contentTypeHeader = '';
        continue;
      }
      if ((line[0] === ' ' || line[0] === '\t') && header) {
        header += line;
        headerEnd = next;
        continue;
      }
      if (endHeader()) return result;
      header = line;
      headerStart = lineStart;
      headerEnd = next;
      continue;
    }

    if (!opts.bodyChecks || partBytes >= opts.bodySizeLimit) continue;
    partBytes += lineBytes;
    if (line.length <= piece) {
      if (check(opts.bodyChecks, line, 'body_checks', lineStart, next)) return result;
      continue;
    }
    // Postfix stores long lines as line_length_limit pieces, and body_checks see each piece.
    for (let off = 0; off < line.length; off += piece) {
      if (check(opts.bodyChecks, line.slice(off, off + piece), 'body_checks', lineStart, next)) return result;
    }
  }
  if (inHeaders) endHeader();
  return result;
}
