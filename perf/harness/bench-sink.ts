/**
 * bench-sink: the benchmark harness's SMTP sink, in the manner of Postfix's
 * smtp-sink. A raw node:net server (no SMTP library: their greeting delays
 * and per-message costs would make the sink the ceiling of every figure)
 * that speaks enough ESMTP for a conforming client: EHLO/HELO, PIPELINING,
 * STARTTLS, MAIL, RCPT, DATA, RSET, NOOP, QUIT; 502 for the rest and 503 for
 * a bad sequence. It dot-unstuffs each message, reads its X-Bench-Token
 * header, counts connections, messages, recipients, bytes and tokens, can
 * keep each message as a file, and can answer scripted refusals
 * (sink-rules). Hostile input (garbage, a line over 64 KiB, a reset in the
 * middle of DATA) gets a reply or a closed connection, never a crash.
 *
 *   const sink = await startBenchSink({ expect: 1000, rules: [parseSinkRule('rcpt@10:450 4.2.0 Busy')] });
 *   ... run the generator against sink.host, sink.port ...
 *   await sink.whenAll(30_000); sink.stats(); sink.tokens; await sink.close();
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TOKEN_HEADER, type SinkOptions, type SinkStats } from './harness-types.js';
import { SinkRuleSet, type RuleMatch } from './sink-rules.js';

/** A message the sink took, as given to the `onMessage` hook. */
export interface BenchSinkMessage {
  /** The X-Bench-Token value, or undefined when the message had none. */
  token: string | undefined;
  /** MAIL FROM address (without angle brackets). */
  from: string;
  /** RCPT TO addresses that were accepted, in order. */
  to: string[];
  /** The message, dot-unstuffed, ending with the CRLF of its last line. */
  data: Buffer;
  /** 1-based number of the connection that carried it. */
  connection: number;
  /** True when the session was under TLS. */
  secure: boolean;
}

/** A running sink; see the file comment. */
export interface BenchSink {
  host: string;
  port: number;
  /** Times each token was received (messages taken only). */
  readonly tokens: Map<string, number>;
  /** A snapshot of the counters. */
  stats(): SinkStats;
  /** Resolves true once `opts.expect` messages have been taken (at once when no expect was given), false at the timeout. */
  whenAll(timeoutMs: number): Promise<boolean>;
  /** Called for each message taken, before its 250 (costs a copy of the message; leave unset for speed). */
  onMessage?: (m: BenchSinkMessage) => void;
  /** Zeroes the counters, the tokens and the rules' counters, for a new run. */
  reset(): void;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

/** Postfix's line_length_limit is 2048; the sink is lenient but bounded. */
const MAX_LINE = 64 * 1024;
/** Above this a message is refused (552) and the connection closed: memory, not policy. */
const MAX_MESSAGE = 512 * 1024 * 1024;
/** smtpd_hard_error_limit. */
const HARD_ERROR_LIMIT = 20;

const TERMINATOR = Buffer.from('\r\n.\r\n', 'latin1');
const CRLF_DOT = Buffer.from('\r\n.', 'latin1');
const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
const TOKEN_NAME = Buffer.from(TOKEN_HEADER + ':', 'latin1');
const TOKEN_NAME_LOWER = '\n' + TOKEN_HEADER.toLowerCase() + ':';
const VIRTUAL_CRLF = Buffer.from('\r\n', 'latin1');
const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}$/;

/** Counters shared by every session of one sink. */
interface SinkState {
  stats: SinkStats;
  tokens: Map<string, number>;
  /** Sequence number of messages taken since the start (not reset), for file names and queue ids. */
  sequence: number;
  connectionSeq: number;
}

