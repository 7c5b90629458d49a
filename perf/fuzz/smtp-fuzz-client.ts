/**
 * smtp-fuzz-client: plays one FuzzCase against a server over a real socket
 * and judges what comes back. Lock-step sends a step and waits for its
 * replies; pipelined sends RFC 2920 groups (a group ends at EHLO, HELO,
 * DATA, VRFY, EXPN, NOOP, QUIT, STARTTLS, AUTH); blast sends everything at
 * once. Every write is split at byte boundaries drawn from the case's split
 * seed, sometimes with a millisecond between the pieces so they reach the
 * server as separate reads. STARTTLS upgrades the socket for real.
 *
 * Findings per case:
 *   malformed  a reply breaks RFC 5321 4.2 / RFC 3463 (smtp-fuzz-reply);
 *   stall      a complete command got no reply within stallMs while the
 *              connection stayed open;
 *   protocol   first reply not a greeting; a reply too many; a close
 *              without 421/221; 354 to something other than DATA; 250 for
 *              a message without "queued as"; more recipients than
 *              smtpd_recipient_limit; a message over message_size_limit
 *              taken; an 8-bit address taken without SMTPUTF8; an unknown
 *              ESMTP parameter taken; a failed TLS handshake after 220;
 *   hang       (from the mid-case probe) another session was not served
 *              while this one wrote slowly.
 * Every "250 ... queued as ID" is returned with the token of the message
 * when the reply can be tied to one, for the lost-message oracle.
 * Never throws: socket errors end the case and are part of its outcome.
 */
import type { Socket } from 'node:net';
import { Prng } from './fuzz-prng.js';
import { lineCount, type FuzzCase, type Step } from './smtp-fuzz-case.js';
import { escapeBytes, type ReplyProblem, type SmtpReply } from './smtp-fuzz-reply.js';
import { openSocket, Wire } from './smtp-fuzz-wire.js';

export type FindingKind = 'crash' | 'hang' | 'malformed' | 'stall' | 'protocol' | 'internal-error' | 'lost' | 'stuck';

/** One thing found wrong; `what` is stable across cases (for grouping), `detail` is this instance. */
export interface Finding {
  kind: FindingKind;
  what: string;
  detail: string;
}

/** A message the server said it queued. */
export interface AcceptedMessage {
  queueId: string;
  /** The message's token, when the reply could be tied to the step that sent it. */
  token?: string;
}

export interface CaseOutcome {
  findings: Finding[];
  accepted: AcceptedMessage[];
  replies: number;
  /** Client and server sides, escaped and shortened, for the report. */
  transcript: string[];
  elapsedMs: number;
}

export interface DriverOptions {
  host: string;
  ports: { relay: number; auth: number };
  /** How long a complete command may go unanswered (default 10 s). */
  stallMs?: number;
  /** With no reply count to wait for: how long without input counts as done (default 150 ms). */
  quietMs?: number;
  /** The whole case at most (default 60 s). */
  caseTimeoutMs?: number;
  recipientLimit: number;
  messageSizeLimit: number;
  /** Checks that another session is served; called halfway through a slow write. Resolves a failure reason or undefined. */
  probe?: () => Promise<string | undefined>;
}

/** Verbs after which RFC 2920 says a pipelined group must end. */
const GROUP_ENDERS = new Set(['EHLO', 'HELO', 'DATA', 'VRFY', 'EXPN', 'NOOP', 'QUIT', 'STARTTLS', 'AUTH', 'auth-response', 'TURN', 'http']);
const QUEUED_AS = /queued as ([0-9A-Za-z]+)/;
const TRANSCRIPT_STEP = 240;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Runs one case; see the file comment. */
export async function runFuzzCase(c: FuzzCase, opts: DriverOptions): Promise<CaseOutcome> {
  return new CaseRun(c, opts).run();
}

/** The state of one case being played. */
class CaseRun {
  private readonly findings: Finding[] = [];
  private readonly accepted = new Map<string, AcceptedMessage>();
  private readonly transcript: string[] = [];
  private readonly split: Prng;
  private readonly stallMs: number;
  private readonly quietMs: number;
  private readonly deadline: number;
  private wire!: Wire;
  /** Replies can still be tied to steps. */
  private counting = true;
  /** Replies consumed so far (tied to steps). */
  private expectedTotal = 0;
  private chunking = false;
  /** The reply to the last step that had one (to know whether DATA got 354). */
  private last: SmtpReply | undefined;
  /** The previous step ended with LF (so the next line's reply is its own). */
  private prevEndedLine = true;
  private inTransaction = false;
  private recipients = 0;
  private readonly started = Date.now();

