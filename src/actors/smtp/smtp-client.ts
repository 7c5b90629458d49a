/**
 * smtp-client: nodemailer's SMTP client, adapted to what an MTA needs and
 * nodemailer's envelope cannot say: per-recipient DSN parameters (NOTIFY,
 * ORCPT) and RET/ENVID taken from the queue, SMTPUTF8 on MAIL FROM when the
 * message asked for it, refusing a server that does not offer STARTTLS
 * when TLS is required, Postfix's smtp_discard_ehlo_keywords (the EHLO
 * reply is filtered before nodemailer reads it), the CHUNKING and
 * BINARYMIME keywords. nodemailer keeps the session (connection, greeting,
 * EHLO, STARTTLS, replies, timeouts); the mail transactions are this
 * side's own, over the session's command channel: DATA (smtp-data.ts) and
 * BDAT (smtp-bdat.ts). It hooks the client's command writer, the one
 * place every command passes; the hooked
 * names are internal to nodemailer 10, so a nodemailer upgrade must re-run
 * test/actors/smtp. Promise wrappers reject with nodemailer's errors (code,
 * response, responseCode, command).
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SMTPConnectionOptions } from 'nodemailer/lib/smtp-connection';
import { runBdat } from './smtp-bdat.js';
import type { ClientError, CommandChannel, SendResult } from './smtp-channel.js';
import { runData } from './smtp-data.js';
import { runEnvelope, type EnvelopeResult } from './smtp-envelope.js';

export type { ClientError } from './smtp-channel.js';

/** nodemailer's internals that this file reaches, typed once here. */
interface ClientInternals {
  _sendCommand(str: string, logStr?: string): void;
  _socket?: import('node:net').Socket;
  _onError(err: Error, type: string, data: string | false, command: string): void;
  _supportedExtensions: string[];
  _plaintextEhlo: string | false;
  _destroyed: boolean;
  _maxAllowedSize: number;
  _responseActions: Array<(str: string) => void>;
  _pendingSend: false | { callback: (err: Error) => void; stream: false };
  _envelope: unknown;
  _formatError(message: string, type: string, response: string | false, command: string): Error;
  _actionEHLO(str: string): void;
  _parseEhloExtensions(str: string): void;
}

/** What makes nodemailer add SMTPUTF8 to MAIL FROM: a character beyond ASCII in an address. */
const NON_ASCII = /[\x80-\uFFFF]/;

const base = SMTPConnection.prototype as unknown as ClientInternals;
const baseSendCommand = base._sendCommand;
const baseActionEHLO = base._actionEHLO;
const baseParseEhloExtensions = base._parseEhloExtensions;

/**
 * The EHLO reply without the lines whose keyword is in `discard` (lower
 * case), and the keywords taken out. The first line (the server's name) is
 * kept; the last kept line gets the final "250 " form.
 */
export function filterEhloReply(reply: string, discard: string[]): { reply: string; discarded: string[] } {
  if (!discard.length) return { reply, discarded: [] };
  const lines = reply.split(/\r?\n/).filter((l) => l.length);
  const code = lines[0]?.slice(0, 3) ?? '250';
  const texts = lines.map((l) => l.slice(4));
  const kept = [texts[0] ?? ''];
  const discarded: string[] = [];
  for (const text of texts.slice(1)) {
    const keyword = text.trim().split(/[\s=]/)[0] ?? '';
    if (discard.includes(keyword.toLowerCase())) discarded.push(keyword.toUpperCase());
    else kept.push(text);
  }
  if (!discarded.length) return { reply, discarded };
  return { reply: kept.map((t, i) => `${code}${i === kept.length - 1 ? ' ' : '-'}${t}`).join('\r\n'), discarded };
}

/** RFC 3461 xtext: "+", "=", controls, space and non-ASCII as "+HH". */
export function encodeXtext(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    if (byte < 33 || byte > 126 || byte === 0x2b || byte === 0x3d) out += '+' + byte.toString(16).toUpperCase().padStart(2, '0');
    else out += String.fromCharCode(byte);
  }
  return out;
}

/** Per-send parameters the hook adds to MAIL FROM and RCPT TO. */
export interface SendParams {
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  smtputf8: boolean;
  /** RFC 8689: REQUIRETLS goes on MAIL FROM when the server offers it in this TLS session. */
  requiretls?: boolean;
  /** One entry per recipient, in RCPT order. */
  recipients: Array<{ notify?: string[]; orcpt?: string }>;
}

