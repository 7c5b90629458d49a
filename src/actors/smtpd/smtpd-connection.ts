/**
 * smtpd-connection: the smallest subclasses of smtp-server's classes that
 * make it behave as Postfix's smtpd, without forking the library:
 *
 * - SmtpdConnection.init(): smtp-server waits a hard-wired 100 ms before its
 *   greeting (early-talker detection, SMTPConnection.init). There is no
 *   option for it, so init() is overridden to wait `greetWaitMs` instead
 *   (the Postrider parameter smtpd_greet_wait, default 0s: no wait).
 * - _sendGreeting(): "220 $smtpd_banner", not the library's "NAME ESMTP".
 * - send(): every reply passes here. A reply text that already starts with
 *   an enhanced status code (made by smtp-reply) is sent as is; the
 *   library's own texts are mapped to Postfix's; with soft_bounce every
 *   5xx goes out as 4xx (syntax errors included, as Postfix's reply
 *   routine does); 4xx/5xx replies count as errors for
 *   smtpd_soft/hard_error_limit; final replies feed the per-command counts
 *   of the "disconnect from" line.
 * - handler_MAIL(), handler_RCPT(): Postfix's order of checks (a nested
 *   MAIL, RCPT before MAIL, the command's syntax, the address, then the
 *   ESMTP parameters of smtpd-params with Postfix's 501/555 replies).
 *   smtp-server takes only "<user@domain>"; Postfix, unless
 *   strict_rfc821_envelopes = yes, also takes a bare address
 *   ("MAIL FROM:user@example.com"), which is given its brackets here, and
 *   a bare local part ("<jdoe>", qualified later by cleanup); with
 *   strict_rfc821_envelopes = yes a bare address is refused with Postfix's
 *   501 replies.
 * - handler_VRFY(), handler_ETRN(): the replies the Smtpd's hooks make
 *   (disable_vrfy_command and the RCPT checks; fast_flush_domains and a
 *   flush), sent exactly as Postfix words them (sendPlain); EHLO lists VRFY
 *   and ETRN after SIZE, as Postfix does.
 * - _onCommand(): the hard error limit (421 4.7.0 Error: too many errors),
 *   the error tarpit (smtpd_error_sleep_time before each command once over
 *   the soft limit), smtpd_junk_command_limit (HELO, EHLO, RSET, NOOP, VRFY,
 *   ETRN past the limit each count as an error) and the command counts. The
 *   library's own limit of 10 unrecognized commands is neutralised so
 *   Postfix's limits govern. A command line that is not UTF-8 gets "500
 *   5.5.2 Error: bad UTF-8 syntax" (the library would turn its bytes into
 *   U+FFFD). A command smtpd does not know is shown to the milters first
 *   (hooks.unknownCommand, SMFIC_UNKNOWN); their refusal replaces the 500.
 *   smtpd_forbid_unauth_pipelining: input that arrived before the
 *   greeting, or after a command that must end a pipelined group (HELO,
 *   EHLO, DATA, NOOP, VRFY, and every command before EHLO) is logged as
 *   "improper command pipelining after CMD from ..." and, when forbidden,
 *   answered with "554 5.5.0 Error: SMTP protocol synchronization" and the
 *   session ends. Input that arrived before the greeting waits for it.
 * - _parseAddressCommand(): the library turns an A-label domain (xn--...)
 *   into Unicode; the address keeps the client's own form instead, so the
 *   mail leaves with the domain it came with.
 * - handler_DATA(): smtpd_data_restrictions before the 354; handler_AUTH():
 *   smtpd_client_auth_rate_limit before the mechanism runs.
 * - SmtpdServer.connect(): smtpd_session_limit; a client beyond it gets
 *   "421 4.3.2 All server ports are busy" (postscreen's words) before any
 *   session state is made.
 * - smtpd_helo_required = no (Postfix's default): the library always wants
 *   HELO/EHLO before MAIL, so _onCommand gives a HELO-less session a blank
 *   HELO name (" "), which the rest of smtpd reads as "no HELO".
 * - handler_BDAT() (smtpd-bdat.ts, which reads each chunk's payload through
 *   the parser's readPayload()), CHUNKING and BINARYMIME in the EHLO reply,
 *   BODY=BINARYMIME in MAIL FROM, and Postfix's "503 5.5.1 Error: DATA
 *   after BDAT" (likewise MAIL and RCPT); DATA after BODY=BINARYMIME is
 *   refused (RFC 3030). Every reset of the session drops an unfinished
 *   BDAT message.
 * - _createParser(): a parser whose write() sees the raw bytes from the
 *   socket before the library's line and DATA parsing. smtp-server's DATA
 *   parser ends a message only at <CR><LF>.<CR><LF> (and at ".<CR><LF>" as
 *   the very first line), so <LF>.<LF>, <LF>.<CR><LF>, <CR>.<CR> never end a
 *   message: what smtpd_forbid_bare_newline needs. In "reject" mode the
 *   parser refuses the first bare <LF> (a command line's end, or in DATA or
 *   BDAT content) with
 *   "521 5.5.2 Error: bare <LF> received" and the session ends; in
 *   "normalize" and "no" modes bare <LF> in DATA is turned into <CR><LF> by
 *   the message assembly (smtpd-message.ts). The same write() corks the
 *   socket until the event loop turns, so the replies to one chunk of
 *   pipelined input leave in one write (about 1.7 times the messages per
 *   second on kept-open connections here); the STARTTLS reply uncorks first.
 *   Its DATA-mode parsing is the library's, done by native searches
 *   (smtpd-data-scan.ts).
 *
 * Errors: nothing here throws into the socket pipeline; hostile input gets a
 * reply and possibly a disconnect.
 */
import type { SpfOutcome } from './smtpd-auth.js';
import { isUtf8 } from 'node:buffer';
import { threadId } from 'node:worker_threads';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPServer } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import type { SMTPServerOptions, SMTPServerSession } from 'smtp-server/lib/types.js';
import { count, label } from '../../util/metrics-counters.js';
import type { MessageActions } from './smtpd-policy.js';
import { ENHANCED_CODE_PREFIX, softBounced, type SmtpReplyError } from '../../util/smtp-reply.js';
import { addressArgument, mailParameterError, rcptParameterError } from './smtpd-params.js';
import { BdatTransaction, type BdatHost } from './smtpd-bdat.js';
import { feedDataStream } from './smtpd-data-scan.js';
import { plainAddressCommand } from './smtpd-plain-address.js';