  constructor(
    private readonly c: FuzzCase,
    private readonly opts: DriverOptions,
  ) {
    this.split = new Prng(c.splitSeed);
    this.stallMs = opts.stallMs ?? 10_000;
    this.quietMs = opts.quietMs ?? 150;
    this.deadline = this.started + (opts.caseTimeoutMs ?? 60_000);
  }

  private find(kind: FindingKind, what: string, detail: string): void {
    this.findings.push({ kind, what, detail });
  }

  private left(ms: number): number {
    return Math.max(1, Math.min(ms, this.deadline - Date.now()));
  }

  async run(): Promise<CaseOutcome> {
    const port = this.c.listener === 'auth' ? this.opts.ports.auth : this.opts.ports.relay;
    let sock: Socket;
    try {
      sock = await openSocket(this.opts.host, port, this.stallMs);
    } catch (err) {
      // the engine's probe and status checks judge a server that is gone
      this.transcript.push(`connect failed: ${(err as Error).message}`);
      return this.outcome();
    }
    this.wire = new Wire(sock);
    try {
      await this.play();
    } catch (err) {
      this.transcript.push(`client error: ${(err as Error).message}`);
    } finally {
      this.wire.destroy();
    }
    this.judgeReplies();
    return this.outcome();
  }

  private outcome(): CaseOutcome {
    return {
      findings: this.findings,
      accepted: [...this.accepted.values()],
      replies: this.wire ? this.wire.reader.replies.length : 0,
      transcript: this.transcript,
      elapsedMs: Date.now() - this.started,
    };
  }

  private async play(): Promise<void> {
    const steps = this.c.steps;
    if (!this.c.early) {
      const got = await this.wire.replies(1, this.left(this.stallMs));
      if (got === 'timeout') this.find('stall', 'no greeting', `no greeting in ${this.stallMs} ms`);
      if (got !== 'ok') return;
      this.take(1);
      this.expectedTotal += 1;
    }
    let greetingPending = this.c.early;
    let i = 0;
    while (i < steps.length && !this.wire.closed && Date.now() < this.deadline) {
      const step = steps[i];
      if (step.kind === 'pause') {
        await sleep(step.ms ?? 0);
        i++;
        continue;
      }
      if (this.c.transport === 'blast') {
        await this.sendStep(step);
        i++;
        continue;
      }
      const group = this.c.transport === 'pipelined' ? this.groupAt(i) : [step];
      const sendable = group.filter((s) => this.shouldSend(s));
      if (sendable.length === 0) {
        i += group.length;
        continue;
      }
      if (sendable.length === 1 || sendable.some((s) => s.kind !== 'line' && s.kind !== 'data' && s.kind !== 'bdat')) {
        for (const s of sendable) {
          await this.sendStep(s);
          greetingPending = await this.await([s], greetingPending);
          if (s.kind === 'starttls' && !(await this.afterStarttls(s))) return;
          if (s.kind === 'starttls' && this.counting && this.last?.code !== 220) {
            // refused: what was pipelined after it is commands after all
            const rest = s.bytes.subarray(s.bytes.indexOf(0x0a) + 1);
            if (rest.length > 0) await this.await([{ kind: 'line', label: 'after-STARTTLS', bytes: rest, replies: lineCount(rest) }], false);
          }
          if (this.wire.closed) break;
        }
      } else {
        await this.writeSplit(Buffer.concat(sendable.map((s) => s.bytes)));
        this.note('C', sendable.map((s) => s.bytes));
        greetingPending = await this.await(sendable, greetingPending);
      }
      i += group.length;
    }
    if (this.c.transport === 'blast') await this.wire.quiet(this.quietMs, this.left(this.stallMs));
    await this.finish();
  }

  /** Content (whole, slow or cut short) goes out only after its DATA got 354 (while replies can be tied to steps). */
  private shouldSend(s: Step): boolean {
    if (s.label !== 'body') return true;
    if (!this.counting) return true;
    return this.last?.code === 354;
  }

