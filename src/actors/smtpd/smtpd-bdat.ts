/**
 * smtpd-bdat: RFC 3030 CHUNKING for smtpd (smtp-server has no BDAT), with
 * Postfix's replies and order of checks (smtpd(8), bdat_cmd):
 *
 * - "BDAT count [LAST]": count is decimal digits. A malformed command gets
 *   "521 5.5.4 Syntax: BDAT count [LAST]" and the session ends (what follows
 *   would be raw message bytes read as commands).
 * - "BDAT 0" without LAST: "551 5.7.1 Null BDAT request".
 * - The first chunk of a transaction stands for DATA: no recipient gets "503
 *   5.5.1 Error: need RCPT command" (no MAIL) or "554 5.5.1 Error: no valid
 *   recipients"; then smtpd_data_restrictions.
 * - A chunk that would take the message past message_size_limit gets "552
 *   5.3.4 Chunk exceeds message size limit" before any of it is read.
 * - After a failed chunk, later chunks are read and discarded ("551 5.0.0
 *   Discarded N bytes after earlier error") until BDAT LAST or RSET, so the
 *   session stays in step with a client that pipelines its chunks. A
 *   refused chunk's bytes are read and dropped unless the message would
 *   then pass 1.5 x message_size_limit: then the reply is sent and the
 *   session ends ("too much BDAT content -- disabling further input"), so
 *   "BDAT 4294967296" cannot hold a session; a client that stops sending
 *   meets smtpd_timeout.
 * - Accepted chunks: "250 2.0.0 Ok: N bytes"; the content goes, as it
 *   arrives, into the same onData path as DATA (end-of-data restrictions,
 *   cleanup, the queue), and BDAT LAST is answered as DATA's end ("250
 *   2.0.0 Ok: N bytes queued as ID").
 * - Content is kept byte for byte (no dot-stuffing, no terminator). Bare
 *   <LF> follows smtpd_forbid_bare_newline as for DATA: turned into
 *   <CR><LF> (normalize, no), or "521 5.5.2 Error: bare <LF> received" and
 *   the end of the session (reject). A message whose last chunk does not
 *   end a line gets <CR><LF>, as Postfix stores it. BODY=BINARYMIME content
 *   is stored exactly as sent (bare <LF> is data there).
 *
 * BdatTransaction.command() is the BDAT handler; reset() drops the
 * transaction (RSET, EHLO, the end of a message, a closed connection).
 * Nothing here throws; every refusal is a reply.
 */
import { PassThrough } from 'node:stream';
import type { SMTPServerSession } from 'smtp-server/lib/types.js';
import { count, label } from '../../util/metrics-counters.js';
import type { SmtpReplyError } from '../../util/smtp-reply.js';

/** What the BDAT handler asks of its connection. */
export interface BdatHost {
  readonly session: SMTPServerSession;
  /** message_size_limit (0: none). */
  readonly sizeLimit: number;
  /** smtpd_forbid_bare_newline as decided for this client. */
  readonly bareNewline: 'normalize' | 'reject' | 'no';
  send(code: number, text: string): void;
  close(): void;
  /** "NAME[ADDR]" of the client, for log lines. */
  readonly client: string;
  /** A warning log line, prefixed with the queue id (or NOQUEUE). */
  warn(text: string): void;
  /** smtpd_data_restrictions for the first chunk. */
  beforeData(): Promise<SmtpReplyError | undefined>;
  /** Hands the message stream to smtpd's onData (as DATA does); `done` gets its outcome. */
  startMessage(stream: PassThrough, done: (err?: (Error & { responseCode?: number }) | null, message?: unknown) => void): void;
  /** The next `size` bytes of input go to `sink`; `complete` runs once they are in and gets the parser's continuation. */
  readPayload(size: number, sink: (bytes: Buffer) => void, complete: (resume: () => void) => void): void;
  /** The reply to the last chunk is pending (the idle timeout must not count it against the client). */
  awaitingReply(on: boolean): void;
  /** A bare <LF> under smtpd_forbid_bare_newline = reject. */
  rejectBareNewline(): void;
  /** The transaction is over: a new one may start (MAIL). */
  endTransaction(message: boolean): void;
  /** Bytes of the message for the final reply ("N bytes queued as"). */
  setMessageBytes(bytes: number | undefined): void;
}