/** What the connection layer asks of the Smtpd that owns it. */
export interface ConnectionHooks {
  greetWaitMs: number;
  banner: string;
  myhostname: string;
  softErrorLimit: number;
  hardErrorLimit: number;
  errorSleepMs: number;
  /** smtpd_helo_required; when false a session may start with MAIL (the HELO name is then blank). */
  heloRequired: boolean;
  junkCommandLimit: number;
  forbidUnauthPipelining: boolean;
  /** smtpd_session_limit: sessions this server holds at once (0: no cap). */
  sessionLimit: number;
  /** A connection refused for the session limit (before any session state). */
  sessionRefused(socket: Socket): void;
  /** soft_bounce: 5xx replies go out as 4xx. */
  softBounce: boolean;
  /** strict_rfc821_envelopes: MAIL FROM and RCPT TO need <address>. */
  strictRfc821: boolean;
  /** smtputf8_enable: the SMTPUTF8 parameter of MAIL FROM is known. */
  smtputf8: boolean;
  /** requiretls_enable: the REQUIRETLS parameter of MAIL FROM is known in a TLS session. */
  requiretls: boolean;
  /** disable_vrfy_command = no: EHLO lists VRFY. */
  vrfyEnabled: boolean;
  /** The reply to VRFY with this argument text ("" for none). */
  verify(conn: SmtpdConnection, argument: string): Promise<PlainReply>;
  /** The reply to ETRN with this argument text ("" for none). */
  etrn(conn: SmtpdConnection, argument: string): Promise<PlainReply>;
  /** Per-session state, created with the connection. */
  sessionState(conn: SmtpdConnection): SessionState;
  /** smtpd_data_restrictions: a refusal or undefined. */
  beforeData(session: SMTPServerSession): Promise<SmtpReplyError | undefined>;
  /** smtpd_client_auth_rate_limit: a refusal or undefined, before the AUTH mechanism runs. */
  beforeAuth(session: SMTPServerSession): Promise<SmtpReplyError | undefined>;
  /** An unknown command's verb, for the milters (SMFIC_UNKNOWN): their refusal, or undefined (at once when there are none) for the usual 500. */
  unknownCommand(conn: SmtpdConnection, verb: string): Promise<SmtpReplyError | undefined> | undefined;
  /** Logs a line for this session ("timeout after DATA from NAME[ADDR]", then ": detail" when given). */
  event(conn: SmtpdConnection, text: string, detail?: string): void;
  /** Logs a warning as is. */
  warning(text: string): void;
}

/** A reply in Postfix's exact words, sent without any mapping (an enhanced code only where the text has one). */
export interface PlainReply {
  code: number;
  text: string;
}

/** Per-session bookkeeping that Postfix keeps in its SMTPD_STATE. */
export interface SessionState {
  clientName: string;
  clientAddr: string;
  clientPort: number;
  /** Decided at connect: reject, or normalize (also for exempt clients). */
  bareNewline: 'normalize' | 'reject' | 'no';
  errorCount: number;
  /** HELO, EHLO, RSET, NOOP, VRFY, ETRN so far (reset by a delivered message), for smtpd_junk_command_limit. */
  junkCommands: number;
  /** 452 "too many recipients" replies in this transaction, for smtpd_recipient_overshoot_limit. */
  rcptOvershoot: number;
  /** The refusal being sent is not a client error (a 452 within the overshoot limit). */
  forgiveReply: boolean;
  /** Improper pipelining was seen (and logged) once; Postfix looks no further. */
  illegalPipelining: boolean;
  /** smtpd_client_event_limit_exceptions matched: no rate limits. */
  rateExempt: boolean;
  /** Command name -> [succeeded, total], in first-use order. */
  commands: Map<string, [number, number]>;
  pendingCommand?: string;
  lastCommand?: string;
  /** smtpd ended the session (QUIT, a 421, a timeout); else the client left: "lost connection after ...". */
  serverClosed?: boolean;
  /** The socket failed (reset, broken pipe): the client is gone whoever closes afterwards. */
  peerLost?: boolean;
  queueId?: string;
  /** The size of a message received with BDAT, for its final reply ("250 2.0.0 Ok: N bytes queued as ID"). */
  bdatBytes?: number;
  /** SPF of this transaction's MAIL FROM, started at MAIL FROM (smtpd-auth). */
  spf?: Promise<SpfOutcome>;
  /** SASL method of a successful AUTH, for the client= log line. */
  saslMethod?: string;
  clientLogged: boolean;
  /** What access results and policy servers asked of the message of this transaction. */
  messageActions?: MessageActions;
  /** The policy requests' instance attribute for this transaction (made on first use). */
  policyInstance?: string;
  /** The message's size once its content is in (the policy size attribute at end of data). */
  messageSize?: number;
  admitted: boolean;
  connected: boolean;
  /** The client's connections at connect as anvil counted them (milter {client_connections}); unset when no limit asks anvil. */
  connectionCount?: number;
}

/** "NNN " and the text within 510 bytes, the CRLF making 512 (for ASCII text; an 8-bit address may run a few bytes over). */
const MAX_REPLY_TEXT = 506;

/** Command names as Postfix counts them; anything else is "unknown". */
const KNOWN_COMMANDS = new Set(['helo', 'ehlo', 'starttls', 'auth', 'mail', 'rcpt', 'data', 'bdat', 'rset', 'noop', 'vrfy', 'etrn', 'quit']);
/** Postfix's SMTPD_CMD_FLAG_LIMIT: commands that smtpd_junk_command_limit counts. */
const JUNK_COMMANDS = new Set(['helo', 'ehlo', 'rset', 'noop', 'vrfy', 'etrn']);
/** RFC 2920: commands that may only end a pipelined group (Postfix's SMTPD_CMD_FLAG_LAST). */
const LAST_IN_GROUP = new Set(['helo', 'ehlo', 'data', 'noop', 'vrfy']);
/** The commands that need a HELO name in smtp-server. */
const ENVELOPE_COMMANDS = new Set(['mail', 'rcpt', 'data']);
/** The library's test for an HTTP request line (it answers those itself and ends the session). */
const HTTP_REQUEST = /^(OPTIONS|GET|HEAD|POST|PUT|DELETE|TRACE|CONNECT) \/.* HTTP\/\d\.\d$/i;
/** Postfix's order for the disconnect line. */
export const COMMAND_ORDER = ['helo', 'ehlo', 'starttls', 'auth', 'mail', 'rcpt', 'data', 'bdat', 'rset', 'noop', 'vrfy', 'etrn', 'quit', 'unknown'];