/** Starts the sink; resolves once it listens. */
export async function startBenchSink(opts: SinkOptions = {}): Promise<BenchSink> {
  const hostname = opts.hostname ?? 'sink.bench.test';
  const rules = new SinkRuleSet(opts.rules ?? []);
  const secureContext = opts.tls ? createSecureContext({ cert: opts.tls.cert, key: opts.tls.key }) : undefined;
  const state: SinkState = { stats: emptyStats(), tokens: new Map(), sequence: 0, connectionSeq: 0 };
  const sockets = new Set<Socket>();
  const waiters = new Set<() => void>();
  const expect = opts.expect;

  const sink: BenchSink = {
    host: opts.host ?? '127.0.0.1',
    port: 0,
    tokens: state.tokens,
    stats: () => ({ ...state.stats, scripted: { ...state.stats.scripted } }),
    whenAll: (timeoutMs) => {
      if (expect === undefined || state.stats.messages >= expect) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const done = (ok: boolean) => {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(ok);
        };
        const check = () => {
          if (state.stats.messages >= expect) done(true);
        };
        const timer = setTimeout(() => done(false), timeoutMs);
        waiters.add(check);
      });
    },
    reset: () => {
      state.stats = emptyStats();
      state.tokens.clear();
      rules.reset();
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };

  const config: SessionConfig = {
    hostname, rules, secureContext, storeDir: opts.storeDir, state, sink,
    taken: () => {
      if (waiters.size > 0) for (const w of [...waiters]) w();
    },
  };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    new SinkSession(socket, config);
  });
  server.on('error', () => { /* a listening error after start is not the caller's problem mid-run */ });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, sink.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  sink.port = (server.address() as { port: number }).port;
  return sink;
}

function emptyStats(): SinkStats {
  return { connections: 0, messages: 0, recipients: 0, bytes: 0, scripted: {} };
}

interface SessionConfig {
  hostname: string;
  rules: SinkRuleSet;
  secureContext: SecureContext | undefined;
  storeDir: string | undefined;
  state: SinkState;
  sink: BenchSink;
  /** Tells whenAll's waiters that a message was taken. */
  taken: () => void;
}

/** One SMTP session; the socket may be replaced by a TLSSocket after STARTTLS. */
class SinkSession {
  private sock: Socket;
  private readonly number: number;
  private secure = false;
  /** Not a 2xx greeting: every command but QUIT gets 503. */
  private refusedGreeting = false;
  private helo = false;
  private mailFrom: string | null = null;
  private rcpts: string[] = [];
  private rcptAttempts = 0;
  private errors = 0;
  private closed = false;
  /** Waiting for a message file to be written; input is queued meanwhile. */
  private busy = false;
  private readonly queued: Buffer[] = [];
  /** A partial command line carried to the next chunk. */
  private pending: Buffer | null = null;
  private inData = false;
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** The last (up to) 4 bytes of "\r\n" + the message so far, to find a terminator split across chunks. */
  private carry: Buffer = VIRTUAL_CRLF;
  private out = '';
  private readonly onData = (chunk: Buffer) => {
    if (this.busy) this.queued.push(chunk);
    else this.feed(chunk);
  };

  constructor(socket: Socket, private readonly cfg: SessionConfig) {
    this.sock = socket;
    cfg.state.stats.connections++;
    this.number = ++cfg.state.connectionSeq;
    socket.setNoDelay(true);
    socket.on('error', () => this.destroy());
    socket.on('close', () => { this.closed = true; });
    const rule = cfg.rules.next('connect');
    if (rule) {
      this.scripted(rule);
      const code = rule.reply.slice(0, 3);
      if (rule.closes || code === '554') {
        this.closed = true;
        socket.end(rule.reply + '\r\n');
        return;
      }
      if (code[0] !== '2') this.refusedGreeting = true;
      socket.write(rule.reply + '\r\n');
    } else {
      socket.write(`220 ${cfg.hostname} ESMTP Postrider bench sink\r\n`);
    }
    socket.on('data', this.onData);
  }

  private destroy(): void {
    this.closed = true;
    this.sock.destroy();
  }

  private scripted(rule: RuleMatch): void {
    const s = this.cfg.state.stats.scripted;
    s[rule.key] = (s[rule.key] ?? 0) + 1;
  }

  private flush(): void {
    if (this.out && !this.closed) this.sock.write(this.out, 'latin1');
    this.out = '';
  }

