/**
 * cleanup-header-checks: header_checks over the primary header section,
 * inline on the hot path. Each logical header is unfolded to one line
 * "Name: value" and looked up; the first REJECT or DISCARD ends the checks.
 * IGNORE is applied here (the header's index goes to `ignored`); every other
 * action comes back as an event carrying the header's index, for cleanup to
 * log and apply (PREPEND, REPLACE, REDIRECT, BCC, ...).
 * A table that fails a lookup throws; cleanup turns that into a temporary
 * failure.
 */
import type { LookupTable } from '../../config/lookup-table.js';
import { parseAction, type CheckEvent } from './cleanup-actions.js';
import { unfoldHeader, type HeaderField } from './cleanup-content.js';

export interface HeaderCheckResult {
  /** Checks that fired (DUNNO/OK are not reported). */
  events: CheckEvent[];
  /** Indexes of headers to drop (IGNORE). */
  ignored: Set<number>;
}

/** Runs a header_checks table over every header. */
export function runHeaderChecks(table: LookupTable, buf: Buffer, headers: HeaderField[]): HeaderCheckResult {
  const events: CheckEvent[] = [];
  const ignored = new Set<number>();
  for (let i = 0; i < headers.length; i++) {
    const line = unfoldHeader(buf, headers[i]);
    const value = table.get(line);
    if (value === undefined) continue;
    const action = parseAction(value);
    if (action.verb === 'DUNNO' || action.verb === 'OK') continue;
    if (action.verb === 'IGNORE') {
      ignored.add(i);
      continue;
    }
    events.push({ verb: action.verb, text: action.text, where: 'header', line, map: 'header_checks', index: i });
    if (action.verb === 'REJECT' || action.verb === 'DISCARD') break;
  }
  return { events, ignored };
}