export class SmtpdServer extends SMTPServer {
  /** Sessions this server has started: their ids. */
  private sessions = 0;

  constructor(
    options: SMTPServerOptions,
    readonly hooks: ConnectionHooks,
  ) {
    super(options);
  }

  /**
   * The library's step before connect(). With no PROXY header expected the
   * session id (a key of this thread's policy-service sessions, never seen
   * outside it) is the thread id and a count, instead of 10 random bytes
   * turned into base 32 for every connection.
   */
  override _handleProxy(socket: Socket, callback: Parameters<SMTPServer['_handleProxy']>[1]): void {
    if (this._expectsProxyHeader(socket)) return super._handleProxy(socket, callback);
    const id = `${threadId.toString(32)}.${(++this.sessions).toString(32)}`;
    const ignore = !!this.options.ignoredHosts?.includes(socket.remoteAddress ?? '');
    setImmediate(() => callback(null, { id, ignore }));
  }

  /** Same as the library's connect(), with SmtpdConnection in place of SMTPConnection; refuses past smtpd_session_limit. */
  override connect(socket: Socket | TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const limit = this.hooks.sessionLimit;
    if (limit > 0 && this.connections.size >= limit) {
      socket.on('error', () => undefined);
      this.hooks.sessionRefused(socket);
      socket.end('421 4.3.2 All server ports are busy\r\n', () => socket.destroy());
      socket.setTimeout(5000, () => socket.destroy());
      return;
    }
    const connection = new SmtpdConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this.emit('error', err));
    connection.on('connect', (data: unknown) => this.emit('connect', data));
    connection.init();
  }
}

export class SmtpdConnection extends SMTPConnection {
  declare _server: SmtpdServer;
  /** Set lazily: the base constructor calls _createParser() before subclass fields exist. */
  private stateRef?: SessionState;
  /** A command that arrived before the greeting, run once the greeting is out. */
  private early?: { command: Buffer; callback?: () => void };
  /** The next send() is a reply made here in Postfix's words (sendPlain). */
  private plainNext = false;
  /** Set lazily, as stateRef: the BDAT transaction (smtpd-bdat.ts). */
  private bdatRef?: BdatTransaction;
  /** An EHLO reply is being made: CHUNKING and BINARYMIME join the library's keywords. */
  private ehloReply = false;

  get state(): SessionState {
    if (!this.stateRef) this.stateRef = this._server.hooks.sessionState(this);
    return this.stateRef;
  }

  /** Session wait before the greeting: smtpd_greet_wait in place of the library's 100 ms. */
  override init(): void {
    this._setListeners(() => {
      const wait = this._server.hooks.greetWaitMs;
      if (wait > 0) setTimeout(() => this.connectionReady(), wait).unref();
      else this.connectionReady();
    });
  }

  override _sendGreeting(): void {
    const hooks = this._server.hooks;
    const parser = this._parser instanceof SmtpdStream ? this._parser : undefined;
    const state = this.state;
    if (parser && !state.illegalPipelining && (parser.received > 0 || this._socket.readableLength > 0)) {
      state.illegalPipelining = true;
      hooks.event(this, 'improper command pipelining after CONNECT', escapeBytes(parser.firstBytes));
      if (hooks.forbidUnauthPipelining) {
        this.early = undefined;
        this.refusePipelining();
        return;
      }
    }
    this.send(220, hooks.banner, false);
    const early = this.early;
    if (early) {
      this.early = undefined;
      setImmediate(() => this._onCommand(early.command, early.callback));
    }
  }

  /** "554 5.5.0 Error: SMTP protocol synchronization" and the end of the session. */
  private refusePipelining(): void {
    count('smtpd_rejected', label('reason', 'pipelining'));
    this.send(554, '5.5.0 Error: SMTP protocol synchronization');
    this.close();
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    // RFC 3030: BINARYMIME is offered with CHUNKING, which smtpd-bdat.ts implements.
    if (this.ehloReply && code === 250 && Array.isArray(data)) {
      // Postfix's order: REQUIRETLS (offered by the library in TLS sessions) after CHUNKING.
      const requiretls = data.includes('REQUIRETLS');
      data = [...data.filter((k) => k !== 'REQUIRETLS'), 'BINARYMIME', 'CHUNKING', ...(requiretls ? ['REQUIRETLS'] : [])];
    }
    let text = data;
    let ctx = context;
    let closeAfter = false;
    const plain = this.plainNext;
    this.plainNext = false;
    // Refusals the library makes by itself, before any Smtpd handler sees the command.
    if (code === 452 && context === 'TOO_MANY_RECIPIENTS') count('smtpd_rejected', label('reason', 'recipient_limit'));
    else if (code === 552 && typeof text === 'string' && text.startsWith('Error: message exceeds fixed maximum')) count('smtpd_rejected', label('reason', 'size'));
    if (code === 250 && Array.isArray(text) && this.stateRef?.pendingCommand === 'ehlo') text = this.ehloKeywords(text);
    if (typeof text === 'string') {
      const mapped = plain ? { code, text } : (this.postfixText(code, text, ctx) ?? withEnhancedCode(code, text));
      if (mapped) {
        if (mapped.close) closeAfter = true;
        code = mapped.code;
        text = mapped.text;
      }
      if (ENHANCED_CODE_PREFIX.test(text)) ctx = false;
      if (this._server.hooks.softBounce) ({ code, text } = softBounced(code, text));
      // Postfix cuts a refusal to 510 bytes (smtpd_check_reject); every reply line stays within RFC 5321's 512 here.
      if (text.length > MAX_REPLY_TEXT) text = text.slice(0, MAX_REPLY_TEXT);
    }
    const state = this.stateRef;
    if (state) {
      if (code >= 400 && code !== 421 && !state.forgiveReply) state.errorCount++;
      state.forgiveReply = false;
      if (code !== 334 && code !== 354 && state.pendingCommand) {
        const counts = state.commands.get(state.pendingCommand);
        if (counts && code < 400) counts[0]++;
        state.pendingCommand = undefined;
      }
    }
    if (code === 220 && text === 'Ready to start TLS') {
      // The TLS handshake takes the socket over right after this reply: nothing may stay corked.
      while (this._socket.writableCorked > 0) this._socket.uncork();
    }
    super.send(code, text, ctx);
    if (closeAfter) this.close();
  }

