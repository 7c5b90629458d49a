/**
 * cleanup-actions: the actions of header_checks, mime_header_checks and
 * body_checks (Postfix's header_checks(5)), parsed from a table's value, and
 * the log line each one writes. An unknown action (STRIP among them) is
 * reported as UNKNOWN, never thrown. A table that cannot answer
 * is a ContentCheckError naming the map, which defers the message.
 */
import type { CleanupInput } from './cleanup-types.js';

export type CheckVerb =
  | 'REJECT'
  | 'DISCARD'
  | 'HOLD'
  | 'WARN'
  | 'IGNORE'
  | 'DUNNO'
  | 'OK'
  | 'PREPEND'
  | 'REPLACE'
  | 'REDIRECT'
  | 'BCC'
  | 'FILTER'
  | 'INFO'
  | 'UNKNOWN';

/** The parameter whose table fired, as Postfix names it in warnings. */
export type CheckMap = 'header_checks' | 'mime_header_checks' | 'nested_header_checks' | 'body_checks';

/** A check whose table could not answer (Postfix: "map lookup problem"); the message is deferred. */
export class ContentCheckError extends Error {
  readonly code = 'ERR_CONTENT_CHECK';
  constructor(
    readonly map: CheckMap,
    message: string,
  ) {
    super(message);
  }
}

/** One parsed action; `text` is the optional text after the verb. */
export interface CheckAction {
  verb: CheckVerb;
  text: string;
}

/** A check that fired, as the walk reports it. */
export interface CheckEvent {
  verb: CheckVerb;
  text: string;
  /** "header" (header_checks, mime_header_checks) or "body". */
  where: 'header' | 'body';
  /** The line that matched (unfolded header or body line). */
  line: string;
  map: CheckMap;
  /** header_checks: the index of the matched header in the split message. */
  index?: number;
  /**
   * mime_header_checks and body_checks: the bytes [start, end) of the
   * matched header (folded lines included) or body line, CRLF included.
   */
  start?: number;
  end?: number;
}

const VERBS = new Set<CheckVerb>(['REJECT', 'DISCARD', 'HOLD', 'WARN', 'IGNORE', 'DUNNO', 'OK', 'PREPEND', 'REPLACE', 'REDIRECT', 'BCC', 'FILTER', 'INFO']);

/** Parses "VERB optional text". */
export function parseAction(value: string): CheckAction {
  const v = value.trim();
  const space = v.search(/\s/);
  const word = (space < 0 ? v : v.slice(0, space)).toUpperCase() as CheckVerb;
  const text = space < 0 ? '' : v.slice(space + 1).trim();
  return VERBS.has(word) ? { verb: word, text } : { verb: 'UNKNOWN', text: v };
}

/** The reject reason: the text with its enhanced status code, "5.7.1 message content rejected" by default. */
export function rejectReason(text: string): string {
  if (!text) return '5.7.1 message content rejected';
  return /^[245]\.\d{1,3}\.\d{1,3}(\s|$)/.test(text) ? text : `5.7.1 ${text}`;
}

/** The longest matched line a log line repeats, as Postfix truncates too. */
const LOG_LINE_LIMIT = 200;

/**
 * Postfix's cleanup_act_log line:
 * "reject: header Subject: spam from NAME[ADDR]; from=<s> to=<r> proto=ESMTP helo=<h>: text"
 */
export function actionLogText(kind: string, event: Pick<CheckEvent, 'where' | 'line'>, input: CleanupInput, text: string): string {
  const c = input.client;
  const origin = input.local || c.protocol === 'local' ? 'local' : `${c.name}[${c.addr}]`;
  const line = event.line.length > LOG_LINE_LIMIT ? event.line.slice(0, LOG_LINE_LIMIT) : event.line;
  let out = `${kind}: ${event.where} ${line} from ${origin}; from=<${input.sender}>`;
  if (input.recipients.length > 0) out += ` to=<${input.recipients[0].address}>`;
  if (c.protocol) out += ` proto=${c.protocol}`;
  const helo = input.heloName || c.helo;
  if (helo) out += ` helo=<${helo}>`;
  if (text) out += `: ${text}`;
  return out;
}

/**
 * Postfix's cleanup_mime_error_callback line:
 * "reject: mime-error MIME nesting exceeds safety limit: Content-Type: ... from NAME[ADDR]; from=<s> to=<r>"
 * (the offending text cut at 100 characters, as Postfix does).
 */
export function mimeErrorLogText(error: string, text: string, input: CleanupInput): string {
  const c = input.client;
  const origin = input.local || c.protocol === 'local' ? 'local' : `${c.name}[${c.addr}]`;
  const to = input.recipients.length > 0 ? input.recipients[0].address : 'unknown';
  return `reject: mime-error ${error}: ${text.slice(0, 100)} from ${origin}; from=<${input.sender}> to=<${to}>`;
}

/** Postfix's is_header(): "name:" where the name is printable ASCII without colon or space, white space allowed before the colon. */
export function isHeaderText(text: string): boolean {
  return /^[\x21-\x39\x3b-\x7e]+[ \t]*:/.test(text);
}

/** REDIRECT and BCC take user@domain, as Postfix checks: an "@" somewhere. */
export function isMailAddress(text: string): boolean {
  return text.includes('@');
}
