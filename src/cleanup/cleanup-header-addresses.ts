/**
 * cleanup-header-addresses: the address headers Postfix's cleanup rewrites,
 * and the rewriting of one such header.
 *   headerRole(name)            'sender' (From, Sender, Reply-To, ...), 'recipient'
 *                               (To, Cc, Bcc, ...) or undefined
 *   addressSpans(value)         where each addr-spec of an address list is
 *   rewriteHeaderLine(line, role, fn)  the header line with every address
 *                               passed through fn; undefined when none changed
 * Only the addr-specs are replaced: display names, comments, groups and the
 * header's folding stay as they came (Postfix re-serialises the whole header;
 * keeping the rest byte for byte changes nothing a reader sees). A value
 * that does not parse (an unclosed quote, comment or angle bracket) is left
 * alone. Never throws itself; fn's rejection goes to the caller.
 */

const SENDER = new Set(['from', 'sender', 'reply-to', 'errors-to', 'return-receipt-to', 'resent-from', 'resent-sender', 'resent-reply-to']);
const RECIPIENT = new Set(['to', 'cc', 'bcc', 'apparently-to', 'resent-to', 'resent-cc', 'resent-bcc']);

/** The role of an address header by its lowercase name; undefined for other headers. */
export function headerRole(name: string): 'sender' | 'recipient' | undefined {
  if (SENDER.has(name)) return 'sender';
  if (RECIPIENT.has(name)) return 'recipient';
  return undefined;
}

/** One addr-spec: [start, end) in the value. */
export interface Span {
  start: number;
  end: number;
}

/**
 * The addr-specs of an RFC 5322 address list: the text inside "<...>" of a
 * name-addr, or the bare addr-spec of an element (without comments around
 * it). Group names ("undisclosed-recipients:;") are not addresses. Null when
 * the value does not parse.
 */
export function addressSpans(value: string): Span[] | null {
  const spans: Span[] = [];
  let elemStart = 0;
  let angle: number | undefined;
  let angleSpan: Span | undefined;
  let depth = 0;
  let quoted = false;
  const finish = (end: number): void => {
    if (angleSpan) {
      if (angleSpan.end > angleSpan.start) spans.push(angleSpan);
    } else {
      const bare = bareSpan(value, elemStart, end);
      if (bare) spans.push(bare);
    }
    angleSpan = undefined;
  };
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
      continue;
    }
    if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === '(') depth = 1;
    else if (c === '[') {
      // A domain literal ("[IPv6:::1]") may hold ":" and ",".
      const close = value.indexOf(']', i);
      if (close < 0) return null;
      i = close;
    }
    else if (angle !== undefined) {
      if (c === '>') {
        angleSpan = trimSpan(value, angle + 1, i);
        angle = undefined;
      }
    } else if (c === '<') angle = i;
    else if (c === ':' && !angleSpan) elemStart = i + 1;
    else if (c === ',' || c === ';') {
      finish(i);
      elemStart = i + 1;
    }
  }
  if (quoted || depth > 0 || angle !== undefined) return null;
  finish(value.length);
  return spans;
}

/** [start, end) without surrounding white space. */
function trimSpan(s: string, start: number, end: number): Span {
  while (start < end && /\s/.test(s[start])) start++;
  while (end > start && /\s/.test(s[end - 1])) end--;
  // A source route ("@a,@b:user@c") is not part of the address.
  const colon = s[start] === '@' ? s.indexOf(':', start) : -1;
  if (colon >= 0 && colon < end) start = colon + 1;
  return { start, end };
}

/** The first run of the element that is neither white space nor a comment. */
function bareSpan(s: string, from: number, to: number): Span | undefined {
  let i = from;
  for (;;) {
    while (i < to && /\s/.test(s[i])) i++;
    if (i < to && s[i] === '(') {
      let depth = 1;
      for (i++; i < to && depth > 0; i++) {
        if (s[i] === '\\') i++;
        else if (s[i] === '(') depth++;
        else if (s[i] === ')') depth--;
      }
      continue;
    }
    break;
  }
  if (i >= to) return undefined;
  let j = i;
  let quoted = false;
  for (; j < to; j++) {
    const c = s[j];
    if (quoted) {
      if (c === '\\') j++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '(' || /\s/.test(c)) break;
  }
  return { start: i, end: j };
}

/**
 * The header line ("Name: value", folding kept, no final CRLF) with each
 * address replaced by fn's answer; undefined when nothing changed.
 */
export async function rewriteHeaderLine(line: string, fn: (address: string) => Promise<string>): Promise<string | undefined> {
  const colon = line.indexOf(':');
  if (colon < 0) return undefined;
  const value = line.slice(colon + 1);
  const spans = addressSpans(value);
  if (!spans || spans.length === 0) return undefined;
  const answers = await Promise.all(spans.map((s) => fn(value.slice(s.start, s.end))));
  let out = '';
  let from = 0;
  let changed = false;
  spans.forEach((s, k) => {
    const before = value.slice(s.start, s.end);
    out += value.slice(from, s.start) + answers[k];
    if (answers[k] !== before) changed = true;
    from = s.end;
  });
  if (!changed) return undefined;
  return line.slice(0, colon + 1) + out + value.slice(from);
}