const SYNTAX = /^BDAT[ \t]+(\d+)(?:[ \t]+(\S+))?[ \t]*$/i;

/** "BDAT 1000 LAST" -> { size, last }; undefined when malformed (or past 2^53 - 1 bytes). */
export function parseBdat(line: string): { size: number; last: boolean } | undefined {
  const m = SYNTAX.exec(line);
  if (!m) return undefined;
  if (m[2] !== undefined && m[2].toUpperCase() !== 'LAST') return undefined;
  const size = Number(m[1]);
  if (!Number.isSafeInteger(size)) return undefined;
  return { size, last: m[2] !== undefined };
}

type Phase = 'none' | 'ok' | 'error';

export class BdatTransaction {
  private phase: Phase = 'none';
  /** Bytes of this message so far (Postfix's act_size), skipped chunks included. */
  private bytes = 0;
  private stream?: PassThrough;
  private outcome?: { err?: (Error & { responseCode?: number }) | null; message?: unknown };
  private onOutcome?: () => void;
  private lastByte = -1;
  private binary = false;

  constructor(private readonly host: BdatHost) {}

  /** True while a BDAT transaction is open (Postfix's SMTPD_PROCESSING_BDAT): DATA, MAIL and RCPT are refused. */
  get active(): boolean {
    return this.phase !== 'none';
  }

  /** Drops the transaction; a message being received is abandoned (its stream fails, nothing is queued). */
  reset(): void {
    this.phase = 'none';
    this.bytes = 0;
    this.lastByte = -1;
    this.outcome = undefined;
    this.onOutcome = undefined;
    const stream = this.stream;
    this.stream = undefined;
    if (stream && !stream.destroyed && !stream.writableEnded) stream.destroy(new Error('BDAT transaction abandoned'));
  }

  /** The BDAT command handler (smtp-server's handler_* signature). */
  command(line: Buffer, callback: () => void): void {
    const host = this.host;
    const parsed = parseBdat(line.toString('latin1'));
    if (!parsed) {
      host.warn(`malformed BDAT command syntax from ${host.client}: ${printable(line)}`);
      count('smtpd_rejected', label('reason', 'bdat_syntax'));
      host.send(521, '5.5.4 Syntax: BDAT count [LAST]');
      host.close();
      return callback();
    }
    const { size, last } = parsed;
    if (size === 0 && !last) {
      host.warn(`null BDAT request from ${host.client}`);
      return this.skip(size, last, 551, '5.7.1 Null BDAT request', callback);
    }
    if (this.phase === 'error') return this.skip(size, last, 551, `5.0.0 Discarded ${size} bytes after earlier error`, callback);
    if (this.phase === 'ok') return this.accept(size, last, callback);
    const env = host.session.envelope;
    if (env.rcptTo.length === 0) {
      if (!env.mailFrom) return this.skip(size, last, 503, '5.5.1 Error: need RCPT command', callback);
      return this.skip(size, last, 554, '5.5.1 Error: no valid recipients', callback);
    }
    host.beforeData().then(
      (refusal) => {
        if (refusal) return this.skip(size, last, refusal.responseCode, refusal.message, callback);
        this.accept(size, last, callback);
      },
      () => this.skip(size, last, 451, '4.3.0 Error: internal error', callback),
    );
  }

  /** Reads the chunk into the message, or refuses it when it would pass message_size_limit. */
  private accept(size: number, last: boolean, callback: () => void): void {
    const host = this.host;
    const limit = host.sizeLimit;
    if (limit > 0 && this.bytes + size > limit) {
      host.warn(`BDAT request from ${host.client} exceeds message size limit`);
      count('smtpd_rejected', label('reason', 'size'));
      return this.skip(size, last, 552, '5.3.4 Chunk exceeds message size limit', callback);
    }
    if (this.phase === 'none') this.open();
    this.phase = 'ok';
    this.bytes += size;
    const stream = this.stream!;
    if (size === 0) {
      // "BDAT 0 LAST": nothing to read.
      this.finish(last, size, noop, callback);
      return;
    }
    host.readPayload(
      size,
      (bytes) => this.take(stream, bytes),
      (resume) => this.finish(last, size, resume),
    );
    callback();
  }