  override _onCommand(command: Buffer, callback?: () => void): void {
    const hooks = this._server.hooks;
    if (this._upgrading || this._closing) return super._onCommand(command, callback);
    if (!this._ready) {
      // Before the greeting: _sendGreeting() decides (smtpd_forbid_unauth_pipelining), then runs it.
      this.early = { command, callback };
      return;
    }
    const state = this.state;
    /** The verb of a command smtpd does not know, for the milters (SMFIC_UNKNOWN). */
    let unknownVerb: string | undefined;
    if (!this._nextHandler) {
      const space = command.indexOf(0x20);
      const raw = command.toString('latin1', 0, space < 0 ? command.length : space).toLowerCase();
      const name = KNOWN_COMMANDS.has(raw) ? raw : 'unknown';
      state.lastCommand = name === 'unknown' ? 'UNKNOWN' : name.toUpperCase();
      if (hooks.hardErrorLimit > 0 && state.errorCount >= hooks.hardErrorLimit) {
        hooks.event(this, `too many errors after ${state.lastCommand}`);
        count('smtpd_rejected', label('reason', 'error_limit'));
        this.send(421, `4.7.0 ${hooks.myhostname} Error: too many errors`);
        return;
      }
      if (!isUtf8(command)) {
        // The library decodes commands as UTF-8: invalid bytes would become U+FFFD and another address.
        state.lastCommand = 'UNKNOWN';
        this.countCommand(state, 'unknown');
        this.send(500, '5.5.2 Error: bad UTF-8 syntax');
        this._whenWritable(callback ?? noop);
        return;
      }
      this.countCommand(state, name);
      // Not an empty line, nor an HTTP request (the library ends that session at once, as Postfix's smtpd_forbidden_commands).
      if (name === 'unknown' && raw.trim() !== '' && !HTTP_REQUEST.test(command.toString('latin1'))) {
        unknownVerb = command.toString('utf8', 0, space < 0 ? command.length : space).trim();
      }
      if (name !== 'unknown' && !state.illegalPipelining && (LAST_IN_GROUP.has(name) || !this.esmtp()) && this._parser instanceof SmtpdStream && this._parser.pendingInput()) {
        state.illegalPipelining = true;
        hooks.event(this, `improper command pipelining after ${state.lastCommand}`, escapeBytes(this._parser.pendingBytes(100)));
        if (hooks.forbidUnauthPipelining) return this.refusePipelining();
      }
    }
    if (!hooks.heloRequired && !this.hostNameAppearsAs && !this._nextHandler && ENVELOPE_COMMANDS.has(state.pendingCommand ?? '')) {
      // smtp-server insists on HELO/EHLO first; Postfix does not unless smtpd_helo_required.
      // A blank name passes the library's check and reads as "no HELO" everywhere else.
      this.hostNameAppearsAs = ' ';
      this.session.hostNameAppearsAs = ' ';
    }
    // Postfix's error limits govern, not the library's fixed 10 unrecognized commands.
    this._unrecognizedCommands = 0;
    const sleep = hooks.errorSleepMs > 0 && hooks.softErrorLimit > 0 && state.errorCount >= hooks.softErrorLimit;
    // Postfix counts a junk command past the limit as an error after its reply: it weighs on the next command.
    if (!this._nextHandler && JUNK_COMMANDS.has(state.pendingCommand ?? '') && state.junkCommands++ > hooks.junkCommandLimit) state.errorCount++;
    const run = (): void => (unknownVerb === undefined ? super._onCommand(command, callback) : this.unknownCommand(unknownVerb, command, callback));
    if (sleep) {
      setTimeout(() => {
        if (this._closing || this._closed) return callback?.();
        run();
      }, hooks.errorSleepMs);
      return;
    }
    run();
  }

  /**
   * A command smtpd does not know goes to the milters first, as Postfix's
   * smtpd does (SMFIC_UNKNOWN): their refusal is the reply; otherwise the
   * library answers (500 5.5.2 Error: command not recognized). The next
   * command waits for the answer.
   */
  private unknownCommand(verb: string, command: Buffer, callback?: () => void): void {
    const pending = this._server.hooks.unknownCommand(this, verb);
    if (!pending) return super._onCommand(command, callback);
    pending.then(
      (refusal) => {
        if (this._closing || this._closed) return callback?.();
        if (!refusal) return super._onCommand(command, callback);
        this.send(refusal.responseCode, refusal.message);
        this._whenWritable(callback ?? noop);
      },
      () => super._onCommand(command, callback),
    );
  }

  /** An EHLO session, where MAIL, RCPT and RSET may be pipelined (PIPELINING is always offered). */
  private esmtp(): boolean {
    return this.openingCommand === 'EHLO' && !!this.hostNameAppearsAs && this.hostNameAppearsAs !== ' ';
  }

  /**
   * The EHLO keywords with VRFY (unless disable_vrfy_command) and ETRN after
   * SIZE, where Postfix lists them.
   */
  private ehloKeywords(lines: string[]): string[] {
    const extra = this._server.hooks.vrfyEnabled ? ['VRFY', 'ETRN'] : ['ETRN'];
    const at = lines.findIndex((l) => l.startsWith('SIZE'));
    const out = [...lines];
    out.splice(at < 0 ? out.length : at + 1, 0, ...extra);
    return out;
  }

  private countCommand(state: SessionState, name: string): void {
    const counts = state.commands.get(name) ?? [0, 0];
    counts[1]++;
    state.commands.set(name, counts);
    state.pendingCommand = name;
  }