  /** Sends what is pending plus `last`, then closes the connection. */
  private finish(last: string): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.end(this.out + last + '\r\n', 'latin1');
    this.out = '';
  }

  private feed(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let pos = 0;
    while (pos < buf.length && !this.closed && !this.busy) {
      if (this.inData) {
        pos = this.dataFrom(buf, pos);
        continue;
      }
      const nl = buf.indexOf(10, pos);
      if (nl < 0) {
        if (buf.length - pos > MAX_LINE) {
          this.finish('500 5.5.0 Error: line too long');
          return;
        }
        this.pending = buf.subarray(pos);
        break;
      }
      let end = nl;
      if (end > pos && buf[end - 1] === 13) end--;
      if (end - pos > MAX_LINE) {
        this.finish('500 5.5.0 Error: line too long');
        return;
      }
      const line = buf.toString('latin1', pos, end);
      pos = nl + 1;
      if (this.command(line) === 'starttls') {
        // RFC 3207: what followed STARTTLS in plaintext is discarded.
        return;
      }
    }
    if (this.busy && pos < buf.length) this.queued.unshift(buf.subarray(pos));
    this.flush();
  }

  /** Handles one command line; returns 'starttls' when the socket was handed to TLS. */
  private command(line: string): 'starttls' | undefined {
    const sp = line.indexOf(' ');
    const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
    if (verb === 'QUIT') {
      this.finish('221 2.0.0 Bye');
      return undefined;
    }
    if (this.refusedGreeting) {
      this.reply('503 5.5.0 Error: no valid greeting', true);
      return undefined;
    }
    switch (verb) {
      case 'EHLO':
      case 'HELO': {
        if (sp < 0 || line.length <= sp + 1) {
          this.reply(`501 5.5.4 Syntax: ${verb} hostname`, true);
          break;
        }
        if (this.answeredByRule('helo')) break;
        this.resetTransaction();
        this.helo = true;
        if (verb === 'HELO') {
          this.out += `250 ${this.cfg.hostname}\r\n`;
          break;
        }
        const tls = this.cfg.secureContext && !this.secure ? '250-STARTTLS\r\n' : '';
        this.out += `250-${this.cfg.hostname}\r\n250-PIPELINING\r\n250-SIZE\r\n${tls}250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250 SMTPUTF8\r\n`;
        break;
      }
      case 'MAIL': {
        if (this.mailFrom !== null) {
          this.reply('503 5.5.1 Error: nested MAIL command', true);
          break;
        }
        const from = argument(line, sp, 'FROM:');
        if (from === undefined) {
          this.reply('501 5.5.4 Syntax: MAIL FROM:<address>', true);
          break;
        }
        if (this.answeredByRule('mail')) break;
        this.mailFrom = from;
        this.out += '250 2.1.0 Ok\r\n';
        break;
      }
      case 'RCPT': {
        if (this.mailFrom === null) {
          this.reply('503 5.5.1 Error: need MAIL command', true);
          break;
        }
        const to = argument(line, sp, 'TO:');
        if (to === undefined || to === '') {
          this.reply('501 5.5.4 Syntax: RCPT TO:<address>', true);
          break;
        }
        this.rcptAttempts++;
        if (this.answeredByRule('rcpt')) break;
        this.rcpts.push(to);
        this.out += '250 2.1.5 Ok\r\n';
        break;
      }
      case 'DATA': {
        if (this.rcpts.length === 0) {
          // Postfix's words: a pipelined DATA after refused recipients is 554, a DATA out of order 503.
          if (this.mailFrom !== null && this.rcptAttempts > 0) this.reply('554 5.5.1 Error: no valid recipients', false);
          else this.reply('503 5.5.1 Error: need RCPT command', true);
          break;
        }
        if (this.answeredByRule('data')) break;
        this.out += '354 End data with <CR><LF>.<CR><LF>\r\n';
        this.inData = true;
        this.parts = [];
        this.partsLen = 0;
        this.carry = VIRTUAL_CRLF;
        break;
      }
      case 'RSET':
        this.resetTransaction();
        this.out += '250 2.0.0 Ok\r\n';
        break;
      case 'NOOP':
        this.out += '250 2.0.0 Ok\r\n';
        break;
      case 'STARTTLS':
        if (!this.cfg.secureContext) {
          this.reply('502 5.5.1 Error: command not implemented', true);
        } else if (this.secure) {
          this.reply('554 5.5.1 Error: TLS already active', true);
        } else if (this.mailFrom !== null) {
          this.reply('503 5.5.1 Error: MAIL transaction in progress', true);
        } else {
          this.out += '220 2.0.0 Ready to start TLS\r\n';
          this.startTls();
          return 'starttls';
        }
        break;
      case '':
        this.reply('500 5.5.2 Error: bad syntax', true);
        break;
      default:
        this.reply('502 5.5.2 Error: command not recognized', true);
    }
    return undefined;
  }

  /** Queues a reply; an error counts toward the hard error limit, where the session ends as in Postfix. */
  private reply(text: string, isError: boolean): void {
    if (isError && ++this.errors >= HARD_ERROR_LIMIT) {
      this.finish(`${text}\r\n421 4.7.0 ${this.cfg.hostname} Error: too many errors`);
      return;
    }
    this.out += text + '\r\n';
  }

  /** Gives the scripted reply if a rule falls due at this stage; true when it did. */
  private answeredByRule(stage: 'helo' | 'mail' | 'rcpt' | 'data' | 'dot'): boolean {
    const rule = this.cfg.rules.next(stage);
    if (!rule) return false;
    this.scripted(rule);
    if (rule.closes) this.finish(rule.reply);
    else this.out += rule.reply + '\r\n';
    return true;
  }

  private resetTransaction(): void {
    this.mailFrom = null;
    this.rcpts = [];
    this.rcptAttempts = 0;
  }

  private startTls(): void {
    const raw = this.sock;
    this.flush();
    raw.removeListener('data', this.onData);
    this.pending = null;
    const secure = new TLSSocket(raw, { isServer: true, secureContext: this.cfg.secureContext });
    secure.on('error', () => this.destroy());
    secure.on('data', this.onData);
    this.sock = secure;
    this.secure = true;
    this.helo = false;
    this.resetTransaction();
  }

  /**
   * Takes message bytes from buf[pos..]; returns where command input resumes
   * (buf.length when the whole rest belongs to the message).
   */
  private dataFrom(buf: Buffer, pos: number): number {
    const chunk = pos === 0 ? buf : buf.subarray(pos);
    const carry = this.carry;
    // A terminator that starts in the bytes carried over from the last chunk.
    const joint = Buffer.concat([carry, chunk.subarray(0, 4)]);
    const j = joint.indexOf(TERMINATOR);
    let contentEnd: number;
    let resume: number;
    if (j >= 0 && j < carry.length) {
      const termEnd = j + 5 - carry.length;
      contentEnd = termEnd - 3;
      resume = termEnd;
    } else {
      const i = chunk.indexOf(TERMINATOR);
      if (i < 0) {
        this.parts.push(chunk);
        this.partsLen += chunk.length;
        this.carry = chunk.length >= 4 ? chunk.subarray(chunk.length - 4) : Buffer.concat([carry, chunk]).subarray(-4);
        if (this.partsLen > MAX_MESSAGE) {
          this.inData = false;
          this.parts = [];
          this.finish('552 5.3.4 Error: message file too big');
        }
        return buf.length;
      }
      contentEnd = i + 2;
      resume = i + 5;
    }
    let message: Buffer;
    if (contentEnd >= 0) {
      if (this.parts.length === 0) message = chunk.subarray(0, contentEnd);
      else {
        this.parts.push(chunk.subarray(0, contentEnd));
        message = Buffer.concat(this.parts, this.partsLen + contentEnd);
      }
    } else {
      // The "." (and maybe its CR) came at the end of the last chunk.
      message = Buffer.concat(this.parts, this.partsLen).subarray(0, this.partsLen + contentEnd);
    }
    this.inData = false;
    this.parts = [];
    this.partsLen = 0;
    this.endOfData(message);
    return pos + resume;
  }

  /** The final dot: refuse by rule, or count, store and answer 250. */
  private endOfData(stuffed: Buffer): void {
    const from = this.mailFrom ?? '';
    const to = this.rcpts;
    this.resetTransaction();
    if (this.answeredByRule('dot')) return;
    const token = findToken(stuffed);
    const st = this.cfg.state;
    const stats = st.stats;
    const needData = this.cfg.storeDir !== undefined || this.cfg.sink.onMessage !== undefined;
    const data = needData ? unstuff(stuffed) : undefined;
    const size = data ? data.length : unstuffedLength(stuffed);
    const seq = ++st.sequence;
    const count = () => {
      const now = performance.now();
      stats.messages++;
      stats.recipients += to.length;
      stats.bytes += size;
      if (stats.firstAt === undefined) stats.firstAt = now;
      stats.lastAt = now;
      if (token !== undefined) st.tokens.set(token, (st.tokens.get(token) ?? 0) + 1);
      this.cfg.taken();
    };
    const ok = `250 2.0.0 Ok: queued as S${seq}\r\n`;
    if (this.cfg.sink.onMessage && data) {
      try {
        this.cfg.sink.onMessage({ token, from, to, data, connection: this.number, secure: this.secure });
      } catch {
        // A failing hook is the caller's bug; the sink goes on.
      }
    }
    if (this.cfg.storeDir === undefined || !data) {
      count();
      this.out += ok;
      return;
    }
    const name = token !== undefined && SAFE_NAME.test(token)
      ? ((st.tokens.get(token) ?? 0) > 0 ? `${token}~${seq}.eml` : `${token}.eml`)
      : `${seq}.eml`;
    this.busy = true;
    this.sock.pause();
    writeFile(join(this.cfg.storeDir, name), data).then(
      () => {
        count();
        this.out += ok;
      },
      () => {
        this.out += '451 4.3.0 Error: cannot store the message\r\n';
      },
    ).finally(() => {
      this.busy = false;
      if (this.closed) return;
      this.sock.resume();
      while (this.queued.length > 0 && !this.busy && !this.closed) this.feed(this.queued.shift()!);
      this.flush();
    });
  }
}

