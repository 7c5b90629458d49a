/**
 * smtp-fuzz-grammar: generates a fuzzed SMTP session (a FuzzCase) from a
 * seed. Sessions follow the shape of real ones (greeting, EHLO/HELO, mail
 * transactions with DATA or BDAT, RSET, NOOP, VRFY, STARTTLS, AUTH, QUIT)
 * with valid arguments most of the time and mutated ones otherwise: ESMTP
 * parameters (SIZE, BODY, SMTPUTF8, RET, ENVID, NOTIFY, ORCPT) valid and
 * broken, 8-bit and NUL bytes, addresses built to make regular expressions
 * backtrack, lines just under and over 512, 1000, 2048 and 64 KiB, bare LF
 * and bare CR, message content with dot-stuffing done right and wrong, fake
 * terminators, oversize messages, garbage, HTTP and TLS bytes in plain
 * text, abrupt ends in the middle of a command or of DATA, and slow
 * byte-by-byte writes. Every message carries an `X-Fuzz-Token` header so
 * the sink can account for it. Pure: the same seed and options give the
 * same case.
 */
import { formatSeed, Prng } from './fuzz-prng.js';
import { lineCount, type Ending, type FuzzCase, type Step, type Transport } from './smtp-fuzz-case.js';

/** The header that carries a fuzzed message's token: `X-Fuzz-Token: SEED.N`. */
export const FUZZ_TOKEN_HEADER = 'X-Fuzz-Token';

/** What the grammar needs to know about the server it fuzzes. */
export interface GrammarOptions {
  /** smtpd_recipient_limit of the target (transactions go just under and over it). */
  recipientLimit: number;
  /** message_size_limit of the target (some messages go over it). */
  messageSizeLimit: number;
  /** The longest slow (byte-by-byte) write, in ms. */
  maxSlowMs: number;
  /** Allow content of a megabyte and more (slow; off in the test suite). */
  large: boolean;
  /** A user and secret the AUTH listener knows. */
  authUser: string;
  authSecret: string;
}

export const SENDER_DOMAIN = 'fuzz-src.test';
export const RECIPIENT_DOMAIN = 'fuzz-dst.test';

const LONG_LENGTHS = [511, 512, 513, 999, 1000, 1001, 2047, 2048, 2049, 4097, 65535, 65537];
const TERMINATORS: ReadonlyArray<readonly [number, string]> = [
  [80, '\r\n'], [8, '\n'], [3, '\r\r\n'], [3, '\n\r'], [2, '\r'], [2, ' \r\n'], [2, '\r\n\r\n'],
];
/** After DATA the next line is content, so a DATA line never carries a second line end. */
const DATA_TERMINATORS = TERMINATORS.filter(([, t]) => t !== '\r\n\r\n');

/** Builds cases; one instance per case (it holds the case's generator and counters). */
class CaseBuilder {
  private readonly steps: Step[] = [];
  private messages = 0;
  /** The last MAIL declared SMTPUTF8 (for the 8-bit address oracle). */
  private utf8 = false;
  /** The last line() went out as written. */
  private lastClean = true;

  constructor(
    private readonly r: Prng,
    private readonly seed: number,
    private readonly opts: GrammarOptions,
    private readonly listener: 'relay' | 'auth',
  ) {}

  build(): FuzzCase {
    const r = this.r;
    const transport: Transport = r.weighted([[40, 'lockstep'], [35, 'pipelined'], [25, 'blast']]);
    const early = r.chance(0.12);
    this.opening();
    const actions = r.weighted([[30, r.range(1, 3)], [50, r.range(3, 8)], [20, r.range(8, 20)]]);
    for (let i = 0; i < actions; i++) {
      if (this.endsAbruptly()) break;
      this.action();
      if (!this.endsAbruptly() && r.chance(0.05)) this.steps.push({ kind: 'pause', label: 'pause', bytes: Buffer.alloc(0), replies: 0, ms: r.range(20, 300) });
    }
    let ending: Ending;
    if (this.endsAbruptly()) ending = r.weighted([[4, 'close'], [3, 'reset'], [2, 'half-close'], [1, 'idle']]);
    else ending = r.weighted([[55, 'quit'], [15, 'close'], [10, 'reset'], [10, 'half-close'], [10, 'idle']]);
    if (ending === 'quit') this.line('QUIT', 'QUIT', false);
    // A step that had no reply to wait for (a pause alone) is useless to the shrinker; keep it anyway: cheap.
    return { seed: this.seed, listener: this.listener, transport, early, steps: this.steps, ending, splitSeed: r.next() };
  }