  /**
   * The library's address parsing, with the domain as the client wrote it
   * (no A-label to U-label conversion); the plain form without parameters
   * is read directly (smtpd-plain-address), to the same result.
   */
  override _parseAddressCommand(rawName: string, rawCommand: Buffer | string): ReturnType<SMTPConnection['_parseAddressCommand']> {
    const line = rawCommand.toString();
    const plain = plainAddressCommand(rawName, line);
    if (plain) return plain;
    const parsed = super._parseAddressCommand(rawName, line) || this.parseLocalPart(rawName, line);
    if (!parsed || !parsed.address) return parsed;
    const written = writtenAddress(line);
    if (written !== undefined) parsed.address = written;
    return parsed;
  }

  /**
   * "<jdoe>": Postfix takes a bare local part (cleanup then appends
   * @$myorigin, per append_at_myorigin); the library wants a domain. The
   * local part is checked by the library's own rules, under a stand-in domain.
   */
  private parseLocalPart(rawName: string, rawCommand: Buffer | string): ReturnType<SMTPConnection['_parseAddressCommand']> {
    const m = /^([^:]*:\s*<)([^<>@\s]+)(>.*)$/s.exec(rawCommand.toString());
    if (!m) return false;
    const parsed = super._parseAddressCommand(rawName, `${m[1]}${m[2]}@local-part.invalid${m[3]}`);
    if (!parsed) return false;
    parsed.address = m[2];
    return parsed;
  }

  override handler_AUTH(command: Buffer, callback: () => void): void {
    this._server.hooks.beforeAuth(this.session).then(
      (refusal) => {
        if (this._closing || this._closed) return callback();
        if (refusal) {
          this.send(refusal.responseCode, refusal.message);
          return callback();
        }
        super.handler_AUTH(command, callback);
      },
      () => {
        this.send(454, '4.7.0 Temporary authentication failure: internal error');
        callback();
      },
    );
  }

  /**
   * MAIL FROM in Postfix's order: a nested MAIL, the command's syntax, the
   * address (a bare one is bracketed unless strict_rfc821_envelopes; a bare
   * local part is taken), then the ESMTP parameters (smtpd-params).
   */
  override handler_MAIL(command: Buffer, callback: () => void): void {
    const hooks = this._server.hooks;
    const refuse = (code: number, text: string): void => {
      this.send(code, text);
      callback();
    };
    if (this.session.envelope.mailFrom) return refuse(503, '5.5.1 Error: nested MAIL command');
    if (this.bdatRef?.active) return refuse(503, '5.5.1 Error: MAIL after BDAT');
    const arg = addressArgument(command.toString(), 'MAIL FROM:');
    if (!arg) return refuse(501, '5.5.4 Syntax: MAIL FROM:<address>');
    if (hooks.strictRfc821 && !hasAngleAddress(command, 'MAIL FROM:')) return refuse(501, '5.1.7 Bad sender address syntax');
    const line = hooks.strictRfc821 ? command : bracketBareAddress(command, 'MAIL FROM:');
    if (!this._parseAddressCommand('mail from', line)) return refuse(501, '5.1.7 Bad sender address syntax');
    const bad = mailParameterError(arg.params, hooks.smtputf8, hooks.requiretls && this.secure);
    if (bad) return refuse(bad.code, bad.text);
    super.handler_MAIL(line, callback);
  }

  /** RFC 3030 BDAT (smtpd-bdat.ts). */
  handler_BDAT(command: Buffer, callback: () => void): void {
    this.bdat.command(command, callback);
  }

  override handler_EHLO(command: Buffer, callback: () => void): void {
    this.ehloReply = true;
    try {
      super.handler_EHLO(command, callback);
    } finally {
      this.ehloReply = false;
    }
  }

  /** The library takes BODY=7BIT and 8BITMIME only; BINARYMIME is offered with CHUNKING. */
  override _validateMailParams(parsed: Parameters<SMTPConnection['_validateMailParams']>[0]): ReturnType<SMTPConnection['_validateMailParams']> {
    const args = parsed.args as Record<string, string | boolean> | false;
    if (args && typeof args.BODY === 'string' && args.BODY.toUpperCase() === 'BINARYMIME') {
      args.BODY = '8BITMIME';
      try {
        return super._validateMailParams(parsed);
      } finally {
        args.BODY = 'BINARYMIME';
      }
    }
    return super._validateMailParams(parsed);
  }

  /** Every reset of the transaction (RSET, EHLO, the end of a message) drops an unfinished BDAT message. */
  override _resetSession(): void {
    super._resetSession();
    this.bdatRef?.reset();
  }

  override _onClose(): void {
    this.bdatRef?.reset();
    super._onClose();
  }

  get bdat(): BdatTransaction {
    if (!this.bdatRef) this.bdatRef = new BdatTransaction(this.bdatHost());
    return this.bdatRef;
  }

  private bdatHost(): BdatHost {
    const hooks = this._server.hooks;
    const state = this.state;
    const parser = (): SmtpdStream | undefined => (this._parser instanceof SmtpdStream ? this._parser : undefined);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the getters below read the connection's current values
    const conn = this;
    return {
      get session() {
        return conn.session;
      },
      sizeLimit: Number(this._server.options.size) || 0,
      get bareNewline() {
        return state.bareNewline;
      },
      get client() {
        return `${state.clientName}[${state.clientAddr}]`;
      },
      send: (code, text) => this.send(code, text),
      close: () => this.close(),
      warn: (text) => hooks.warning(`${state.queueId ?? 'NOQUEUE'}: ${text}`),
      beforeData: () => hooks.beforeData(this.session),
      startMessage: (stream, done) => {
        Object.assign(stream, { byteLength: 0, sizeExceeded: false });
        this._server.onData(stream as unknown as Parameters<SMTPServer['onData']>[0], this.session, done);
      },
      readPayload: (size, sink, complete) => {
        const p = parser();
        if (p) p.readPayload(size, sink, complete);
      },
      awaitingReply: (on) => {
        this._handlerPending = on;
      },
      rejectBareNewline: () => {
        const p = parser();
        if (p) p.isClosed = true;
        this.rejectBareNewline();
      },
      endTransaction: (message) => {
        if (message) {
          this._transactionCounter++;
          this._unrecognizedCommands = 0;
        }
        this._resetSession();
      },
      setMessageBytes: (bytes) => {
        state.bdatBytes = bytes;
      },
    };
  }

