/**
 * smtp-source: the benchmark harness's load generator, in the manner of
 * Postfix's smtp-source. `opts.sessions` parallel SMTP sessions share
 * `opts.count` messages of exactly `opts.size` bytes, each carrying an
 * `X-Bench-Token: RUNID.N` header, and the run reports every 250 (token,
 * time, latency) and every refusal or failure (stage, reply).
 *
 * Error behaviour: `runSource` rejects only on bad options
 * (`SourceOptionsError`, code ERR_SOURCE_OPTIONS). Everything the server or
 * the network does is recorded as a SourceError: a refused recipient of
 * several leaves the others; a refused MAIL or every RCPT refused gives
 * RSET and the next message; a 421, a closed socket, a timeout or a connect
 * error ends that connection and the session reconnects for the rest. A
 * message is never sent twice: one whose connection failed counts as not
 * accepted. A session gives up after 5 consecutive failed connections
 * (connect error, refused greeting or refused EHLO/HELO/STARTTLS).
 *
 *   const r = await runSource({ host: '127.0.0.1', port, count: 10_000, sessions: 16, size: 1024 });
 *   r.accepted.length, r.errors, r.elapsedMs
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { mailDate } from '../../src/global/mail-date.js';
import { TOKEN_HEADER, type SourceAccept, type SourceError, type SourceOptions, type SourceResult } from './harness-types.js';
import { SourceConnectError, SourceConnection, type MessageContent } from './source-connection.js';

/** Options that cannot make a run; `message` names the option. */
export class SourceOptionsError extends Error {
  readonly code = 'ERR_SOURCE_OPTIONS';
  constructor(message: string) {
    super(message);
    this.name = 'SourceOptionsError';
  }
}

/** Consecutive failed connections after which a session stops. */
const MAX_CONNECT_FAILURES = 5;
/** Body lines: 78 printable characters and CRLF. */
const LINE_LEN = 80;
const PROGRESS_MS = 250;

/** What a message factory needs. */
export interface MessageShape {
  size: number;
  from: string;
  to: string;
  runId: string;
  /** Domain of the Message-ID. */
  helo: string;
}

/**
 * Builds messages of exactly `size` bytes (at least the headers when size
 * is smaller): the header block is a short string made per message, the
 * body a slice of one dot-stuffed buffer made once. Returns content ready
 * to send after 354 (ending "\r\n.\r\n").
 */
export function makeMessageFactory(shape: MessageShape): (n: number) => MessageContent {
  const date = mailDate(Date.now());
  const pre = `From: <${shape.from}>\r\nTo: <${shape.to}>\r\nSubject: bench `;
  const mid = `\r\nDate: ${date}\r\nMessage-ID: <`;
  const tokenLine = `@${shape.helo}>\r\n${TOKEN_HEADER}: `;
  const fullLines = Math.floor(Math.max(0, shape.size) / LINE_LEN) + 1;
  const tail = Buffer.from(dotStuff(bodyText(fullLines)) + '.\r\n', 'latin1');
  const pattern = bodyLine(0);
  return (n: number): MessageContent => {
    const token = `${shape.runId}.${n}`;
    // Headers without the Subject pad; their length fixes the body's.
    const fixed = pre.length + String(n).length + mid.length + token.length + tokenLine.length + token.length + 4;
    let body = shape.size - fixed;
    let pad = '';
    if (body < 0) body = 0;
    if (body % LINE_LEN === 1) {
      // A body of 80k+1 bytes cannot be made of CRLF lines of at most 78 characters: move a byte to the Subject.
      pad = '+';
      body--;
    }
    const full = Math.floor(body / LINE_LEN);
    const rest = body - full * LINE_LEN;
    const first = rest === 0 ? '' : pattern.slice(0, rest - 2) + '\r\n';
    const head = pre + n + pad + mid + token + tokenLine + token + '\r\n\r\n' + first;
    return { head, tail: tail.subarray(tail.length - (full * LINE_LEN + 3)) };
  };
}

/** The body's printable lines (no line starts with "."; varied so the text is not one repeated line). */
function bodyText(lines: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) out.push(bodyLine(i));
  return out.join('\r\n') + (lines > 0 ? '\r\n' : '');
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ';

function bodyLine(i: number): string {
  let s = '';
  for (let k = 0; k < LINE_LEN - 2; k++) s += ALPHABET[(i * 7 + k) % ALPHABET.length];
  return s;
}

/** RFC 5321 4.5.2: a line that starts with "." gets another. */
function dotStuff(text: string): string {
  let s = text.startsWith('.') ? '.' + text : text;
  s = s.split('\r\n.').join('\r\n..');
  return s;
}