  /** The pipelined group that starts at step i: lines up to a group ender; content, slow, STARTTLS and pauses alone. */
  private groupAt(i: number): Step[] {
    const steps = this.c.steps;
    const group: Step[] = [];
    for (let k = i; k < steps.length; k++) {
      const s = steps[k];
      if (s.kind !== 'line' && s.kind !== 'data' && s.kind !== 'bdat') {
        if (group.length === 0) group.push(s);
        break;
      }
      group.push(s);
      // DATA ends a group, so content always starts one (RFC 2920 lets commands follow it)
      if (s.kind === 'line' && GROUP_ENDERS.has(s.label)) break;
    }
    return group;
  }

  /** Writes one step: slow ones piece by piece (with a probe of another session halfway), the rest split at random. */
  private async sendStep(s: Step): Promise<void> {
    this.note('C', [s.bytes]);
    if (s.kind === 'slow') {
      const pieces = Math.max(1, Math.min(s.bytes.length, 40));
      const per = Math.max(1, Math.floor((s.ms ?? 500) / pieces));
      let probe: Promise<string | undefined> | undefined;
      for (let p = 0; p < pieces && !this.wire.closed; p++) {
        const from = Math.floor((p * s.bytes.length) / pieces);
        const to = Math.floor(((p + 1) * s.bytes.length) / pieces);
        await this.wire.write(s.bytes.subarray(from, to));
        if (p === Math.floor(pieces / 2) && this.opts.probe) probe = this.opts.probe();
        await sleep(per);
      }
      const failed = await probe;
      if (failed) this.find('hang', 'other sessions not served during a slow write', failed);
      return;
    }
    await this.writeSplit(s.bytes);
  }

  /** Splits at random byte boundaries; sometimes waits a millisecond or two between pieces. */
  private async writeSplit(data: Buffer): Promise<void> {
    const r = this.split;
    const pieces = r.weighted([[50, 1], [30, r.range(2, 4)], [20, r.range(5, 24)]]);
    const cuts = new Set<number>();
    for (let k = 1; k < pieces && data.length > 1; k++) cuts.add(1 + r.int(data.length - 1));
    const points = [0, ...[...cuts].sort((a, b) => a - b), data.length];
    for (let k = 0; k + 1 < points.length; k++) {
      if (this.wire.closed) return;
      await this.wire.write(data.subarray(points[k], points[k + 1]));
      if (k + 2 < points.length && r.chance(0.3)) await sleep(r.int(3));
    }
  }

  /**
   * Waits for the replies the steps expect (plus the greeting when the
   * client spoke first) and ties them to the steps; returns whether the
   * greeting is still owed.
   */
  private async await(steps: Step[], greetingPending: boolean): Promise<boolean> {
    let want = greetingPending ? 1 : 0;
    for (const s of steps) {
      const n = this.expected(s);
      if (n === 'unknown') {
        want = -1;
        break;
      }
      want += n;
    }
    if (!this.counting || want < 0) {
      this.counting = false;
      await this.wire.quiet(this.quietMs, this.left(this.stallMs));
      this.drain();
      return false;
    }
    const got = await this.wire.replies(want, this.left(this.stallMs));
    if (got === 'timeout') {
      const owed = want - this.wire.reader.available;
      this.find('stall', `no reply to ${steps.map((s) => s.label).join('+')}`, `${owed} of ${want} replies missing after ${this.stallMs} ms: ${escapeBytes(Buffer.concat(steps.map((s) => s.bytes)), 120)}`);
      this.counting = false;
      this.drain();
      return false;
    }
    if (greetingPending) this.take(1);
    this.expectedTotal += want;
    for (const s of steps) {
      const n = this.expected(s) as number;
      const replies = this.take(n);
      this.judgeStep(s, replies);
      this.prevEndedLine = s.bytes.length > 0 && s.bytes[s.bytes.length - 1] === 0x0a;
    }
    return false;
  }

  /** Replies a step expects, given what the server offered. */
  private expected(s: Step): number | 'unknown' {
    if (s.kind === 'bdat' && this.chunking) return s.replies === 'unknown' ? 'unknown' : 1;
    if (s.kind === 'starttls') return 1;
    if (s.kind === 'slow' && s.label !== 'body') return lineCount(s.bytes);
    return s.replies;
  }