  /** Starts the message: the stream onData reads, as for DATA. */
  private open(): void {
    const stream = new PassThrough();
    this.stream = stream;
    this.binary = String(this.host.session.envelope.bodyType).toLowerCase() === 'binarymime';
    this.lastByte = -1;
    this.outcome = undefined;
    this.host.startMessage(stream, (err, message) => {
      if (this.stream !== stream) return;
      this.outcome = { err, message };
      const then = this.onOutcome;
      this.onOutcome = undefined;
      then?.();
    });
  }

  private take(stream: PassThrough, bytes: Buffer): void {
    if (this.stream !== stream || stream.destroyed) return;
    if (!this.binary && this.host.bareNewline === 'reject' && hasBareLF(bytes, this.lastByte === 0x0d)) {
      this.reset();
      this.host.rejectBareNewline();
      return;
    }
    this.lastByte = bytes[bytes.length - 1];
    stream.write(bytes);
  }

  /** A chunk is in: "250 2.0.0 Ok: N bytes", or for LAST the message's own reply once it is queued. */
  private finish(last: boolean, size: number, resume: () => void, callback?: () => void): void {
    const host = this.host;
    const stream = this.stream;
    if (!stream || stream.destroyed) {
      // The session ended while the chunk was read (bare <LF> refused, 421): nothing more to say.
      callback?.();
      return;
    }
    if (!last) {
      host.send(250, `2.0.0 Ok: ${size} bytes`);
      resume();
      callback?.();
      return;
    }
    // As Postfix writes the last line of a message that lacks its line end.
    if (!this.binary && this.lastByte !== -1 && this.lastByte !== 0x0a) stream.write('\r\n');
    host.setMessageBytes(this.bytes);
    host.awaitingReply(true);
    stream.end();
    const reply = (): void => {
      host.awaitingReply(false);
      const outcome = this.outcome!;
      if (outcome.err) host.send(outcome.err.responseCode || 450, outcome.err.message);
      else host.send(250, typeof outcome.message === 'string' ? outcome.message : '2.0.0 Ok');
      host.setMessageBytes(undefined);
      this.stream = undefined;
      this.reset();
      host.endTransaction(true);
      resume();
      callback?.();
    };
    if (this.outcome) reply();
    else this.onOutcome = reply;
  }

  /**
   * Refuses a chunk: its bytes are read and dropped, then the reply; past
   * 1.5 x message_size_limit the reply comes at once and the session ends.
   * A refused LAST ends the transaction; any other refused chunk makes the
   * later ones of this transaction be discarded.
   */
  private skip(size: number, last: boolean, code: number, text: string, callback: () => void): void {
    const host = this.host;
    const limit = host.sizeLimit;
    if (this.phase === 'ok') {
      // The message being received is abandoned.
      const stream = this.stream;
      this.stream = undefined;
      if (stream && !stream.destroyed) stream.destroy(new Error('BDAT chunk refused'));
    }
    const after = (): void => {
      if (last) {
        this.reset();
        host.endTransaction(false);
      } else {
        this.phase = 'error';
      }
    };
    if (limit > 0 && this.bytes + size > limit * 1.5) {
      host.send(code, text);
      host.warn(`too much BDAT content -- disabling further input from ${host.client}`);
      after();
      host.close();
      return callback();
    }
    this.bytes += size;
    if (size === 0) {
      host.send(code, text);
      after();
      return callback();
    }
    host.readPayload(
      size,
      () => undefined,
      (resume) => {
        host.send(code, text);
        after();
        resume();
      },
    );
    callback();
  }
}

function noop(): void {
  // nothing to resume: no payload was read
}

/** True when `bytes` holds an LF not preceded by CR (`prevCR`: the byte before them was CR). */
function hasBareLF(bytes: Buffer, prevCR: boolean): boolean {
  for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) {
    if (!(i === 0 ? prevCR : bytes[i - 1] === 0x0d)) return true;
  }
  return false;
}

/** A command line for a log line: printable ASCII, at most 100 characters. */
function printable(line: Buffer): string {
  return line.toString('latin1', 0, 100).replace(/[^\x20-\x7e]/g, '?');
}