/** Runs the generator; see the file comment. */
export async function runSource(opts: SourceOptions): Promise<SourceResult> {
  checkOptions(opts);
  const runId = opts.runId ?? randomBytes(4).toString('hex');
  const from = opts.from ?? 'source@bench.test';
  const to = opts.to ?? 'sink@bench.test';
  const helo = opts.helo ?? 'source.bench.test';
  const recipients = opts.recipients ?? 1;
  const perConnection = opts.messagesPerConnection ?? 0;
  const timeoutMs = opts.replyTimeoutMs ?? 60_000;
  const at = to.lastIndexOf('@');
  const local = at < 0 ? to : to.slice(0, at);
  const domain = at < 0 ? '' : to.slice(at);
  // smtp-source -r: several recipients of one message are numbered so an MTA does not merge them.
  const fixedRcpts = recipients === 1 ? [to] : Array.from({ length: recipients }, (_, r) => `${r}.${local}${domain}`);
  const rcptsOf = opts.uniqueRecipients
    ? (n: number) => {
      const list: string[] = new Array(recipients);
      for (let r = 0; r < recipients; r++) list[r] = `${n}.${r}.${local}${domain}`;
      return list;
    }
    : () => fixedRcpts;
  const build = makeMessageFactory({ size: opts.size, from, to, runId, helo });

  const startedAt = Date.now();
  const t0 = performance.now();
  const accepted: SourceAccept[] = [];
  const errors: SourceError[] = [];
  let next = 0;
  let sent = 0;
  let connections = 0;
  let lastReply = t0;

  const timer = opts.onProgress
    ? setInterval(() => {
      try {
        opts.onProgress!({ sent, accepted: accepted.length, errors: errors.length, elapsedMs: performance.now() - t0 });
      } catch {
        // A failing progress callback must not stop the run.
      }
    }, PROGRESS_MS)
    : undefined;

  // Indices handed back by a session that gave up while holding one; taken before new ones.
  const returned: number[] = [];
  const takeIndex = (): number | undefined => returned.pop() ?? (next < opts.count ? next++ : undefined);
  // Open loop: message n is due n / rate seconds after the start.
  const intervalMs = opts.rate ? 1000 / opts.rate : 0;
  const due = async (n: number): Promise<void> => {
    const at = t0 + n * intervalMs;
    // A timer may fire a fraction of a millisecond early: wait again until the slot has come.
    for (let wait = at - performance.now(); wait > 0; wait = at - performance.now()) {
      await new Promise((r) => setTimeout(r, Math.ceil(wait)));
    }
  };

  const session = async (): Promise<void> => {
    let failures = 0;
    // The message this session will send next; held across failed connections (it was never sent),
    // so a connection is only opened for a message and "one per connection" opens exactly count.
    let held: number | undefined;
    const failed = async (stage: SourceError['stage'], reply: string): Promise<boolean> => {
      failures++;
      errors.push({ stage, reply, at: performance.now() - t0 });
      if (failures >= MAX_CONNECT_FAILURES) {
        errors.push({ stage, reply: `000 session given up after ${MAX_CONNECT_FAILURES} consecutive connection failures`, at: performance.now() - t0 });
        if (held !== undefined) returned.push(held);
        return true;
      }
      // A short, growing pause, so a refusing server is not hammered.
      await new Promise((r) => setTimeout(r, 20 * failures));
      return false;
    };
    for (;;) {
      held ??= takeIndex();
      if (held === undefined) return;
      if (intervalMs > 0) await due(held);
      let conn: SourceConnection;
      try {
        conn = await SourceConnection.open(opts.host, opts.port, timeoutMs);
      } catch (err) {
        const reason = err instanceof SourceConnectError ? err.message : String(err);
        if (await failed('connect', `000 ${reason}`)) return;
        continue;
      }
      connections++;
      const hello = await conn.hello(helo, opts.starttls ?? false);
      if (!hello.ok) {
        await conn.quit();
        if (await failed(hello.error!.stage, hello.error!.reply)) return;
        continue;
      }
      failures = 0;
      let onThis = 0;
      while (conn.ended === undefined && (perConnection <= 0 || onThis < perConnection)) {
        const n = held ?? takeIndex();
        if (n === undefined) break;
        held = undefined;
        if (intervalMs > 0) await due(n);
        onThis++;
        sent++;
        const token = `${runId}.${n}`;
        const mailAt = performance.now();
        const outcome = await conn.sendMessage(from, rcptsOf(n), build(n));
        const now = performance.now();
        lastReply = now;
        for (const e of outcome.errors) errors.push({ token, stage: e.stage, reply: e.reply, at: now - t0 });
        if (outcome.accepted) accepted.push({ token, at: now - t0, latencyMs: now - mailAt });
      }
      await conn.quit();
    }
  };

  try {
    const n = Math.min(opts.sessions, opts.count);
    await Promise.all(Array.from({ length: n }, () => session()));
  } finally {
    if (timer) clearInterval(timer);
  }
  if (accepted.length === 0 && errors.length === 0) lastReply = performance.now();
  return { runId, startedAt, elapsedMs: lastReply - t0, accepted, errors, connections };
}

function checkOptions(opts: SourceOptions): void {
  const whole = (name: string, v: unknown, min: number) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      throw new SourceOptionsError(`smtp-source: ${name} must be a whole number of at least ${min}, not ${String(v)}`);
    }
  };
  whole('count', opts.count, 0);
  whole('sessions', opts.sessions, 1);
  whole('size', opts.size, 0);
  whole('port', opts.port, 1);
  if (opts.recipients !== undefined) whole('recipients', opts.recipients, 1);
  if (opts.messagesPerConnection !== undefined) whole('messagesPerConnection', opts.messagesPerConnection, 0);
  if (opts.replyTimeoutMs !== undefined) whole('replyTimeoutMs', opts.replyTimeoutMs, 1);
  if (opts.rate !== undefined) whole('rate', opts.rate, 1);
  for (const [name, v] of [['from', opts.from], ['to', opts.to], ['helo', opts.helo], ['runId', opts.runId]] as const) {
    if (v !== undefined && (/[\s<>]/.test(v) || v === '')) throw new SourceOptionsError(`smtp-source: ${name} "${v}" must be non-empty, without spaces or angle brackets`);
  }
}