  /** The last step leaves the server in the middle of something (a partial line or content). */
  private endsAbruptly(): boolean {
    return this.steps.at(-1)?.kind === 'partial';
  }

  private opening(): void {
    const r = this.r;
    const first = r.weighted([[60, 'ehlo'], [14, 'helo'], [10, 'none'], [8, 'garbage'], [4, 'http'], [4, 'tls-hello']]);
    if (first === 'ehlo') this.line('EHLO', `EHLO ${this.heloName()}`);
    else if (first === 'helo') this.line('HELO', `HELO ${this.heloName()}`);
    else if (first === 'garbage') this.garbage();
    else if (first === 'http') this.line('http', r.pick(['GET / HTTP/1.0', 'POST /x HTTP/1.1', 'CONNECT a:25 HTTP/1.1', 'Host: x']));
    else if (first === 'tls-hello') this.raw('tls-hello', Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), r.bytes(r.range(10, 300)), Buffer.from('\r\n')]));
  }

  private action(): void {
    const r = this.r;
    const what = r.weighted<string>([
      [36, 'transaction'], [5, 'rset'], [5, 'noop'], [4, 'vrfy'], [4, 'ehlo'], [2, 'helo'], [5, 'starttls'],
      [6, 'auth'], [8, 'garbage'], [5, 'long'], [4, 'stray'], [3, 'slow'], [2, 'other'], [2, 'abort'], [1, 'quit-mid'],
    ]);
    switch (what) {
      case 'transaction': this.transaction(); break;
      case 'rset': this.refusable('RSET', r.pick(['RSET', 'rset', 'RSET x', 'RSET '])); break;
      case 'noop': this.line('NOOP', r.pick(['NOOP', 'noop', 'NOOP hello', 'NOOP ' + this.text(r.range(1, 600))])); break;
      case 'vrfy': this.refusable('VRFY', r.pick(['VRFY postmaster', 'VRFY', 'VRFY <root@localhost>', `VRFY ${this.pathological()}`, 'EXPN staff'])); break;
      case 'ehlo': this.line('EHLO', r.pick([`EHLO ${this.heloName()}`, 'EHLO', 'EHLO ' + this.heloName() + ' extra words'])); break;
      case 'helo': this.refusable('HELO', r.pick([`HELO ${this.heloName()}`, 'HELO'])); break;
      case 'starttls': this.starttls(); break;
      case 'auth': this.auth(); break;
      case 'garbage': this.garbage(); break;
      case 'long': this.longLine(); break;
      case 'stray': this.stray(); break;
      case 'slow': this.slow(); break;
      case 'other': this.line('other', r.pick(['HELP', 'ETRN fuzz-dst.test', 'TURN', 'XCLIENT ADDR=1.2.3.4', 'XFORWARD NAME=x', 'BURL x', 'WIZ', 'DEBUG', 'SEND FROM:<a@b>', 'SAML FROM:<a@b>'])); break;
      case 'abort': this.partial(); break;
      case 'quit-mid': this.line('QUIT', 'QUIT'); break;
    }
  }

  // ---- transactions ----

  private transaction(): void {
    const r = this.r;
    const n = this.messages++;
    const token = `${formatSeed(this.seed)}.${n}`;
    const content = this.content(token);
    this.mail(content.size);
    const limit = this.opts.recipientLimit;
    const count = r.weighted([[60, 1], [28, r.range(2, 5)], [12, r.range(Math.max(1, limit - 2), limit + 5)]]);
    for (let i = 0; i < count; i++) this.rcpt(n, i);
    if (r.chance(0.15)) {
      this.bdat(token, content);
      return;
    }
    this.refusable('DATA', r.weighted([[90, 'DATA'], [4, 'data'], [3, 'DATA x'], [3, 'DATA ']]), DATA_TERMINATORS);
    if (r.chance(0.08)) {
      // an abrupt end somewhere in the content
      const cut = r.int(Math.max(1, content.wire.length - 1));
      this.raw('body', content.wire.subarray(0, cut), 'partial');
      return;
    }
    if (r.chance(0.03)) {
      this.steps.push({ kind: 'slow', label: 'body', bytes: content.wire, replies: content.replies, token, size: content.size, ms: r.range(100, this.opts.maxSlowMs) });
      return;
    }
    this.steps.push({ kind: 'data', label: 'body', bytes: content.wire, replies: content.replies, token, size: content.size });
  }

  private mail(size: number): void {
    const r = this.r;
    const kind = r.weighted<string>([[68, 'valid'], [8, 'null'], [8, '8bit'], [10, 'pathological'], [6, 'mutant']]);
    let addr: string;
    let eightBit = false;
    if (kind === 'valid') addr = `<s${r.int(1000)}@${SENDER_DOMAIN}>`;
    else if (kind === 'null') addr = '<>';
    else if (kind === '8bit') {
      addr = `<${this.eightBitLocal()}@${SENDER_DOMAIN}>`;
      eightBit = true;
    } else if (kind === 'pathological') addr = `<${this.pathological()}>`;
    else addr = this.mutantAddress(`s@${SENDER_DOMAIN}`);
    const params = this.mailParams(size, eightBit);
    const verb = r.weighted([[90, 'MAIL FROM:'], [3, 'mail from:'], [3, 'MAIL FROM: '], [2, 'MAIL FROM :'], [2, 'MAIL FROM']]);
    const step = this.line('MAIL', `${verb}${addr}${params.text}`);
    this.utf8 = params.utf8;
    if (!this.lastClean) return;
    if (eightBit) step.eightBitAddress = true;
    step.smtputf8 = params.utf8;
    if (params.unknown) step.unknownParam = true;
  }

  private mailParams(size: number, eightBit: boolean): { text: string; utf8: boolean; unknown: boolean } {
    const r = this.r;
    const out: string[] = [];
    let utf8 = false;
    let unknown = false;
    if (r.chance(0.3)) out.push('SIZE=' + r.weighted([[70, String(size)], [8, String(this.opts.messageSizeLimit + 1)], [6, '99999999999999999999'], [5, '-1'], [5, 'abc'], [3, ''], [3, '0']]));
    if (r.chance(0.3)) out.push('BODY=' + r.weighted([[45, '8BITMIME'], [35, '7BIT'], [8, 'BINARYMIME'], [6, 'junk'], [6, '']]));
    if (eightBit ? r.chance(0.6) : r.chance(0.15)) {
      out.push(r.weighted([[90, 'SMTPUTF8'], [10, 'SMTPUTF8=yes']]));
      utf8 = true;
    }
    if (r.chance(0.2)) out.push('RET=' + r.weighted([[45, 'FULL'], [40, 'HDRS'], [15, 'BOTH']]));
    if (r.chance(0.2)) out.push('ENVID=' + r.weighted([[60, `env${r.int(1e6)}`], [10, 'a+2Bb'], [10, 'bad+ZZ'], [10, 'x'.repeat(r.range(90, 600))], [10, '\xe9\x00']]));
    if (r.chance(0.04)) {
      out.push(r.pick(['FOO=BAR', 'XYZZY', 'MT-PRIORITY=3', 'REQUIRETLS']));
      unknown = true;
    }
    if (r.chance(0.04) && out.length > 0) out.push(out[0]);
    return { text: out.length ? ' ' + out.join(' ') : '', utf8, unknown };
  }

  private rcpt(n: number, i: number): void {
    const r = this.r;
    const kind = r.weighted<string>([[78, 'valid'], [5, '8bit'], [6, 'pathological'], [4, 'mutant'], [3, 'postmaster'], [2, 'null'], [2, 'literal']]);
    let addr: string;
    let eightBit = false;
    if (kind === 'valid') addr = `<r${n}.${i}@${RECIPIENT_DOMAIN}>`;
    else if (kind === '8bit') {
      addr = `<${this.eightBitLocal()}@${RECIPIENT_DOMAIN}>`;
      eightBit = true;
    } else if (kind === 'pathological') addr = `<${this.pathological()}>`;
    else if (kind === 'mutant') addr = this.mutantAddress(`r${n}.${i}@${RECIPIENT_DOMAIN}`);
    else if (kind === 'postmaster') addr = r.pick(['<postmaster>', '<Postmaster>', '<postmaster@fuzz-dst.test>']);
    else if (kind === 'null') addr = '<>';
    else addr = r.pick(['<r@[127.0.0.1]>', '<r@[IPv6:::1]>', '<r@[300.1.1.1]>', '<@a.test,@b.test:r@fuzz-dst.test>']);
    const params: string[] = [];
    let unknown = false;
    if (r.chance(0.25)) params.push('NOTIFY=' + r.weighted([[40, 'SUCCESS,FAILURE'], [20, 'NEVER'], [15, 'DELAY'], [10, 'NEVER,SUCCESS'], [10, 'junk'], [5, '']]));
    if (r.chance(0.2)) params.push('ORCPT=' + r.weighted([[50, `rfc822;r${n}.${i}@${RECIPIENT_DOMAIN}`], [15, 'rfc822;a+2Bb@x.test'], [15, 'garbage'], [10, 'rfc822;' + 'x'.repeat(r.range(100, 700))], [10, 'utf-8;\xc3\xa9@x.test']]));
    if (r.chance(0.03)) {
      params.push(r.pick(['FOO=BAR', 'RRVS=2030-01-01T00:00:00Z', 'CONPERM']));
      unknown = true;
    }
    const verb = r.weighted([[92, 'RCPT TO:'], [3, 'rcpt to:'], [3, 'RCPT TO: '], [2, 'RCPT TO']]);
    const step = this.line('RCPT', `${verb}${addr}${params.length ? ' ' + params.join(' ') : ''}`);
    if (!this.lastClean) return;
    if (eightBit) step.eightBitAddress = true;
    step.smtputf8 = this.utf8;
    if (unknown) step.unknownParam = true;
  }

  private bdat(token: string, content: { raw: Buffer; size: number }): void {
    const r = this.r;
    const raw = content.raw;
    const chunks = r.weighted([[50, 1], [35, 2], [15, 3]]);
    let at = 0;
    for (let c = 0; c < chunks; c++) {
      const last = c === chunks - 1;
      const end = last ? raw.length : at + r.int(raw.length - at + 1);
      const chunk = raw.subarray(at, end);
      at = end;
      const declared = r.weighted<string>([[85, String(chunk.length)], [4, String(chunk.length + r.range(1, 50))], [4, String(Math.max(0, chunk.length - r.range(1, 50)))], [3, 'x'], [2, '99999999999999999999'], [2, '-1']]);
      const matches = declared === String(chunk.length);
      const header = Buffer.from(`BDAT ${declared}${last ? r.weighted([[90, ' LAST'], [5, ' last'], [5, ' LAST junk']]) : ''}\r\n`, 'latin1');
      // Without CHUNKING the BDAT line is refused and the chunk is read as command lines.
      const replies = matches ? 1 + lineCount(chunk) : 'unknown';
      const step: Step = { kind: 'bdat', label: 'BDAT', bytes: Buffer.concat([header, chunk]), replies };
      if (last) Object.assign(step, { token, size: content.size });
      this.steps.push(step);
    }
  }

  /** Message content: raw (unstuffed) bytes, the wire form with terminator, the size the server should count. */
  private content(token: string): { raw: Buffer; wire: Buffer; size: number; replies: number | 'unknown' } {
    const r = this.r;
    const headers: string[] = [`${FUZZ_TOKEN_HEADER}: ${token}`];
    if (r.chance(0.85)) headers.push(`From: <s@${SENDER_DOMAIN}>`, `To: <r@${RECIPIENT_DOMAIN}>`, `Subject: fuzz ${token}`);
    if (r.chance(0.4)) headers.push(`Message-ID: <${token}@${SENDER_DOMAIN}>`);
    if (r.chance(0.1)) headers.push('X-Folded: first', '\tsecond', ' third');
    if (r.chance(0.05)) headers.push('X-8bit: caf\xe9 \xc3\xa9', 'X-\xe9: v');
    if (r.chance(0.03)) for (let i = 0, k = r.range(200, 3000); i < k; i++) headers.push(`X-Many-${i}: ${i}`);
    if (r.chance(0.03)) headers.push('X-Long: ' + 'h'.repeat(r.pick([998, 1001, 5000, 70000])));
    // runs of "a" that a nested-quantifier pattern fails to match slowly (header and body checks)
    if (r.chance(0.03)) headers.push('Subject: ' + 'a'.repeat(r.range(24, 40)));
    const parts: string[] = [];
    const variants = r.weighted([[60, 1], [30, 2], [10, 3]]);
    let fakeEnd = false;
    for (let v = 0; v < variants; v++) {
      const kind = r.weighted<string>([
        [30, 'text'], [8, 'dots'], [6, 'raw-dots'], [7, 'bare-lf'], [5, 'bare-cr'], [6, 'fake-end'], [8, '8bit'],
        [5, 'nul'], [7, 'long'], [3, 'oversize'], [3, 'binary'], [2, 'early-end'], [2, 'empty'], [2, 'a-run'],
      ]);
      switch (kind) {
        case 'text': parts.push(this.textLines(r.range(1, 40))); break;
        case 'dots': parts.push('.\r\n..\r\n.x\r\n. \r\n...\r\n'); break;
        // a leading dot left unstuffed: the server removes it
        case 'raw-dots': parts.push('\x00RAW.x\r\n'); break;
        case 'bare-lf': parts.push('line one\nline two\n\nafter blank\n'); break;
        case 'bare-cr': parts.push('a\rb\r\n\r\r\n'); break;
        case 'fake-end': parts.push(r.pick(['x\n.\nmore\r\n', 'x\r\n.\nmore\r\n', 'x\n.\r\nmore\r\n', 'x\r.\rmore\r\n', 'x\r\n.\r more\r\n'])); break;
        case '8bit': parts.push('caf\xe9 \xc3\xa9t\xc3\xa9 \xff\xfe\r\n'); break;
        case 'nul': parts.push('nul\x00byte\x00\r\n\x00\r\n'); break;
        case 'long': parts.push('L'.repeat(r.pick(this.opts.large ? [...LONG_LENGTHS, 1 << 20] : LONG_LENGTHS)) + '\r\n'); break;
        case 'oversize': parts.push(this.textLines(Math.ceil((this.opts.messageSizeLimit + r.range(1000, 20000)) / 64))); break;
        case 'binary': parts.push(r.bytes(r.range(10, 2000)).toString('latin1')); break;
        case 'early-end': parts.push('before\r\n\x00RAW.\r\nNOOP\r\n'); fakeEnd = true; break;
        case 'empty': break;
        case 'a-run': parts.push('a'.repeat(r.range(24, 40)) + '\r\n'); break;
      }
    }
    const separator = r.weighted([[90, '\r\n'], [5, ''], [5, '\n']]);
    let raw = headers.join('\r\n') + '\r\n' + separator + parts.join('');
    if (r.chance(0.05)) raw = r.pick(['', 'x', '\r\n']);
    // "\x00RAW." marks a leading dot to send unstuffed; everything else is stuffed as a client must
    const rawBuf = Buffer.from(raw.split('\x00RAW').join(''), 'latin1');
    const wire = Buffer.from(stuff(raw), 'latin1');
    const size = rawBuf.length;
    // content that ends without a line end gets one added by the terminator
    const tail = wire.length === 0 || wire.subarray(-2).equals(Buffer.from('\r\n')) ? '.\r\n' : '\r\n.\r\n';
    return { raw: rawBuf, wire: Buffer.concat([wire, Buffer.from(tail)]), size, replies: fakeEnd ? 'unknown' : 1 };
  }

  private textLines(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += `line ${i} of the fuzz message, some words to fill it up a little.\r\n`;
    return s;
  }

  // ---- the other commands ----

  private starttls(): void {
    const r = this.r;
    const inject = r.chance(0.25) ? r.pick(['NOOP\r\n', 'MAIL FROM:<inject@evil.test>\r\n', 'RSET\r\nNOOP\r\n']) : '';
    const tls = r.weighted<'handshake' | 'garbage' | 'close'>([[70, 'handshake'], [15, 'garbage'], [15, 'close']]);
    const verb = r.weighted([[90, 'STARTTLS'], [5, 'starttls'], [5, 'STARTTLS x']]);
    this.steps.push({ kind: 'starttls', label: 'STARTTLS', bytes: Buffer.from(`${verb}\r\n${inject}`, 'latin1'), replies: 1, tls });
  }

  private auth(): void {
    const r = this.r;
    const b64 = (s: string) => Buffer.from(s, 'latin1').toString('base64');
    const good = `\0${this.opts.authUser}\0${this.opts.authSecret}`;
    const form = r.weighted<string>([[25, 'plain-good'], [15, 'plain-bad'], [15, 'plain-cont'], [15, 'login'], [8, 'cancel'], [7, 'junk'], [5, 'long'], [5, 'method'], [5, 'twice']]);
    switch (form) {
      case 'plain-good': this.line('AUTH', `AUTH PLAIN ${b64(good)}`); break;
      case 'plain-bad': this.line('AUTH', `AUTH PLAIN ${b64(`\0${this.opts.authUser}\0wrong`)}`); break;
      case 'plain-cont': this.line('AUTH', 'AUTH PLAIN'); this.line('auth-response', b64(good)); break;
      case 'login': this.line('AUTH', 'AUTH LOGIN'); this.line('auth-response', b64(this.opts.authUser)); this.line('auth-response', b64(r.chance(0.5) ? this.opts.authSecret : 'nope')); break;
      case 'cancel': this.line('AUTH', 'AUTH PLAIN'); this.line('auth-response', '*'); break;
      case 'junk': this.line('AUTH', `AUTH PLAIN ${r.pick(['!!!!', '=', '====', 'AAAA', b64('\0\0'), b64('a\0b\0c\0d')])}`); break;
      case 'long': this.line('AUTH', `AUTH PLAIN ${'QUFB'.repeat(r.range(200, 20000))}`); break;
      case 'method': this.line('AUTH', `AUTH ${r.pick(['CRAM-MD5', 'DIGEST-MD5', 'XOAUTH2 x', 'GSSAPI', 'plain', ''])}`); break;
      case 'twice': this.line('AUTH', `AUTH PLAIN ${b64(good)}`); this.line('AUTH', `AUTH PLAIN ${b64(good)}`); break;
    }
  }

  private garbage(): void {
    const r = this.r;
    const kind = r.weighted<string>([[30, 'random'], [15, 'empty'], [10, 'spaces'], [15, 'nul'], [15, 'utf8'], [15, 'control']]);
    switch (kind) {
      case 'random': {
        const b = r.bytes(r.range(1, 300));
        for (let i = 0; i < b.length; i++) if (b[i] === 0x0a) b[i] = 0x20;
        this.raw('garbage', Buffer.concat([b, Buffer.from('\r\n')]));
        break;
      }
      case 'empty': this.line('garbage', ''); break;
      case 'spaces': this.line('garbage', ' '.repeat(r.range(1, 40))); break;
      case 'nul': this.line('garbage', r.pick(['\x00', 'NOOP\x00', '\x00NOOP', 'MAIL\x00FROM:<a@b.test>', 'EHLO a\x00b'])); break;
      case 'utf8': this.line('garbage', r.pick(['EHLO \xc3\xa9\xc3\xa9.test', '\xef\xbb\xbfEHLO x', 'N\xc3\x96OP', '\xff\xfe\xfd'])); break;
      case 'control': this.line('garbage', r.pick(['\x1b[2J', '\x04', 'NOOP\x7f', '\x08\x08\x08'])); break;
    }
  }

  private longLine(): void {
    const r = this.r;
    const n = r.pick(LONG_LENGTHS);
    const verb = r.pick(['NOOP ', 'EHLO ', 'MAIL FROM:<', 'RCPT TO:<', 'VRFY ', '', 'HELO ']);
    const fill = r.pick(['a', 'a.', '\xe9', ' ', '<', '@']);
    let body = verb + fill.repeat(Math.ceil(n / fill.length));
    body = body.slice(0, Math.max(verb.length, n - 2));
    this.raw(verb.trim().split(/[ :]/)[0] || 'long', Buffer.from(body + '\r\n', 'latin1'));
  }

  /** Commands out of order: RCPT or DATA without MAIL, MAIL twice. */
  private stray(): void {
    const r = this.r;
    const what = r.pick(['rcpt', 'data', 'mail2', 'bdat']);
    if (what === 'rcpt') this.line('RCPT', `RCPT TO:<stray@${RECIPIENT_DOMAIN}>`);
    else if (what === 'data') {
      this.line('DATA', 'DATA', true, DATA_TERMINATORS);
      const token = `${formatSeed(this.seed)}.${this.messages++}`;
      const c = this.content(token);
      this.steps.push({ kind: 'data', label: 'body', bytes: c.wire, replies: c.replies, token, size: c.size });
    } else if (what === 'mail2') {
      this.line('MAIL', `MAIL FROM:<a@${SENDER_DOMAIN}>`);
      this.line('MAIL', `MAIL FROM:<b@${SENDER_DOMAIN}>`);
    } else this.raw('BDAT', Buffer.from('BDAT 4 LAST\r\nabcd', 'latin1'), 'bdat', 'unknown');
  }

  private slow(): void {
    const r = this.r;
    const text = r.pick([`EHLO ${this.heloName()}\r\n`, 'NOOP\r\n', `MAIL FROM:<slow@${SENDER_DOMAIN}>\r\n`, 'RSET\r\n']);
    const bytes = Buffer.from(text, 'latin1');
    this.steps.push({ kind: 'slow', label: text.split(/[ \r]/)[0], bytes, replies: lineCount(bytes), ms: r.range(100, this.opts.maxSlowMs) });
  }

  /** Part of a command, then the case ends abruptly. */
  private partial(): void {
    const r = this.r;
    const text = r.pick([`MAIL FROM:<part@${SENDER_DOMAIN}`, 'EHLO half', 'RCPT TO:<', 'DAT', 'NOOP\r', 'STARTTLS']);
    this.raw('partial', Buffer.from(text.slice(0, r.range(1, text.length)), 'latin1'), 'partial');
  }

  // ---- pieces ----

  /**
   * A command line with a (usually CRLF) terminator and sometimes a
   * mutation; returns its step. `lastClean` says whether it went out as
   * written (no mutation, one CRLF or LF at its end): the only lines the
   * semantic oracles judge.
   */
  private line(label: string, text: string, mutate = true, ends = TERMINATORS): Step {
    const r = this.r;
    let body: Buffer = Buffer.from(text, 'latin1');
    let clean = true;
    if (mutate && r.chance(0.12)) {
      body = this.mutate(body);
      clean = false;
    }
    const end = mutate ? r.weighted(ends) : '\r\n';
    if (end !== '\r\n' && end !== '\n') clean = false;
    const bytes = Buffer.concat([body, Buffer.from(end, 'latin1')]);
    const step: Step = { kind: 'line', label, bytes, replies: lineCount(bytes) };
    this.steps.push(step);
    this.lastClean = clean;
    return step;
  }

  /**
   * A line that Postfix refuses in some of its forms (DATA or RSET with an
   * argument, VRFY or HELO without one): when it goes out as written, the
   * step carries Postfix's reply for the oracle.
   */
  private refusable(label: string, text: string, ends = TERMINATORS): void {
    const step = this.line(label, text, true, ends);
    if (!this.lastClean) return;
    const verb = text.split(' ')[0].toUpperCase();
    const arg = text.slice(verb.length).trim();
    if ((verb === 'DATA' || verb === 'RSET') && arg !== '') step.postfixRefuses = `501 5.5.4 Syntax: ${verb}`;
    else if (verb === 'VRFY' && arg === '') step.postfixRefuses = '501 5.5.4 Syntax: VRFY address';
    else if (verb === 'HELO' && arg === '') step.postfixRefuses = '501 Syntax: HELO hostname';
  }

  private raw(label: string, bytes: Buffer, kind: Step['kind'] = 'line', replies: Step['replies'] = lineCount(bytes)): void {
    this.steps.push({ kind, label, bytes, replies: kind === 'partial' ? 0 : replies });
  }

  /** Byte-level damage: an inserted odd byte, a duplicated or cut slice, a flipped case. */
  private mutate(b: Buffer): Buffer {
    const r = this.r;
    const at = r.int(b.length + 1);
    switch (r.int(6)) {
      case 0: return Buffer.concat([b.subarray(0, at), Buffer.from([r.pick([0x00, 0x0d, 0x09, 0x1b, 0x7f, 0x80, 0xc3, 0xff, 0x20])]), b.subarray(at)]);
      case 1: return Buffer.concat([b.subarray(0, at), b.subarray(at, at + r.range(1, 40)), b.subarray(at)]);
      case 2: return b.subarray(0, at);
      case 3: {
        const c = Buffer.from(b);
        for (let i = 0; i < c.length; i++) if (r.chance(0.3)) c[i] ^= 0x20 * Number(c[i] >= 0x41 && c[i] <= 0x7a);
        return c;
      }
      case 4: return Buffer.concat([b.subarray(0, at), Buffer.from(' '.repeat(r.range(1, 8))), b.subarray(at)]);
      default: {
        const c = Buffer.from(b);
        if (c.length > 0) c[r.int(c.length)] = r.int(256) === 0x0a ? 0x20 : r.int(256);
        for (let i = 0; i < c.length; i++) if (c[i] === 0x0a) c[i] = 0x20;
        return c;
      }
    }
  }

  private heloName(): string {
    const r = this.r;
    return r.weighted([[70, 'client.fuzz.test'], [8, '[127.0.0.1]'], [5, 'localhost'], [5, 'a'.repeat(r.range(250, 1200))], [3, 'a'.repeat(r.range(24, 40)) + 'b'], [4, 'caf\xe9.test'], [4, '-bad-.test'], [4, 'x..y']]);
  }

  private eightBitLocal(): string {
    return this.r.pick(['caf\xc3\xa9', '\xe9t\xe9', '\xff\xfe', 'a\x80b', '\xc3\x28', 'd\xc3\xa9j\xc3\xa0', '\xe2\x82\xac']);
  }

  /** Addresses shaped to make a backtracking parser or regex take exponential time. */
  private pathological(): string {
    const r = this.r;
    const n = r.weighted([[50, r.range(20, 200)], [35, r.range(200, 900)], [15, r.range(900, 4000)]]);
    switch (r.int(11)) {
      case 0: return 'a'.repeat(r.chance(0.5) ? r.range(24, 40) : n) + r.pick(['!', '', '@a']);
      case 1: return 'a.'.repeat(n) + '@' + RECIPIENT_DOMAIN;
      case 2: return '"' + '\\"'.repeat(n) + '@x.test';
      case 3: return '@' + 'a.test,@'.repeat(n) + 'b.test:u@' + RECIPIENT_DOMAIN;
      case 4: return 'u@' + 'b.'.repeat(n) + 'c';
      case 5: return 'u@[' + '1.'.repeat(n) + ']';
      case 6: return 'a@'.repeat(n) + 'b';
      case 7: return '<'.repeat(n) + 'a@b.test' + '>'.repeat(r.int(n));
      case 8: return 'a' + '\\ '.repeat(n) + '@x.test';
      case 9: return '(' .repeat(n) + 'c' + ')'.repeat(n) + 'u@x.test';
      default: return 'u%' + 'h%'.repeat(n) + '@x.test';
    }
  }

  /** A broken form of an address: missing brackets, spaces, stray characters. */
  private mutantAddress(addr: string): string {
    return this.r.pick([
      addr, `<${addr}`, `${addr}>`, `< ${addr} >`, `<${addr}> `, `<"quoted local"@${addr.split('@')[1]}>`,
      `<${addr.replace('@', '@@')}>`, `<${addr}>>`, `<<${addr}>`, `<${addr.split('@')[0]}>`, '<@>', '<', '>', '',
      `"${addr}"`, `<${addr}\t>`, `<${addr.toUpperCase()}>`,
    ]);
  }

  private text(n: number): string {
    return 'x'.repeat(n);
  }
}

/** RFC 5321 4.5.2 dot-stuffing, except a "\x00RAW." marker that leaves one leading dot unstuffed on purpose. */
function stuff(raw: string): string {
  const lines = raw.split('\r\n');
  return lines
    .map((l) => {
      if (l.startsWith('\x00RAW')) return l.slice(4);
      return l.startsWith('.') ? '.' + l : l;
    })
    .join('\r\n')
    .split('\x00RAW')
    .join('');
}

/** The case of a seed: listener, transport, steps and ending all follow from it. */
export function generateCase(seed: number, opts: GrammarOptions): FuzzCase {
  const r = new Prng(seed);
  const listener = r.chance(0.25) ? 'auth' : 'relay';
  return new CaseBuilder(r, seed, opts, listener).build();
}