/** The address of `MAIL FROM:<a>` / `RCPT TO:<a>` (parameters ignored), or undefined on bad syntax. */
function argument(line: string, sp: number, keyword: string): string | undefined {
  if (sp < 0) return undefined;
  let i = sp + 1;
  while (line.charCodeAt(i) === 32) i++;
  if (line.slice(i, i + keyword.length).toUpperCase() !== keyword) return undefined;
  i += keyword.length;
  while (line.charCodeAt(i) === 32) i++;
  if (line.charCodeAt(i) === 60 /* < */) {
    const close = line.indexOf('>', i + 1);
    if (close < 0) return undefined;
    return line.slice(i + 1, close);
  }
  const end = line.indexOf(' ', i);
  return end < 0 ? line.slice(i) : line.slice(i, end);
}

/** The X-Bench-Token value in the header section, or undefined. */
export function findToken(msg: Buffer): string | undefined {
  let headerEnd = msg.indexOf(HEADER_END);
  if (headerEnd < 0) headerEnd = msg.length;
  else headerEnd += 2;
  let at = -1;
  let from = 0;
  for (;;) {
    const i = msg.indexOf(TOKEN_NAME, from);
    if (i < 0 || i >= headerEnd) break;
    if (i === 0 || msg[i - 1] === 10) {
      at = i + TOKEN_NAME.length;
      break;
    }
    from = i + 1;
  }
  if (at < 0) {
    // Header names are case-insensitive: the slow path for other spellings.
    const head = '\n' + msg.toString('latin1', 0, headerEnd).toLowerCase();
    const k = head.indexOf(TOKEN_NAME_LOWER);
    if (k < 0) return undefined;
    at = k - 1 + TOKEN_NAME_LOWER.length;
  }
  let eol = msg.indexOf(10, at);
  if (eol < 0 || eol > headerEnd) eol = headerEnd;
  const value = msg.toString('latin1', at, eol).trim();
  return value === '' ? undefined : value;
}

/** Length after removing the stuffed dot of every line that starts with one. */
function unstuffedLength(stuffed: Buffer): number {
  let n = stuffed.length;
  if (stuffed[0] === 46) n--;
  let i = stuffed.indexOf(CRLF_DOT);
  while (i >= 0) {
    n--;
    i = stuffed.indexOf(CRLF_DOT, i + 3);
  }
  return n;
}

/** Removes the leading dot of every line that starts with one (RFC 5321 4.5.2). */
export function unstuff(stuffed: Buffer): Buffer {
  let i = stuffed.indexOf(CRLF_DOT);
  if (i < 0 && stuffed[0] !== 46) return stuffed;
  const parts: Buffer[] = [];
  let start = stuffed[0] === 46 ? 1 : 0;
  while (i >= 0) {
    parts.push(stuffed.subarray(start, i + 2));
    start = i + 3;
    i = stuffed.indexOf(CRLF_DOT, start);
  }
  parts.push(stuffed.subarray(start));
  return Buffer.concat(parts);
}