/** An SMTP client connection with MTA-level envelope parameters. */
export class SmtpClient extends SMTPConnection {
  private params: SendParams | undefined;
  private rcptCursor = 0;
  private readonly discardKeywords: string[];
  /** Set when STARTTLS was required but the server did not announce it. */
  starttlsNotOffered = false;
  /** EHLO keywords the server offered and smtp_discard_ehlo_keywords took out (upper case), from the last EHLO. */
  discardedKeywords: string[] = [];

  /** `discardEhloKeywords`: smtp_discard_ehlo_keywords, lower case. */
  constructor(options: SMTPConnectionOptions, extra: { discardEhloKeywords?: string[] } = {}) {
    super(options);
    this.discardKeywords = extra.discardEhloKeywords ?? [];
    // nodemailer emits 'error' on the connection; unhandled, that would kill the thread.
    this.on('error', () => undefined);
  }

  /** Extensions the server announced in its (last) EHLO reply, upper case. */
  get extensions(): string[] {
    return (this as unknown as ClientInternals)._supportedExtensions;
  }

  /** The TLS socket after STARTTLS (for the server's certificate chain); undefined before or without TLS. */
  get tlsSocket(): import('node:tls').TLSSocket | undefined {
    const socket = (this as unknown as ClientInternals)._socket;
    return this.secure && socket && 'getPeerCertificate' in socket ? (socket as import('node:tls').TLSSocket) : undefined;
  }

  /** The SIZE limit the server announced; 0 when none. */
  get maxSize(): number {
    return (this as unknown as ClientInternals)._maxAllowedSize || 0;
  }

  /** True when the session is TLS and the server's certificate was trusted and matched the name the handshake checked. */
  get verified(): boolean {
    const socket = (this as unknown as ClientInternals)._socket as { authorized?: boolean } | undefined;
    return this.secure && socket?.authorized === true;
  }

  /** True once the connection is closed or broken. */
  get dead(): boolean {
    return (this as unknown as ClientInternals)._destroyed || this.destroyed;
  }

  /** The EHLO reply hook: smtp_discard_ehlo_keywords takes keywords out before nodemailer reads any. */
  _actionEHLO(str: string): void {
    if (str[0] === '2') {
      const filtered = filterEhloReply(str, this.discardKeywords);
      this.discardedKeywords = filtered.discarded;
      str = filtered.reply;
    }
    baseActionEHLO.call(this, str);
  }

  /** nodemailer's extension list, plus CHUNKING and BINARYMIME (RFC 3030), which it does not look for. */
  _parseEhloExtensions(str: string): void {
    baseParseEhloExtensions.call(this, str);
    const ext = this.extensions;
    if (/[ -]CHUNKING\b/im.test(str) && !ext.includes('CHUNKING')) ext.push('CHUNKING');
    if (/[ -]BINARYMIME\b/im.test(str) && !ext.includes('BINARYMIME')) ext.push('BINARYMIME');
  }

  /** The command writer hook: adds our parameters to MAIL FROM and RCPT TO, checks STARTTLS. */
  _sendCommand(str: string, logStr?: string): void {
    const internals = this as unknown as ClientInternals;
    if (str === 'STARTTLS' && this.options.requireTLS) {
      const ehlo = internals._plaintextEhlo;
      if (typeof ehlo === 'string' && !/[ -]STARTTLS\b/im.test(ehlo)) {
        this.starttlsNotOffered = true;
        const err = new Error('STARTTLS not offered') as ClientError;
        err.notOffered = true;
        internals._onError(err, 'ETLS', false, 'STARTTLS');
        return;
      }
    }
    const p = this.params;
    if (p && str.startsWith('MAIL FROM:')) {
      const ext = this.extensions;
      const args: string[] = [];
      if (p.smtputf8 && ext.includes('SMTPUTF8') && !/ SMTPUTF8\b/.test(str)) args.push('SMTPUTF8');
      if (p.requiretls && this.secure && ext.includes('REQUIRETLS')) args.push('REQUIRETLS');
      if (ext.includes('DSN')) {
        if (p.ret) args.push(`RET=${p.ret}`);
        if (p.envid) args.push(`ENVID=${encodeXtext(p.envid)}`);
      }
      if (args.length) str += ' ' + args.join(' ');
    } else if (p && str.startsWith('RCPT TO:')) {
      const r = p.recipients[this.rcptCursor++];
      if (r && this.extensions.includes('DSN')) {
        const args: string[] = [];
        if (r.notify?.length) args.push(`NOTIFY=${r.notify.join(',')}`);
        if (r.orcpt) {
          const semi = r.orcpt.indexOf(';');
          const type = semi > 0 ? r.orcpt.slice(0, semi) : 'rfc822';
          const addr = semi > 0 ? r.orcpt.slice(semi + 1) : r.orcpt;
          args.push(`ORCPT=${type};${encodeXtext(addr)}`);
        }
        if (args.length) str += ' ' + args.join(' ');
      }
    }
    baseSendCommand.call(this, str, logStr);
  }