  override handler_RSET(command: Buffer, callback: () => void): void {
    if (hasArgument(command)) {
      this.send(501, '5.5.4 Syntax: RSET');
      return callback();
    }
    super.handler_RSET(command, callback);
  }

  /** RCPT TO in Postfix's order: MAIL first, the command's syntax, the address, then NOTIFY and ORCPT. */
  override handler_RCPT(command: Buffer, callback: () => void): void {
    const hooks = this._server.hooks;
    const refuse = (code: number, text: string): void => {
      this.send(code, text);
      callback();
    };
    if (!this.session.envelope.mailFrom) return refuse(503, '5.5.1 Error: need MAIL command');
    if (this.bdatRef?.active) return refuse(503, '5.5.1 Error: RCPT after BDAT');
    const arg = addressArgument(command.toString(), 'RCPT TO:');
    if (!arg) return refuse(501, '5.5.4 Syntax: RCPT TO:<address>');
    if (hooks.strictRfc821 && !hasAngleAddress(command, 'RCPT TO:')) return refuse(501, '5.1.3 Bad recipient address syntax');
    const line = hooks.strictRfc821 ? command : bracketBareAddress(command, 'RCPT TO:');
    const parsed = this._parseAddressCommand('rcpt to', line);
    if (!parsed || !parsed.address) return refuse(501, '5.1.3 Bad recipient address syntax');
    const bad = rcptParameterError(arg.params);
    if (bad) return refuse(bad.code, bad.text);
    super.handler_RCPT(line, callback);
  }

  /** VRFY: Smtpd's answer (disable_vrfy_command, the recipient checks of RCPT TO), sent as it is. */
  override handler_VRFY(command: Buffer, callback: () => void): void {
    this.answer(this._server.hooks.verify(this, commandArgument(command)), callback);
  }

  /** ETRN: Smtpd's answer (fast_flush_domains), sent as it is. */
  handler_ETRN(command: Buffer, callback: () => void): void {
    this.answer(this._server.hooks.etrn(this, commandArgument(command)), callback);
  }

  /** Sends a hook's reply once it comes (a 451 when the hook fails), then takes the next command. */
  private answer(reply: Promise<PlainReply>, callback: () => void): void {
    reply.then(
      (r) => {
        if (this._closing || this._closed) return callback();
        this.sendPlain(r.code, r.text);
        callback();
      },
      () => {
        if (!this._closing && !this._closed) this.send(451, '4.3.0 Error: internal error');
        callback();
      },
    );
  }

  /** A reply exactly as given: no enhanced code added, no text mapped (soft_bounce still applies). */
  sendPlain(code: number, text: string): void {
    this.plainNext = true;
    this.send(code, text, false);
  }

  override handler_DATA(command: Buffer, callback: () => void): void {
    if (this.bdatRef?.active) {
      this.send(503, '5.5.1 Error: DATA after BDAT');
      return callback();
    }
    if (String(this.session.envelope.bodyType).toLowerCase() === 'binarymime') {
      // RFC 3030 section 3: BODY=BINARYMIME content can only be sent with BDAT.
      this.send(503, '5.5.1 Error: BODY=BINARYMIME requires BDAT');
      return callback();
    }
    if (hasArgument(command)) {
      this.send(501, '5.5.4 Syntax: DATA');
      return callback();
    }
    if (!this.session.envelope.rcptTo.length) return super.handler_DATA(command, callback);
    this._server.hooks.beforeData(this.session).then(
      (refusal) => {
        if (this._closing || this._closed) return callback();
        if (refusal) {
          this.send(refusal.responseCode, refusal.message);
          return callback();
        }
        super.handler_DATA(command, callback);
      },
      () => {
        this.send(451, '4.3.0 Error: internal error');
        callback();
      },
    );
  }

  override close(): void {
    if (this.stateRef) this.stateRef.serverClosed = true;
    super.close();
  }

  override _onError(err: Error & { code?: string; remoteAddress?: string }): void {
    if (this.stateRef) this.stateRef.peerLost = true;
    super._onError(err);
  }

  override _onTimeout(): void {
    if (!this._closing && !this._handlerPending && !(this._dataStream && this._parser && !this._parser._dataMode)) {
      this._server.hooks.event(this, `timeout after ${this.stateRef?.lastCommand ?? 'CONNECT'}`);
    }
    super._onTimeout();
  }

  override _createParser(): SMTPStream {
    const parser = new SmtpdStream(this, { maxCommandLength: this._server.options.maxCommandLength });
    parser.setCommandHandler((command: Buffer, callback?: () => void) => this._onCommand(command, callback));
    parser.on('error', (err: Error) => {
      this.send(421, 'Error: ' + err.message);
    });
    return parser;
  }

  /** A bare <LF> arrived while smtpd_forbid_bare_newline = reject. */
  rejectBareNewline(): void {
    this._server.hooks.event(this, `bare <LF> received after ${this.stateRef?.lastCommand ?? 'CONNECT'}`);
    count('smtpd_rejected', label('reason', 'bare_newline'));
    this.send(521, '5.5.2 Error: bare <LF> received');
    this.close();
  }