  /** Takes what has arrived without tying it to steps (the count is lost). */
  private drain(): void {
    const got: SmtpReply[] = [];
    let r: SmtpReply | undefined;
    while ((r = this.wire.reader.take())) got.push(r);
    this.note('S', got);
    for (const reply of got) this.noteAccepted(reply, undefined);
    if (got.length > 0) this.last = got[got.length - 1];
  }

  /** Takes n replies (for a step, or the greeting). */
  private take(n: number): SmtpReply[] {
    const got: SmtpReply[] = [];
    for (let k = 0; k < n; k++) {
      const r = this.wire.reader.take();
      if (!r) break;
      got.push(r);
    }
    this.note('S', got);
    if (got.length > 0) this.last = got[got.length - 1];
    return got;
  }

  /** The semantic oracles on a step whose replies are known to be its own. */
  private judgeStep(s: Step, replies: SmtpReply[]): void {
    for (const r of replies) {
      if (s.label === 'EHLO' && r.code === 250) this.chunking = r.lines.some((l) => l.toUpperCase().startsWith('CHUNKING'));
    }
    const r = replies.length === 1 ? replies[0] : undefined;
    const own = r !== undefined && this.prevEndedLine && (s.replies === 1 || s.kind === 'bdat');
    if (!r) return;
    if (own && s.kind === 'line' && r.code === 354 && s.label !== 'DATA') this.find('protocol', '354 to something other than DATA', `${s.label}: ${escapeBytes(s.bytes, 80)}`);
    const ok = r.code >= 200 && r.code < 300;
    if (s.kind === 'data' || s.kind === 'bdat' || (s.kind === 'slow' && s.label === 'body')) {
      this.noteAccepted(r, s.token);
      // A chunk before BDAT LAST is answered "250 2.0.0 Ok: N bytes"; only the end of a message names its queue id.
      const ends = s.kind !== 'bdat' || s.token !== undefined;
      if (ok && ends && r.lines[0]?.match(QUEUED_AS) === null) this.find('protocol', '250 without a queue id', `${r.code} ${r.lines[0]}`);
      if (ok && s.size !== undefined && s.size > this.opts.messageSizeLimit + 64 && QUEUED_AS.test(r.lines[0] ?? '')) {
        this.find('protocol', 'message over message_size_limit accepted', `${s.size} bytes > ${this.opts.messageSizeLimit}`);
      }
      if (QUEUED_AS.test(r.lines[0] ?? '')) this.inTransaction = false;
      return;
    }
    if (!own) return;
    switch (s.label) {
      case 'MAIL':
        if (ok) {
          this.inTransaction = true;
          this.recipients = 0;
        }
        break;
      case 'RCPT':
        if (ok && this.inTransaction && ++this.recipients > this.opts.recipientLimit) {
          this.find('protocol', 'more recipients than smtpd_recipient_limit accepted', `recipient ${this.recipients} > ${this.opts.recipientLimit}: ${r.code} ${r.lines[0]}`);
        }
        break;
      case 'RSET':
      case 'EHLO':
      case 'HELO':
        if (ok) this.inTransaction = false;
        break;
    }
    if (ok && s.eightBitAddress && !s.smtputf8) {
      this.find('protocol', `8-bit address accepted in ${s.label} without SMTPUTF8`, `${escapeBytes(s.bytes, 100)} -> ${r.code} ${r.lines[0]}`);
    }
    if (s.postfixRefuses && r.code < 400) {
      this.find('protocol', `${s.label} line that Postfix refuses accepted (Postfix: ${s.postfixRefuses})`, `${escapeBytes(s.bytes, 100)} -> ${r.code} ${r.lines[0]}`);
    }
    if (ok && s.unknownParam) {
      this.find('protocol', `unknown ESMTP parameter accepted in ${s.label}`, `${escapeBytes(s.bytes, 100)} -> ${r.code} ${r.lines[0]}`);
    }
  }

  private noteAccepted(r: SmtpReply, token: string | undefined): void {
    if (r.code < 200 || r.code >= 300) return;
    const m = QUEUED_AS.exec(r.lines[0] ?? '');
    if (!m) return;
    const prev = this.accepted.get(m[1]);
    this.accepted.set(m[1], { queueId: m[1], token: token ?? prev?.token });
  }

