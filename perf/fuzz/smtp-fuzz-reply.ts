/**
 * smtp-fuzz-reply: reads the server's side of a fuzzed session and judges
 * every reply against RFC 5321 4.2 and RFC 3463, the fuzzer's
 * "well-formed reply" oracle. A reply is one or more lines "NNN-text" ending
 * with "NNN text" (or "NNN"), NNN in 200..559, each line ending in CRLF, at
 * most 512 bytes with it, in printable US-ASCII (and HT); every line of a
 * multi-line reply has the same code; a 4xx or 5xx reply starts its text
 * with an enhanced status code ("4.7.0 ") of the same class, and an
 * enhanced code on any reply matches its class.
 *
 * ReplyReader takes bytes as they arrive and hands out whole replies and
 * the problems found; after a 220 that is not the greeting (the go-ahead
 * of STARTTLS) what follows is TLS, so it reads nothing more until
 * `resume()` (called once the client's handshake is done, with the
 * decrypted stream). It never throws.
 */

/** One reply: its code and the text of each line (after "NNN-" / "NNN "). */
export interface SmtpReply {
  code: number;
  lines: string[];
}

/** What was wrong with the server's output, with the offending line (escaped, shortened). */
export interface ReplyProblem {
  kind:
    | 'bad-code'
    | 'bad-separator'
    | 'bare-lf'
    | 'line-too-long'
    | 'not-ascii'
    | 'multiline-code-mismatch'
    | 'no-enhanced-code'
    | 'enhanced-code-class'
    | 'truncated';
  line: string;
}

/** RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with its CRLF. */
export const MAX_REPLY_LINE = 512;
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})(?: |$)/;

/** Shows bytes of a line as a short, printable string for a report. */
export function escapeBytes(data: Buffer | string, max = 160): string {
  const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  let out = '';
  const n = Math.min(buf.length, max);
  for (let i = 0; i < n; i++) {
    const c = buf[i];
    if (c === 0x0d) out += '\\r';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x5c) out += '\\\\';
    else if (c < 0x20 || c >= 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += String.fromCharCode(c);
  }
  if (buf.length > max) out += `...(${buf.length} bytes)`;
  return out;
}

/**
 * Postfix's own 4xx/5xx replies that carry no enhanced status code, which
 * Postrider sends in the same words: HELO/EHLO syntax and ETRN's replies.
 */
const POSTFIX_PLAIN_REPLIES = /^(Syntax: (HELO|EHLO) hostname|Syntax: ETRN domain|Error: invalid parameter syntax|Error: MAIL transaction in progress|Error: send HELO\/EHLO first|<[^>]*>: service unavailable|Unable to queue messages)$/;

/** Judges one complete reply (already split into raw lines without CRLF); returns its problems. */
export function checkReplyText(code: number, lines: readonly string[]): ReplyProblem[] {
  const problems: ReplyProblem[] = [];
  const first = lines[0] ?? '';
  const m = ENHANCED.exec(first);
  const cls = Math.floor(code / 100);
  if (m) {
    if (Number(m[1]) !== cls) problems.push({ kind: 'enhanced-code-class', line: escapeBytes(`${code} ${first}`) });
  } else if ((cls === 4 || cls === 5) && !POSTFIX_PLAIN_REPLIES.test(first)) {
    problems.push({ kind: 'no-enhanced-code', line: escapeBytes(`${code} ${first}`) });
  }
  return problems;
}

/** Accumulates server output; see the file comment. */
export class ReplyReader {
  readonly replies: SmtpReply[] = [];
  readonly problems: ReplyProblem[] = [];
  /** Every byte received, for the report (capped). */
  private transcript: Buffer[] = [];
  private transcriptBytes = 0;
  private pending: Buffer = Buffer.alloc(0);
  private current: { code: number; lines: string[] } | undefined;
  /** Replies taken by `take()` so far. */
  private taken = 0;
  /** After STARTTLS's 220: the bytes are TLS records, not replies. */
  private tls = false;

  constructor(private readonly keepTranscript = 64 * 1024) {}

  /** Adds bytes from the socket; returns the number of whole replies now available. */
  feed(chunk: Buffer): number {
    if (this.transcriptBytes < this.keepTranscript) {
      this.transcript.push(chunk);
      this.transcriptBytes += chunk.length;
    }
    if (this.tls) return this.available;
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let nl: number;
    while (!this.tls && (nl = buf.indexOf(0x0a)) >= 0) {
      const crlf = nl > 0 && buf[nl - 1] === 0x0d;
      const line = buf.subarray(0, crlf ? nl - 1 : nl);
      if (!crlf) this.problems.push({ kind: 'bare-lf', line: escapeBytes(line) });
      this.line(line, nl + 1);
      buf = buf.subarray(nl + 1);
    }
    this.pending = this.tls ? Buffer.alloc(0) : Buffer.from(buf);
    if (this.pending.length > 64 * 1024) {
      this.problems.push({ kind: 'line-too-long', line: escapeBytes(this.pending) });
      this.pending = Buffer.alloc(0);
    }
    return this.available;
  }

  /** The TLS handshake is done: the stream is SMTP again. */
  resume(): void {
    this.tls = false;
  }

  /** The connection closed: a partial line or an unfinished multi-line reply is a problem. */
  end(): void {
    if (this.tls) return;
    if (this.pending.length > 0) {
      this.problems.push({ kind: 'truncated', line: escapeBytes(this.pending) });
      this.pending = Buffer.alloc(0);
    } else if (this.current) {
      this.problems.push({ kind: 'truncated', line: escapeBytes(`${this.current.code}-${this.current.lines.at(-1) ?? ''}`) });
    }
    this.current = undefined;
  }

  /** Replies not yet taken. */
  get available(): number {
    return this.replies.length - this.taken;
  }

  /** Takes the next reply not yet taken, if any. */
  take(): SmtpReply | undefined {
    return this.taken < this.replies.length ? this.replies[this.taken++] : undefined;
  }

  /** What the server sent (up to the cap), escaped. */
  text(max = 2000): string {
    return escapeBytes(Buffer.concat(this.transcript), max);
  }

  private line(raw: Buffer, withEnd: number): void {
    const text = raw.toString('latin1');
    if (withEnd > MAX_REPLY_LINE) this.problems.push({ kind: 'line-too-long', line: escapeBytes(raw) });
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i];
      if ((c < 0x20 && c !== 0x09) || c >= 0x7f) {
        this.problems.push({ kind: 'not-ascii', line: escapeBytes(raw) });
        break;
      }
    }
    const codeOk = /^[2-5][0-5][0-9]$/.test(text.slice(0, 3));
    if (!codeOk) {
      this.problems.push({ kind: 'bad-code', line: escapeBytes(raw) });
      return;
    }
    const code = Number(text.slice(0, 3));
    const sep = text.length > 3 ? text[3] : ' ';
    if (sep !== ' ' && sep !== '-') {
      this.problems.push({ kind: 'bad-separator', line: escapeBytes(raw) });
      return;
    }
    const body = text.slice(4);
    if (this.current && this.current.code !== code) {
      this.problems.push({ kind: 'multiline-code-mismatch', line: escapeBytes(`${this.current.code}-... then ${text}`) });
    }
    const cur = this.current ?? { code, lines: [] };
    cur.lines.push(body);
    if (sep === '-') {
      this.current = cur;
      return;
    }
    this.current = undefined;
    this.problems.push(...checkReplyText(cur.code, cur.lines));
    this.replies.push({ code: cur.code, lines: cur.lines });
    if (cur.code === 220 && this.replies.length > 1) this.tls = true;
  }
}