  /** Maps the library's reply texts to Postfix's. */
  private postfixText(code: number, text: string, context: string | false | undefined): { code: number; text: string; close?: boolean } | undefined {
    const host = this._server.hooks.myhostname;
    switch (code) {
      case 250:
        if (text === 'Accepted' && context === 'MAIL_FROM_OK') return { code, text: '2.1.0 Ok' };
        if (text === 'Accepted' && context === 'RCPT_TO_OK') return { code, text: '2.1.5 Ok' };
        if (text === 'Flushed' || text === 'OK') return { code, text: '2.0.0 Ok' };
        return undefined;
      case 421:
        if (text === 'Timeout - closing connection') return { code, text: `4.4.2 ${host} Error: timeout exceeded` };
        if (text === 'Error: Command line too long') return { code, text: `4.7.0 ${host} Error: command line too long` };
        if (text === 'Server shutting down') return { code, text: `4.3.2 ${host} Error: service shutting down` };
        if (text.endsWith('You talk too soon')) return { code, text: `4.7.0 ${host} Error: you talk too soon` };
        if (text === 'HTTP requests not allowed') return { code: 221, text: '2.7.0 Error: I can break rules, too. Goodbye.', close: true };
        if (text.startsWith('Error: ')) return { code, text: `4.7.0 ${host} ${text}` };
        return undefined;
      case 503:
        if (text === 'Error: need RCPT command') return { code: 554, text: '5.5.1 Error: no valid recipients' };
        if (text === 'Error: No identity changes permitted') return { code, text: '5.5.1 Error: already authenticated' };
        return undefined;
      case 504:
        // Postfix hands the mechanism to Cyrus SASL, which fails an unknown one: no 504.
        if (text === 'Error: Unrecognized authentication type') return { code: 535, text: '5.7.8 Error: authentication failed: no mechanism available' };
        return undefined;
      case 500:
        if (text === 'Error: command not recognized') {
          if (context === 'AUTH') return { code: 503, text: '5.5.1 Error: authentication not enabled' };
          if (context === 'STARTTLS') return { code: 502, text: '5.5.1 Error: command not implemented' };
          return { code: 500, text: '5.5.2 Error: command not recognized' };
        }
        return undefined;
      case 501:
        if (text === 'Error: Bad sender address syntax') return { code, text: '5.1.7 Bad sender address syntax' };
        if (text === 'Error: Bad recipient address syntax') return { code, text: '5.1.3 Bad recipient address syntax' };
        // Postfix's HELO and EHLO syntax replies carry no enhanced status code.
        if (text === 'Error: syntax: EHLO hostname') return { code, text: 'Syntax: EHLO hostname' };
        if (text === 'Error: Syntax: HELO hostname') return { code, text: 'Syntax: HELO hostname' };
        return withEnhancedCode(code, text);
      case 552:
        if (text.startsWith('Error: message exceeds fixed maximum message size')) return { code, text: '5.3.4 Message size exceeds fixed limit' };
        return undefined;
      default:
        return withEnhancedCode(code, text);
    }
  }
}

/**
 * A refusal of the library's own without an enhanced status code gets the
 * one Postfix uses for its class of error (RFC 3463), so every 4xx/5xx
 * reply carries one.
 */
function withEnhancedCode(code: number, text: string): { code: number; text: string; close?: boolean } | undefined {
  if (code < 400 || ENHANCED_CODE_PREFIX.test(text)) return undefined;
  const cls = String(code)[0];
  const detail = code === 501 || code === 504 || code === 555 ? '5.4' : code === 500 || code === 502 ? '5.2' : code === 503 ? '5.1' : code === 421 || code === 451 ? '3.0' : code === 538 ? '7.11' : code === 552 ? '3.4' : '0.0';
  return { code, text: `${cls}.${detail} ${text}` };
}

/** The text after a command's verb ("VRFY a b" -> "a b"), "" when there is none. */
export function commandArgument(command: Buffer): string {
  const line = command.toString().trim();
  const space = line.search(/\s/);
  return space < 0 ? '' : line.slice(space).trim();
}

/** True when a command line has text after its verb (RSET x, DATA x). */
function hasArgument(command: Buffer): boolean {
  return /^\S+\s+\S/.test(command.toString('latin1').trim());
}

/**
 * The command/DATA parser with a look at the raw input first. write() is
 * only called by the socket pipe (the library's own re-entry goes through
 * _write), so each byte is inspected exactly once.
 */
export class SmtpdStream extends SMTPStream {
  private lastWasCR = false;
  private corked = false;
  /** Bytes handed to write() so far, and the first of them (for the pre-greeting log line). */
  received = 0;
  firstBytes: Buffer = Buffer.alloc(0);
  /** Chunks handed to write() that _write() has not taken yet. */
  private readonly queued: Buffer[] = [];
  /** The command-mode text being split into lines: the left-over partial line, then the chunk. */
  private headText = '';
  private chunk: Buffer = Buffer.alloc(0);
  /** Offset of the first byte not yet handed out as a command, in headText + chunk. */
  private cursor = 0;
  /** A BDAT payload being read. */
  private payload?: { remaining: number; sink: (bytes: Buffer) => void; complete: (resume: () => void) => void };

  constructor(
    private readonly conn: SmtpdConnection,
    options: { maxCommandLength?: number },
  ) {
    super(options);
  }

  override write(chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
    if (Buffer.isBuffer(chunk) && !this.isClosed) {
      if (this.firstBytes.length < 100) this.firstBytes = Buffer.concat([this.firstBytes, chunk.subarray(0, 100 - this.firstBytes.length)]);
      this.received += chunk.length;
      this.queued.push(chunk);
    }
    this.corkReplies();
    return (super.write as (c: unknown, e?: unknown, cb?: unknown) => boolean)(chunk, encoding, cb);
  }

  /**
   * Follows which bytes are split into commands, so that pendingInput() can
   * tell what arrived after one; BDAT payload bytes go to their chunk's sink.
   * smtpd_forbid_bare_newline = reject: DATA content is checked here (a
   * command line by its line end, in the command handler; a BDAT payload by
   * its own rule, smtpd-bdat.ts), since one chunk of input may hold
   * commands and a BDAT payload after them.
   */
  override _write(chunk: Buffer, encoding: BufferEncoding | 'buffer', next: (err?: Error | null) => void): void {
    if (this.queued.length > 0 && chunk === this.queued[0]) this.queued.shift();
    if (this.payload && !this.isClosed) return this.feedPayload(chunk, next);
    if (this._dataMode && !this.isClosed && chunk.length > 0 && this.conn.state.bareNewline === 'reject') {
      if (hasBareLF(chunk, this.lastWasCR)) {
        this.isClosed = true;
        this.conn.rejectBareNewline();
        return next();
      }
      this.lastWasCR = chunk[chunk.length - 1] === 0x0d;
    }
    if (!this._dataMode && !this.isClosed) {
      this.headText = this._remainder;
      this.chunk = chunk;
      this.cursor = 0;
    }
    super._write(chunk, encoding, next);
  }

