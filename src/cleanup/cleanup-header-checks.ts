/**
 * cleanup-header-checks: header_checks over the primary header section,
 * inline on the hot path. Each logical header is unfolded to one line
 * "Name: value" and looked up; the first REJECT or DISCARD ends the checks.
 * As in Postfix, the MIME headers among them (MIME-Version, Content-Type,
 * Content-Transfer-Encoding, Content-Disposition, Content-Description,
 * Content-ID) go to mime_header_checks instead (whose default is
 * $header_checks).
 * IGNORE is applied here (the header's index goes to `ignored`); every other
 * action comes back as an event carrying the header's index, for cleanup to
 * log and apply (PREPEND, REPLACE, REDIRECT, BCC, ...).
 * A table that fails a lookup throws ContentCheckError naming its map;
 * cleanup turns that into a temporary failure. `at.map` always names the
 * map being looked up, so a caller whose time budget interrupts the run
 * still knows which one.
 */
import type { LookupTable } from '../config/lookup-table.js';
import { ContentCheckError, parseAction, type CheckEvent, type CheckMap } from './cleanup-actions.js';
import { unfoldHeader, type HeaderField } from './cleanup-content.js';

export interface HeaderCheckResult {
  /** Checks that fired (DUNNO/OK are not reported). */
  events: CheckEvent[];
  /** Indexes of headers to drop (IGNORE). */
  ignored: Set<number>;
}

/** The headers Postfix marks as MIME headers (its header_opts HDR_OPT_MIME), lower case. */
const MIME_HEADERS = new Set([
  'mime-version', 'content-type', 'content-transfer-encoding', 'content-disposition', 'content-description', 'content-id',
]);

/** The tables for the primary headers: header_checks, and mime_header_checks for MIME headers. */
export interface PrimaryHeaderTables {
  header?: LookupTable;
  mime?: LookupTable;
}

/** Runs the primary header checks over every header. */
export function runHeaderChecks(tables: PrimaryHeaderTables, buf: Buffer, headers: HeaderField[], at: { map?: CheckMap } = {}): HeaderCheckResult {
  const events: CheckEvent[] = [];
  const ignored = new Set<number>();
  for (let i = 0; i < headers.length; i++) {
    const mime = MIME_HEADERS.has(headers[i].name);
    const table = mime ? tables.mime : tables.header;
    if (!table) continue;
    const line = unfoldHeader(buf, headers[i]);
    const map = mime ? 'mime_header_checks' : 'header_checks';
    at.map = map;
    let value: string | undefined;
    try {
      value = table.get(line);
    } catch (err) {
      throw new ContentCheckError(map, (err as Error).message);
    }
    if (value === undefined) continue;
    const action = parseAction(value);
    if (action.verb === 'DUNNO' || action.verb === 'OK') continue;
    if (action.verb === 'IGNORE') {
      ignored.add(i);
      continue;
    }
    events.push({ verb: action.verb, text: action.text, where: 'header', line, map, index: i });
    if (action.verb === 'REJECT' || action.verb === 'DISCARD') break;
  }
  return { events, ignored };
}