  /** After a STARTTLS step: upgrade, send garbage, or close; returns whether the case goes on. */
  private async afterStarttls(s: Step): Promise<boolean> {
    if (this.last?.code !== 220 || !this.counting) return true;
    if (s.tls === 'close') return false;
    if (s.tls === 'garbage') {
      await this.wire.write(Buffer.from('\x16\x03\x01\x00\x05hello garbage\r\n', 'latin1'));
      await this.wire.closes(this.left(2000));
      return false;
    }
    const failed = await this.wire.upgrade(this.left(this.stallMs));
    if (failed) {
      this.find('protocol', 'TLS handshake failed after 220', failed);
      return false;
    }
    this.transcript.push('-- TLS --');
    this.inTransaction = false;
    this.chunking = false;
    return true;
  }

  /** Leaves as the case says; after QUIT the server must close. */
  private async finish(): Promise<void> {
    const w = this.wire;
    if (w.closed) return;
    switch (this.c.ending) {
      case 'quit': {
        const byeSeen = this.last?.code === 221;
        const closed = await w.closes(this.left(byeSeen ? 5000 : this.quietMs * 2));
        if (byeSeen && !closed) this.find('protocol', 'no close after 221', 'the server kept the connection open 5 s after 221');
        break;
      }
      case 'close':
      case 'reset':
        w.end(this.c.ending);
        break;
      case 'half-close':
        w.end('half-close');
        await w.closes(this.left(2000));
        break;
      case 'idle':
        await sleep(Math.min(this.quietMs, this.left(this.quietMs)));
        break;
    }
    // late replies (after a quiet wait) still count for the queue ids
    let r: SmtpReply | undefined;
    const late: SmtpReply[] = [];
    while ((r = w.reader.take())) late.push(r);
    if (late.length > 0) {
      this.note('S', late);
      for (const x of late) this.noteAccepted(x, undefined);
      if (this.counting && this.c.transport !== 'blast') this.find('protocol', 'more replies than commands', late.map((x) => `${x.code} ${x.lines[0]}`).join(' | ').slice(0, 200));
    }
  }

  /** The reply-syntax oracle over everything the server sent. */
  private judgeReplies(): void {
    const seen = new Set<string>();
    for (const p of this.wire.reader.problems) {
      const key = `${p.kind}:${p.line.slice(0, 40)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      this.find('malformed', problemWhat(p), p.line);
    }
    const replies = this.wire.reader.replies;
    for (const r of replies) this.noteAccepted(r, undefined);
    const first = replies[0];
    if (first && first.code !== 220 && first.code !== 421 && first.code !== 554) {
      this.find('protocol', 'first reply is not a greeting', `${first.code} ${first.lines[0] ?? ''}`);
    }
    if (this.counting && this.c.transport !== 'blast' && this.wire.serverClosed) {
      const lastCode = this.wire.reader.replies.at(-1)?.code;
      const abrupt = this.c.steps.some((s) => s.kind === 'partial' || (s.kind === 'starttls' && s.tls !== 'handshake'));
      if (!abrupt && lastCode !== 421 && lastCode !== 221 && lastCode !== 554 && this.wire.reader.replies.length < this.expectedTotal) {
        this.find('protocol', 'connection closed without 421', `closed after ${this.wire.reader.replies.length} of ${this.expectedTotal} replies, last ${lastCode}`);
      }
    }
  }

  private note(side: 'C' | 'S', items: Array<Buffer | SmtpReply>): void {
    if (this.transcript.length > 400) return;
    for (const it of items) {
      if (Buffer.isBuffer(it)) {
        if (it.length > 0) this.transcript.push(`C: ${escapeBytes(it, TRANSCRIPT_STEP)}`);
      } else {
        this.transcript.push(`S: ${it.code}${it.lines.length > 1 ? '-' : ' '}${it.lines[0] ?? ''}${it.lines.length > 1 ? ` (+${it.lines.length - 1} lines)` : ''}`);
      }
    }
  }
}

function problemWhat(p: ReplyProblem): string {
  // the reply's code and first word of text make the group: "no-enhanced-code 503 Error:"
  const m = /^(\d{3})[ -]?(\S*)/.exec(p.line);
  return m ? `${p.kind} ${m[1]} ${m[2].replace(/\d+/g, 'N')}` : p.kind;
}