  /**
   * The next `size` bytes of input are a BDAT payload: they go to `sink`,
   * and `complete` runs once all are in, with the continuation that parses
   * what follows them (called once the chunk's reply is out). The library's
   * line loop hands the rest of the current input to _write once it sees
   * data mode.
   */
  readPayload(size: number, sink: (bytes: Buffer) => void, complete: (resume: () => void) => void): void {
    this.payload = { remaining: size, sink, complete };
    this._dataMode = true;
  }

  private feedPayload(chunk: Buffer, next: (err?: Error | null) => void): void {
    const payload = this.payload!;
    const n = Math.min(payload.remaining, chunk.length);
    if (n > 0) {
      payload.remaining -= n;
      payload.sink(n === chunk.length ? chunk : chunk.subarray(0, n));
    }
    if (this.isClosed) return next();
    if (payload.remaining > 0) return next();
    this.payload = undefined;
    this._dataMode = false;
    // Commands after the payload: a line end right after it is not the end of a payload CR.
    this.lastWasCR = false;
    const rest = chunk.subarray(n);
    payload.complete(() => {
      if (rest.length > 0 && !this.isClosed) this._write(rest, 'buffer', next);
      else next();
    });
  }

  /** DATA content: the library's parser, found by native searches (smtpd-data-scan). */
  override _feedDataStream(chunk: Buffer, done: () => void): void {
    feedDataStream(this, chunk, done);
  }

  /** Installs the command handler; each line handed out moves the cursor past it and its line end. */
  setCommandHandler(handler: (command: Buffer, callback?: () => void) => void): void {
    this.oncommand = (command: Buffer, callback?: () => void) => {
      this.cursor += command.length;
      const crlf = this.byteAt(this.cursor) === 0x0d;
      this.cursor += crlf ? 2 : 1;
      // What follows a command line (DATA content) starts after its LF.
      this.lastWasCR = false;
      if (!crlf && this.byteAt(this.cursor - 1) === 0x0a && this.conn.state.bareNewline === 'reject') {
        this.isClosed = true;
        this.conn.rejectBareNewline();
        return;
      }
      handler(command, callback);
    };
  }

  /** True when input beyond the command being handled has arrived (Postfix peeks at its buffer the same way). */
  pendingInput(): boolean {
    return this.headText.length + this.chunk.length > this.cursor || this.queued.length > 0 || this.conn._socket.readableLength > 0;
  }

  /** Up to `max` bytes of the input after the command being handled. */
  pendingBytes(max: number): Buffer {
    const out: number[] = [];
    for (let i = this.cursor; i < this.headText.length + this.chunk.length && out.length < max; i++) out.push(this.byteAt(i));
    const rest = this.queued.length > 0 ? this.queued[0].subarray(0, max - out.length) : Buffer.alloc(0);
    return Buffer.concat([Buffer.from(out), rest]);
  }

  private byteAt(i: number): number {
    return i < this.headText.length ? this.headText.charCodeAt(i) : (this.chunk[i - this.headText.length] ?? -1);
  }

  /**
   * The replies to what one chunk of input holds (pipelined commands, the
   * end of a message) leave in one write instead of one write per reply:
   * the socket is corked until the event loop turns.
   */
  private corkReplies(): void {
    const socket = this.conn._socket;
    if (this.corked || socket.destroyed) return;
    this.corked = true;
    socket.cork();
    setImmediate(() => {
      this.corked = false;
      if (socket.writableCorked > 0) socket.uncork();
    });
  }
}

/**
 * strict_rfc821_envelopes: "MAIL FROM:<a@b>" or "RCPT TO:<a@b>" (parameters
 * may follow); a bare address, or one with text around its brackets, fails.
 * A command that is not `verb` at all is left to the library's own reply.
 */
export function hasAngleAddress(command: Buffer, verb: string): boolean {
  const line = command.toString('latin1');
  if (line.slice(0, verb.length).toUpperCase() !== verb) return true;
  return /^\s*<[^<>]*>(\s|$)/.test(line.slice(verb.length));
}

/**
 * "MAIL FROM:user@example.com SIZE=10" as "MAIL FROM:<user@example.com> SIZE=10":
 * Postfix takes a bare address unless strict_rfc821_envelopes is set. Any
 * other command comes back unchanged.
 */
export function bracketBareAddress(command: Buffer, verb: string): Buffer {
  const line = command.toString('latin1');
  if (line.slice(0, verb.length).toUpperCase() !== verb) return command;
  const m = /^(\s*)([^\s<>]+)(.*)$/s.exec(line.slice(verb.length));
  if (!m) return command;
  return Buffer.from(`${line.slice(0, verb.length)}${m[1]}<${m[2]}>${m[3]}`, 'latin1');
}

/** True when `chunk` holds an LF not preceded by CR (`prevCR`: the byte before the chunk was CR). */
export function hasBareLF(chunk: Buffer, prevCR: boolean): boolean {
  let i = chunk.indexOf(0x0a);
  while (i >= 0) {
    const before = i === 0 ? prevCR : chunk[i - 1] === 0x0d;
    if (!before) return true;
    i = chunk.indexOf(0x0a, i + 1);
  }
  return false;
}


function noop(): void {
  // nothing to resume
}

/**
 * The address of a MAIL FROM or RCPT TO line as the client wrote it: the
 * text between < and >, without a source route; undefined for an address
 * literal, which keeps the library's normalised form.
 */
export function writtenAddress(line: string): string | undefined {
  const colon = line.indexOf(':');
  const arg = line.slice(colon + 1).trim().split(/\s+/)[0] ?? '';
  if (!/^<[^<>]*>$/.test(arg)) return undefined;
  const address = arg.slice(1, -1).replace(/^@[^\s,:@]+(?:,@[^\s,:@]+)*:/, '');
  const at = address.lastIndexOf('@');
  if (at < 0 || address.slice(at + 1).startsWith('[')) return undefined;
  return address;
}

/** Postfix's escape(): printable ASCII as is, C escapes for the usual controls, octal for the rest. */
export function escapeBytes(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) {
    if (b === 0x5c) out += '\\\\';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else if (b === 0x0d) out += '\\r';
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x09) out += '\\t';
    else out += '\\' + b.toString(8).padStart(3, '0');
  }
  return out;
}