  /** Opens the session: greeting, EHLO/HELO, STARTTLS as the options say. */
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        this.close();
        reject(err);
      };
      this.once('error', fail);
      this.once('end', () => fail(Object.assign(new Error('Connection closed unexpectedly'), { code: 'ECONNECTION', command: 'CONN' })));
      this.connect((err?: Error) => {
        if (err) return fail(err);
        if (settled) return;
        settled = true;
        this.removeListener('error', fail);
        resolve();
      });
    });
  }

  /**
   * One mail transaction with DATA (smtp-data), with the MAIL FROM
   * parameters nodemailer's send() gave, in its order: SMTPUTF8 for a
   * non-ASCII address, BODY=8BITMIME, SIZE=, where the server offers them.
   */
  transaction(from: string, to: string[], params: SendParams, message: Buffer, extra: { size: number; use8BitMime: boolean }): Promise<SendResult> {
    const ext = this.extensions;
    const args: string[] = [];
    if (ext.includes('SMTPUTF8') && (NON_ASCII.test(from) || to.some((a) => NON_ASCII.test(a)))) args.push('SMTPUTF8');
    if (extra.use8BitMime && ext.includes('8BITMIME')) args.push('BODY=8BITMIME');
    if (extra.size > 0 && ext.includes('SIZE')) args.push(`SIZE=${extra.size}`);
    const channel = this.channel(params);
    if (!channel) return Promise.resolve({ error: this.closedError(), accepted: [], rejectedErrors: [] });
    return runData(channel, from, to, args, message);
  }

  /**
   * One mail transaction with BDAT (the server must offer CHUNKING). `body`
   * is the BODY= value to declare ('' for none); SIZE= goes when offered.
   */
  bdatTransaction(from: string, to: string[], params: SendParams, message: Buffer, body: '' | '8BITMIME' | 'BINARYMIME'): Promise<SendResult> {
    const args: string[] = [];
    if (body) args.push(`BODY=${body}`);
    if (this.extensions.includes('SIZE')) args.push(`SIZE=${message.length}`);
    const channel = this.channel(params);
    if (!channel) return Promise.resolve({ error: this.closedError(), accepted: [], rejectedErrors: [] });
    return runBdat(channel, from, to, args, message);
  }

  /**
   * sendmail -bv: MAIL FROM and RCPT TO only, no DATA (smtp-verify.ts);
   * the caller then says RSET or QUIT.
   */
  envelopeOnly(from: string, to: string[], params: SendParams): Promise<EnvelopeResult> {
    const channel = this.channel(params);
    if (!channel) return Promise.resolve({ replies: [], error: this.closedError() });
    return runEnvelope(channel, from, to);
  }

  private closedError(): ClientError {
    return (this as unknown as ClientInternals)._formatError('Connection is closed', 'ECONNECTION', false, 'API') as ClientError;
  }

  /** The session as a command channel with our MAIL/RCPT parameters; undefined when the connection is gone. */
  private channel(params: SendParams): CommandChannel | undefined {
    if (this.dead) return undefined;
    const internals = this as unknown as ClientInternals;
    this.params = params;
    this.rcptCursor = 0;
    return {
      extensions: this.extensions,
      command: (line, onReply) => {
        internals._responseActions.push(onReply);
        this._sendCommand(line);
      },
      write: (data) => {
        const socket = internals._socket;
        if (socket && !socket.destroyed && !this.dead) socket.write(data);
      },
      cork: () => internals._socket?.cork(),
      uncork: () => internals._socket?.uncork(),
      begin: (onLost) => {
        // nodemailer ends the send in flight on a lost connection, a timeout or a 421: this one is it.
        internals._envelope = false;
        internals._pendingSend = { callback: onLost, stream: false };
      },
      end: () => {
        internals._pendingSend = false;
        this.params = undefined;
      },
      close: () => this.close(),
      error: (message, code, response, command) => internals._formatError(message, code, response, command) as ClientError,
    };
  }

  /** RSET; resolves false when the server refused or the connection is gone. */
  rset(): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.dead) return resolve(false);
      const onEnd = () => resolve(false);
      this.once('end', onEnd);
      this.reset((err) => {
        this.removeListener('end', onEnd);
        resolve(!err);
      });
    });
  }

  /** QUIT and close; never throws. */
  shutdown(): void {
    try {
      if (!this.dead) this.quit();
    } catch {
      // A broken socket has nothing left to say QUIT to.
    }
    // The server's 221 is not worth waiting for: close in any case.
    setImmediate(() => this.close());
  }
}
