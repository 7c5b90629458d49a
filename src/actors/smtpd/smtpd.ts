/**
 * smtpd: Postrider's SMTP listener as a library (Postfix's smtpd). One Smtpd
 * owns one listening socket (a master.cf inet service) on smtp-server 3.21,
 * with Postfix's parameters, replies and log lines:
 *
 *   connect from NAME[ADDR]
 *   QUEUEID: client=NAME[ADDR]                 (first accepted RCPT)
 *   NOQUEUE: reject: RCPT from NAME[ADDR]: 554 5.7.1 ...; from=<s> to=<r> proto=ESMTP helo=<h>
 *   disconnect from NAME[ADDR] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
 *   (commands=0/0 when there was none; "lost connection after CMD from
 *   NAME[ADDR]" first when the client left without QUIT)
 *
 * A message is acknowledged with "250 2.0.0 Ok: queued as QUEUEID" only
 * after submit() resolved ok; a 4xx store failure answers "451 4.3.0 Error:
 * queue file write error", a 5xx refusal its own reply. The queue id is
 * allocated at MAIL FROM, once the queue file system has room (queue_minfree
 * and 1.5 x message_size_limit; else "452 4.3.1 Insufficient system
 * storage"). With soft_bounce every 5xx reply goes out, and is logged, as
 * 4xx. smtpd_tls_wrappermode speaks TLS from the first byte; the TLS
 * versions follow smtpd_tls_protocols (smtpd_tls_mandatory_protocols when
 * TLS is mandatory). EHLO offers PIPELINING, SIZE, 8BITMIME, SMTPUTF8
 * (smtputf8_enable), ENHANCEDSTATUSCODES, DSN, STARTTLS (with a certificate
 * and smtpd_tls_security_level may/encrypt) and AUTH PLAIN LOGIN
 * (smtpd_sasl_auth_enable; only after STARTTLS while smtpd_tls_auth_only =
 * yes, Postrider's default; neither when smtpd_sasl_security_options, or
 * smtpd_sasl_tls_security_options in a TLS session, rules out plaintext
 * mechanisms), and CHUNKING with BINARYMIME (RFC 3030; smtp-server has no
 * BDAT, smtpd-bdat.ts adds it: a BDAT message takes the same path as DATA).
 * smtpd_helo_required (default no) is honoured.
 *
 * Per-client limits go through the anvil (smtpd-anvil.ts): connection
 * count and rate, messages (450 4.7.1 Error: too much mail from ADDR),
 * recipients (450 4.7.1 Error: too many recipients from ADDR) and AUTH
 * commands (450 4.7.1 Error: too many AUTH commands from ADDR) per
 * anvil_rate_time_unit, except for smtpd_client_event_limit_exceptions.
 * Recipients past smtpd_recipient_limit get 452 4.5.3 and count as errors
 * only past smtpd_recipient_overshoot_limit; the accepted ones keep the
 * message. A non-ASCII envelope address needs SMTPUTF8 on MAIL FROM (553
 * 5.6.7). A failed AUTH costs the same scrypt run whether the user exists
 * or not (global/sasl-passwd.ts). A message that outgrows
 * message_size_limit in DATA gets "552 5.3.4 Error: message file too big".
 *
 * VRFY answers as Postfix's: "502 5.5.1 VRFY command is disabled" with
 * disable_vrfy_command, else the RCPT TO checks on the address (the same
 * refusals, logged as "reject: VRFY") and "252 2.0.0 ARGUMENT". ETRN (RFC
 * 1985) flushes the deferred mail of a site in fast_flush_domains ("250
 * Queuing started"); any other site gets "459 <SITE>: service unavailable".
 * With the `resolve` option (the daemon's trivial-rewrite), a recipient
 * routed to the error or retry transport is refused at RCPT with that
 * route's text, as Postfix's smtpd does, instead of bouncing later.
 *
 * Errors: hostile input gets a reply and the session goes on or ends; socket
 * and server errors are logged, never thrown; listen() rejects with the
 * bind error.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { SMTPServerAddress, SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerDataStream, SMTPServerOptions, SMTPServerSession } from 'smtp-server/lib/types.js';
import type { MasterService } from '../../config/config-types.js';
import { parseInetListen } from '../../config/inet-listen.js';
import { SESSION_CAP_SLACK } from '../../runtime/control-messages.js';
import type { MainConfig } from '../../config/main-config.js';
import type { SubmitOutcome } from '../../cleanup/cleanup-submit.js';
import { QueueIdGenerator } from '../../store/store-queue-id.js';
import { decodeOrcpt } from '../../global/dsn-xtext.js';
import type { DsnNotify, NewMessage, RecipientSpec } from '../../store/store-types.js';
import type { ResolvedAddress } from '../../protocol/protocol.js';
import { compileDomainList, type DomainMatcher } from '../../config/access-lookup.js';
import type { Logger } from '../../util/log.js';
import { count, label } from '../../util/metrics-counters.js';
import { smtpError, softBounced, type SmtpReplyError } from '../../util/smtp-reply.js';
import { COMMAND_ORDER, SmtpdConnection, SmtpdServer, type ConnectionHooks, type PlainReply, type SessionState } from './smtpd-connection.js';
import { etrnArgument, vrfyArgument } from './smtpd-verbs.js';
import { MemoryAnvil, type Anvil } from './smtpd-anvil.js';
import { SmtpdDns } from './smtpd-dns.js';
import { MessageCollector } from './smtpd-message.js';
import { SmtpdPolicy, type MessageActions, type PolicyContext, type PolicySessionAttributes, type PolicyVerdict } from './smtpd-policy.js';
import type { ReceiveOverrideOptions } from '../../config/content-filter.js';
import { randomBytes } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { SpoolFile } from '../../store/store-spool.js';
import { dummyHash, verifyLogin } from '../../global/sasl-passwd.js';
import { readSmtpdSettings, type SmtpdSettings } from './smtpd-settings.js';
import { QueueSpace } from './smtpd-queue-space.js';
import { SmtpdMilters, verdictRefusal } from './smtpd-milter.js';
import { cipherBits } from '../../global/tls-cipher-bits.js';
import type { MilterSession, MilterVerdict } from '../../global/milter-session.js';
import { readMilterSettings, type MilterSettings } from '../../config/milter-settings.js';
import { SmtpdAuth, type AuthOutcome } from './smtpd-auth.js';
import type { AuthResultsInput } from '../../cleanup/cleanup-types.js';
import type { Maybe } from '../../util/maybe.js';

/**
 * One received message, handed to cleanup: the queue's own message fields
 * (content is headers + body exactly as received after un-dot-stuffing,
 * CRLF line ends) plus what only the SMTP session knows.
 */
export type SmtpdSubmission = Pick<
  NewMessage,
  'queueId' | 'arrivalTime' | 'sender' | 'recipients' | 'envid' | 'ret' | 'smtputf8' | 'bodyType' | 'requiretls' | 'client' | 'content'
> & {
  heloName?: string;
  /** "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)": the Received header's TLS line (smtpd_tls_received_header). */
  tlsInfo?: string;
  /** The AUTH user for the Received header's "(Authenticated sender: ...)" line (smtpd_sasl_authenticated_header). */
  authenticatedSender?: string;
  /** What access results and policy servers asked of the message (HOLD, DISCARD, FILTER, REDIRECT, BCC, PREPEND). */
  actions?: MessageActions;
  /** content_filter of the receiving service, when set (a FILTER action overrides it). */
  contentFilter?: string;
  /** receive_override_options of the receiving service: what cleanup leaves out. */
  receiveOverride?: ReceiveOverrideOptions;
  /** The session's milters (smtpd_milters): cleanup runs their content steps. */
  milters?: MilterSession;
  /** smtpd_authentication_results: what was verified, for cleanup's Authentication-Results header and ARC seal. */
  authResults?: AuthResultsInput;
  /** Queue on hold: a milter's quarantine, or reject_dmarc_policy for p=quarantine (each logged where it was decided). */
  hold?: boolean;
  /** A message past message_spool_threshold: its bytes are in this spool file (synced), and content is empty. */
  spooled?: SpooledMessage;
  /** Every line end of content is CRLF already (the collector normalised it): cleanup does not scan it again. */
  crlf?: boolean;
};

/** A message received into a spool file: the file and its length. */
export interface SpooledMessage {
  path: string;
  length: number;
}

/** What DATA or BDAT received: the bytes, or (a large message) its spool file. */
interface Received {
  content: Buffer;
  /** The collector turned every bare LF of `content` into CRLF (all but BODY=BINARYMIME). */
  crlf?: boolean;
  spooled?: SpooledMessage;
}

const EMPTY = Buffer.alloc(0);
/** Unwritten spool bytes at which a session stops reading, and at which it reads again. */
const SPOOL_PENDING_HIGH = 1024 * 1024;
const SPOOL_PENDING_LOW = 256 * 1024;

/** What cleanup/the store said about a submission (the queue's one answer type). */
export type SubmitResult = SubmitOutcome;

export interface SmtpdOptions {
  /** main.cf with this service's -o overrides applied. */
  config: MainConfig;
  /** name is the listen address: "127.0.0.1:2525", "2525", "smtp", "[::1]:25". */
  service: MasterService;
  log: Logger;
  /** The queue-id salt this thread alone holds (ActorContext.idSalt); queue ids are allocated at MAIL FROM. */
  idSalt: number;
  submit: (s: SmtpdSubmission) => Promise<SubmitResult>;
  /** The client counters; by default this Smtpd's own (MemoryAnvil). Several Smtpds may share one (the anvil actor: RemoteAnvil). */
  anvil?: Anvil;
  /**
   * Listen with the option reusePort, so the other threads of this service
   * bind the same address and the kernel spreads connections over them.
   */
  reusePort?: boolean;
  /** Threads serving this service (default 1): an explicit smtpd_session_limit is shared out among them. */
  threads?: number;
  /**
   * The most connections the listener holds at once; more are closed on
   * arrival, unanswered (what keeps descriptors in reserve for the rest of
   * the process: the supervisor's sessionCapFromFdLimit plus its slack).
   */
  connectionLimit?: number;
  /**
   * The address resolution qmgr uses (the trivial-rewrite service): at RCPT
   * and VRFY a recipient whose transport is error or retry is refused, and
   * the recipient tables of its address class apply. Without it smtpd
   * classifies by mydestination and the domain lists itself.
   */
  resolve?: (address: string) => Maybe<ResolvedAddress>;
  /**
   * ETRN: makes the deferred mail for a site due now (qmgr's flush of that
   * destination). Without it ETRN gets "458 Unable to queue messages".
   */
  flush?: (site: string) => Promise<void>;
}

/** Error codes of Smtpd's own failures. */
export class SmtpdError extends Error {
  constructor(
    readonly code: 'ERR_SMTPD_LISTEN' | 'ERR_SMTPD_CONFIG',
    message: string,
  ) {
    super(message);
  }
}

const BASE_DISABLED = ['HELP', 'XCLIENT', 'XFORWARD', 'WIZ', 'SHELL', 'KILL'];

export class Smtpd {
  readonly settings: SmtpdSettings;
  private readonly log: Logger;
  private readonly submitFn: (s: SmtpdSubmission) => Promise<SubmitResult>;
  private readonly service: MasterService;
  private readonly config: MainConfig;
  private readonly server: SmtpdServer;
  private readonly dns: SmtpdDns;
  private readonly policy: SmtpdPolicy;
  /** SPF, DKIM, DMARC, ARC verification. */
  private readonly auth: SmtpdAuth;
  private readonly anvil: Anvil;
  private readonly space: QueueSpace;
  private readonly queueIds: QueueIdGenerator;
  private readonly flushFn?: (site: string) => Promise<void>;
  /** trivial-rewrite's resolution: the route checks of RCPT and the milter macros {mail_host}, {rcpt_mailer} ... */
  private readonly resolveFn?: (address: string) => Maybe<ResolvedAddress>;
  /** fast_flush_domains: the sites ETRN flushes. */
  private readonly fastFlush: DomainMatcher;
  private readonly states = new WeakMap<SMTPServerSession, SessionState>();
  /** The ticket anvil counted a session's connection under (its disconnect names it). */
  private readonly anvilTickets = new WeakMap<SessionState, number>();
  private readonly disabled: string[];
  private readonly tlsReady: boolean;
  /** smtpd_milters (none under receive_override_options = no_milters). */
  private readonly milterSettings: MilterSettings;
  private readonly milters = new WeakMap<SessionState, SmtpdMilters>();
  private readonly reusePort: boolean;
  private counters = { sessions: 0, accepted: 0, rejected: 0, active: 0 };
  /** Messages given a policy instance so far (part of the instance value). */
  private instanceCount = 0;
  private idleWaiters: Array<() => void> = [];
  private draining = false;
  /** Set at the drain deadline: sessions still open are being ended. */
  private closing = false;
  /** Sessions whose message is being queued: they hear the outcome before any 421. */
  private readonly inFlight = new Set<SMTPServerSession>();
  /** Sessions told 421 at the deadline: a message they finish sending is not queued (the client retries it). */
  private readonly shut = new WeakSet<SMTPServerSession>();

  constructor(opts: SmtpdOptions) {
    this.config = opts.config;
    this.log = opts.log;
    this.service = opts.service;
    this.submitFn = opts.submit;
    this.settings = readSmtpdSettings(opts.config);
    const s = this.settings;
    this.dns = new SmtpdDns(s.dnsServers);
    this.policy = new SmtpdPolicy(s, opts.config.dir, this.dns, this.log, opts.resolve);
    this.flushFn = opts.flush;
    this.resolveFn = opts.resolve;
    try {
      this.fastFlush = compileDomainList(s.fastFlushDomains, opts.config.dir, s.fastFlushSubdomains);
    } catch (err) {
      this.log.warning(`fast_flush_domains: ${(err as Error).message}; ETRN flushes no site`);
      this.fastFlush = { match: () => false };
    }
    this.auth = new SmtpdAuth(s.dnsServers, s.authservId, this.log);
    if (s.authResults || this.policy.usesSpf || this.policy.usesDmarc) this.auth.warm();
    this.anvil = opts.anvil ?? new MemoryAnvil(s.rateTimeUnitMs);
    this.reusePort = opts.reusePort ?? false;
    this.space = new QueueSpace(s.queueDirectory, s.queueMinfree, s.messageSizeLimit, this.log);
    this.queueIds = new QueueIdGenerator(opts.idSalt);
    try {
      this.milterSettings = readMilterSettings(opts.config, 'smtpd');
    } catch (err) {
      throw new SmtpdError('ERR_SMTPD_CONFIG', (err as Error).message);
    }

    let key: Buffer | undefined;
    let cert: Buffer | undefined;
    if (s.tlsLevel !== 'none' || s.tlsWrapperMode) {
      try {
        key = readFileSync(s.tlsKeyFile);
        cert = readFileSync(s.tlsCertFile);
      } catch (err) {
        this.log.warning(`cannot load TLS certificate or key (smtpd_tls_cert_file, smtpd_tls_key_file): ${(err as Error).message}; TLS disabled`);
      }
    }
    this.tlsReady = !!(key && cert);
    if (s.tlsWrapperMode && !this.tlsReady) throw new SmtpdError('ERR_SMTPD_CONFIG', 'smtpd_tls_wrappermode = yes requires a readable smtpd_tls_cert_file and smtpd_tls_key_file');
    this.disabled = [...BASE_DISABLED];
    if (!this.tlsReady || s.tlsWrapperMode) this.disabled.push('STARTTLS');
    if (!s.saslEnable) this.disabled.push('AUTH');
    if (s.saslEnable) {
      // Made now, so that the first login for an unknown user does not pay for it (and show it).
      dummyHash();
      if (!s.saslPlaintext && !(this.tlsReady && s.saslTlsPlaintext)) {
        this.log.warning(`smtpd_sasl_security_options rule out PLAIN and LOGIN, the only mechanisms there are: service ${opts.service.name} offers no AUTH`);
      }
    }

    const hooks: ConnectionHooks = {
      greetWaitMs: s.greetWaitMs,
      banner: s.banner,
      myhostname: s.myhostname,
      softErrorLimit: s.softErrorLimit,
      hardErrorLimit: s.hardErrorLimit,
      errorSleepMs: s.errorSleepMs,
      heloRequired: s.heloRequired,
      junkCommandLimit: s.junkCommandLimit,
      forbidUnauthPipelining: s.forbidUnauthPipelining,
      sessionLimit: this.sessionLimit(opts),
      sessionRefused: (socket) => this.sessionRefused(socket.remoteAddress ?? 'unknown', socket.remotePort ?? 0),
      // The connection knows the client from the start; the session only once it is ready (early input needs the state sooner).
      sessionState: (conn) => this.stateOf(conn.session, conn.remoteAddress, conn.remotePort),
      softBounce: s.softBounce,
      strictRfc821: s.strictRfc821,
      smtputf8: s.smtputf8,
      requiretls: s.requiretls,
      vrfyEnabled: !s.disableVrfy,
      verify: (conn, argument) => this.verify(conn.session, argument),
      etrn: (conn, argument) => this.etrn(conn.session, argument),
      beforeData: (session) => this.beforeData(session),
      beforeAuth: (session) => this.beforeAuth(session),
      unknownCommand: (conn, verb) => this.unknownCommand(conn.session, verb),
      event: (conn, text, detail) => this.log.info(`${text} from ${conn.state.clientName}[${conn.state.clientAddr}]${detail === undefined ? '' : `: ${detail}`}`),
      warning: (text) => this.log.warning(text),
    };
    const options: SMTPServerOptions = {
      name: s.myhostname,
      heloResponse: '%s',
      logger: false,
      disableReverseLookup: true,
      hideENHANCEDSTATUSCODES: false,
      hideDSN: false,
      hidePIPELINING: false,
      hide8BITMIME: false,
      hideSMTPUTF8: !s.smtputf8,
      // requiretls_enable: the library offers REQUIRETLS in TLS sessions only, as Postfix.
      hideREQUIRETLS: !s.requiretls,
      hideSTARTTLS: !this.tlsReady || s.tlsWrapperMode,
      secure: s.tlsWrapperMode,
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: true,
      allowInsecureAuth: true,
      disabledCommands: this.disabled,
      size: s.messageSizeLimit > 0 ? s.messageSizeLimit : undefined,
      socketTimeout: s.timeoutMs,
      onConnect: (session, cb) => this.guard(this.onConnect(session, cb), cb, 421),
      onSecure: (socket, session, cb) => {
        const version = (socket as { getProtocol?: () => string | null }).getProtocol?.() ?? 'unknown';
        count('smtpd_tls_handshakes', label('version', version || 'unknown'));
        this.onSecure(session, cb);
      },
      onAuth: (auth, session, cb) => this.guard(this.onAuth(auth, session, cb), cb, 454),
      onMailFrom: (address, session, cb) => this.guard(this.onMailFrom(address, session, cb), cb, 451),
      onRcptTo: (address, session, cb) => this.guard(this.onRcptTo(address, session, cb), cb, 451),
      onData: (stream, session, cb) => this.onData(stream, session, cb),
      onClose: (session) => this.onClose(session),
    };
    if (this.tlsReady) {
      options.key = key;
      options.cert = cert;
      options.minVersion = s.tlsVersions.minVersion;
      options.maxVersion = s.tlsVersions.maxVersion;
    }
    this.server = new SmtpdServer(options, hooks);
    let descriptorsWarned = 0;
    // Out of descriptors: the connection is lost, the listener serves on; said once a minute, not per connection.
    const outOfDescriptors = (text: string): void => {
      if (Date.now() - descriptorsWarned < 60_000) return;
      descriptorsWarned = Date.now();
      this.log.warning(text);
    };
    this.server.on('error', (err: NodeJS.ErrnoException & { remoteAddress?: string }) => {
      const who = err.remoteAddress ? ` from [${err.remoteAddress}]` : '';
      // A reset or broken pipe is logged when the session closes: "lost connection after CMD from NAME[ADDR]".
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
      if (err.code === 'EMFILE' || err.code === 'ENFILE') outOfDescriptors(`smtpd: cannot accept a connection: ${err.message}`);
      else this.log.warning(`smtpd${who}: ${err.message}`);
    });
    if (opts.connectionLimit !== undefined) {
      const limit = opts.connectionLimit;
      this.server.server.maxConnections = limit;
      this.server.server.on('drop', (d?: { remoteAddress?: string }) => {
        this.counters.rejected++;
        count('smtpd_rejected', label('reason', 'descriptor_limit'));
        count('smtpd_connections_refused', label('reason', 'descriptor_limit'));
        outOfDescriptors(`connection from [${d?.remoteAddress ?? 'unknown'}] dropped: ${limit} connections, the most the open-file limit leaves room for`);
      });
    }
  }

  /** Starts listening on the service's address; resolves with the bound address and port. */
  listen(): Promise<{ address: string; port: number }> {
    const { host, port } = parseListenAddress(this.service.name, this.config);
    return new Promise((resolve, reject) => {
      const net = this.server.server;
      const onError = (err: Error): void => {
        net.removeListener('listening', onListening);
        reject(new SmtpdError('ERR_SMTPD_LISTEN', `bind ${this.service.name}: ${err.message}`));
      };
      const onListening = (): void => {
        net.removeListener('error', onError);
        const a = net.address() as AddressInfo;
        resolve({ address: a.address, port: a.port });
      };
      net.once('error', onError);
      net.once('listening', onListening);
      // reusePort only where every thread of the service sets it (the kernel requires all to), so another program's bind still fails.
      if (this.reusePort) net.listen({ port, host, reusePort: true });
      else this.server.listen(port, host);
    });
  }

  /**
   * Stops accepting connections and waits for the sessions in progress to
   * end; after `timeoutMs` the remaining ones get "421 4.3.2 ... service
   * shutting down" and are closed, except that a session whose message is
   * being queued first gets that message's reply (a 250 for mail that is
   * queued, never a 4xx the client would retry into a duplicate).
   */
  async drain(timeoutMs = 10000): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => {
      if (!this.server.server.listening) return resolve();
      this.server.server.close(() => resolve());
    });
    if (this.counters.active > 0) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([idle, late]);
      clearTimeout(timer);
      this.closeAll();
    }
    await closed;
  }

  /** Closes the listener and every session at once (421 to each). */
  async close(): Promise<void> {
    await this.drain(0);
    this.policy.close();
  }

  /** Sessions so far, messages accepted, and refusals (RCPT, DATA, connection limits). */
  stats(): { sessions: number; accepted: number; rejected: number; active: number } {
    return { ...this.counters };
  }

  /** A handler that failed unexpectedly answers a 4xx and logs; it never becomes an unhandled rejection. */
  private guard(work: Promise<void>, cb: (err?: Error | null) => void, code: 421 | 451 | 454): void {
    work.catch((err: Error) => {
      this.log.warning(`smtpd internal error: ${err.message}`);
      const text = code === 421 ? `${this.settings.myhostname} Error: internal error` : 'Error: internal error';
      try {
        cb(smtpError(code, code === 454 ? '4.7.0' : '4.3.0', text));
      } catch {
        // the session is gone already
      }
    });
  }

  private closeAll(): void {
    this.closing = true;
    for (const conn of this.server.connections) {
      if (!this.inFlight.has(conn.session)) this.endSession(conn);
    }
  }

  /** 421 4.3.2 and the end of the session (the drain deadline has passed). */
  private endSession(conn: SMTPConnection): void {
    if (this.shut.has(conn.session)) return;
    this.shut.add(conn.session);
    conn.send(421, 'Server shutting down');
    const socket = conn._socket;
    setTimeout(() => socket.destroy(), 200).unref();
  }

  /** After a message's reply: a session past the drain deadline ends now. */
  private afterSubmission(session: SMTPServerSession): void {
    this.inFlight.delete(session);
    if (!this.closing) return;
    for (const conn of this.server.connections) if (conn.session === session) this.endSession(conn);
  }

  /**
   * smtpd_session_limit, or when it is empty the supervisor's share of the
   * open-file limit for this listener (it divides the limit among every
   * service and thread); this thread's own estimate only when the
   * supervisor has none.
   */
  private sessionLimit(opts: SmtpdOptions): number {
    const set = this.config.has('smtpd_session_limit') && this.config.get('smtpd_session_limit').trim() !== '';
    if (!set && opts.connectionLimit !== undefined) return Math.max(1, opts.connectionLimit - SESSION_CAP_SLACK);
    const limit = this.settings.sessionLimit;
    // The service's limit, each thread holding its share (the kernel spreads connections evenly enough).
    const threads = Math.max(1, opts.threads ?? 1);
    return limit > 0 ? Math.ceil(limit / threads) : limit;
  }

  private stateOf(session: SMTPServerSession, addr = session.remoteAddress, port = session.remotePort): SessionState {
    let state = this.states.get(session);
    if (!state) {
      state = {
        clientName: 'unknown',
        clientAddr: addr,
        clientPort: port,
        bareNewline: this.settings.bareNewline,
        errorCount: 0,
        junkCommands: 0,
        rcptOvershoot: 0,
        forgiveReply: false,
        illegalPipelining: false,
        rateExempt: false,
        commands: new Map(),
        clientLogged: false,
        admitted: false,
        connected: false,
      };
      this.states.set(session, state);
    }
    return state;
  }

  private async onConnect(session: SMTPServerSession, cb: (err?: Error | null) => void): Promise<void> {
    const state = this.stateOf(session);
    state.connected = true;
    this.counters.sessions++;
    this.counters.active++;
    count('smtpd_connections');
    const s = this.settings;
    try {
      state.clientName = await this.dns.clientName(state.clientAddr);
    } catch {
      state.clientName = 'unknown';
    }
    const client = `${state.clientName}[${state.clientAddr}]`;
    this.log.info(`connect from ${client}`);
    if (this.draining) return cb(smtpError(421, '4.3.2', `${s.myhostname} Error: service shutting down`));
    state.rateExempt = this.policy.eventLimitExceptions.match(state.clientName, state.clientAddr);
    // As Postfix: anvil is asked only when a connection limit is set.
    if (!state.rateExempt && (s.connectionCountLimit > 0 || s.connectionRateLimit > 0)) {
      // As Postfix: every connection is counted (and later released), the refused ones too.
      const counted = await this.anvil.connect(this.service.name, state.clientAddr);
      const { count: open, rate } = counted;
      state.admitted = counted.counted !== false;
      state.connectionCount = open;
      if (counted.ticket !== undefined) this.anvilTickets.set(state, counted.ticket);
      const over =
        s.connectionCountLimit > 0 && open > s.connectionCountLimit
          ? (['Connection concurrency limit exceeded', open, 'connection_limit'] as const)
          : s.connectionRateLimit > 0 && rate > s.connectionRateLimit
            ? (['Connection rate limit exceeded', rate, 'connection_rate'] as const)
            : undefined;
      if (over) {
        this.log.warning(`${over[0]}: ${over[1]} from ${client} for service ${this.service.name}`);
        this.counters.rejected++;
        count('smtpd_rejected', label('reason', over[2]));
        count('smtpd_connections_refused', label('reason', over[2]));
        return cb(smtpError(421, '4.7.0', `${s.myhostname} Error: too many connections from ${state.clientAddr}`));
      }
    }
    if (s.bareNewline === 'reject' && this.policy.bareNewlineExclusions.match(state.clientName, state.clientAddr)) {
      state.bareNewline = 'normalize';
    }
    session.disabledCommands = this.disabledFor(session);
    if (this.milterSettings.milters.length > 0) {
      const m = new SmtpdMilters(this.milterSettings, session, state, s.myhostname, this.log, this.resolveFn);
      this.milters.set(state, m);
      const { refusal, verdict } = await m.connect();
      if (verdict) this.logMilter(verdict, 'CONNECT', state, session);
      if (refusal) {
        this.counters.rejected++;
        count('smtpd_rejected', MILTER_REASON);
        return cb(refusal);
      }
    }
    cb();
  }

  /** Postfix's check_milter_reply line: milter-reject, milter-hold or milter-discard, with the command and the envelope so far. */
  private logMilter(v: MilterVerdict, command: string, state: SessionState, session: SMTPServerSession, recipient?: string, sender?: string): void {
    const refusal = verdictRefusal(v);
    if (refusal) return this.logReject('milter-reject', command, refusal, state, session, recipient, sender);
    const text = v.action === 'hold' ? v.reason || 'milter triggers HOLD action' : 'milter triggers DISCARD action';
    this.logReject(v.action === 'hold' ? 'milter-hold' : 'milter-discard', command, text, state, session, recipient, sender);
  }

  /** A milter's refusal of a command, logged and counted; undefined when the milters let it pass. */
  private milterRefusal(v: MilterVerdict | undefined, command: string, state: SessionState, session: SMTPServerSession, recipient?: string, sender?: string): SmtpReplyError | undefined {
    if (!v) return undefined;
    this.logMilter(v, command, state, session, recipient, sender);
    const refusal = verdictRefusal(v);
    if (refusal) {
      this.counters.rejected++;
      count('smtpd_rejected', MILTER_REASON);
    }
    return refusal;
  }

  /**
   * An SMTP command smtpd does not know, for the milters (SMFIC_UNKNOWN):
   * their refusal is the reply, logged as "milter-reject: UNKNOWN from ...";
   * undefined (at once, without milters) leaves Postfix's "500 5.5.2 Error:
   * command not recognized".
   */
  private unknownCommand(session: SMTPServerSession, verb: string): Promise<SmtpReplyError | undefined> | undefined {
    const state = this.stateOf(session);
    const milters = this.milters.get(state);
    // A milter that failed answers with its default action here too, as in Postfix.
    if (!milters) return undefined;
    return milters.unknown(verb).then((v) => this.milterRefusal(v, 'UNKNOWN', state, session));
  }

  private onSecure(session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    session.disabledCommands = this.disabledFor(session);
    cb();
  }

  /**
   * AUTH is not offered before TLS while smtpd_tls_auth_only = yes (as
   * Postfix), nor where the SASL security options (smtpd_sasl_tls_security_options
   * in a TLS session) leave no mechanism: PLAIN and LOGIN are plaintext ones.
   */
  private disabledFor(session: SMTPServerSession): string[] {
    const s = this.settings;
    if (!s.saslEnable) return this.disabled;
    const plaintext = session.secure ? s.saslTlsPlaintext : s.saslPlaintext;
    if ((s.tlsAuthOnly && !session.secure) || !plaintext) return [...this.disabled, 'AUTH'];
    return this.disabled;
  }

  /** A connection beyond smtpd_session_limit (refused before any session state; postscreen's log line). */
  private sessionRefused(addr: string, port: number): void {
    this.counters.rejected++;
    count('smtpd_rejected', label('reason', 'session_limit'));
    count('smtpd_connections_refused', label('reason', 'session_limit'));
    this.log.info(`NOQUEUE: reject: CONNECT from [${addr.replace(/^::ffff:/i, '')}]:${port}: all server ports busy`);
  }

  /**
   * One event of a rate that anvil counts for this client (never for the
   * exempt ones): the refusal once over `limit`, logged as Postfix does.
   */
  private async overRate(state: SessionState, limit: number, event: 'mail' | 'rcpt' | 'auth', reply: string, what: string): Promise<SmtpReplyError | undefined> {
    if (limit <= 0 || state.rateExempt) return undefined;
    const rate = await this.anvil[event](this.service.name, state.clientAddr);
    if (rate <= limit) return undefined;
    this.log.warning(`${what} rate limit exceeded: ${rate} from ${state.clientName}[${state.clientAddr}] for service ${this.service.name}`);
    this.counters.rejected++;
    count('smtpd_rejected', label('reason', `${event}_rate`));
    return smtpError(450, '4.7.1', `Error: too ${reply} from ${state.clientAddr}`);
  }

  /** smtpd_client_auth_rate_limit, before the mechanism runs. */
  private beforeAuth(session: SMTPServerSession): Promise<SmtpReplyError | undefined> {
    return this.overRate(this.stateOf(session), this.settings.authRateLimit, 'auth', 'many AUTH commands', 'AUTH command');
  }

  private async onAuth(
    auth: SMTPServerAuthentication,
    session: SMTPServerSession,
    cb: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void,
  ): Promise<void> {
    const state = this.stateOf(session);
    const method = auth.method;
    const user = auth.username ?? '';
    let ok = false;
    if ((method === 'PLAIN' || method === 'LOGIN') && typeof auth.password === 'string') {
      let tableError = false;
      const lookup = (name: string): string | undefined => {
        if (!name) return undefined;
        for (const spec of this.settings.saslPasswordMaps) {
          try {
            const hash = this.policy.table(spec)?.get(name);
            if (hash !== undefined) return hash;
          } catch {
            tableError = true;
          }
        }
        return undefined;
      };
      ok = await verifyLogin(lookup, user, auth.password);
      if (tableError && !ok) {
        this.log.warning(`${state.clientName}[${state.clientAddr}]: SASL ${method} authentication failed: table lookup error`);
        return cb(smtpError(454, '4.7.0', 'Temporary authentication failure: table lookup error'));
      }
    }
    if (!ok) {
      count('smtpd_sasl_authentications', SASL_FAILURE);
      this.log.warning(`${state.clientName}[${state.clientAddr}]: SASL ${method} authentication failed: authentication failure`);
      return cb(smtpError(535, '5.7.8', 'Error: authentication failed: authentication failure'));
    }
    state.saslMethod = method;
    count('smtpd_sasl_authentications', SASL_SUCCESS);
    cb(null, { user });
  }

  private async onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void): Promise<void> {
    const state = this.stateOf(session);
    const s = this.settings;
    if (s.tlsLevel === 'encrypt' && !session.secure) return cb(smtpError(530, '5.7.0', 'Must issue a STARTTLS command first'));
    const args = (address.args || {}) as Record<string, string | boolean>;
    if (args.SMTPUTF8 !== undefined && !s.smtputf8) return cb(smtpError(555, '5.5.4', 'Unsupported option: SMTPUTF8'));
    const tooMuch = await this.overRate(state, s.messageRateLimit, 'mail', 'much mail', 'Message delivery request');
    if (tooMuch) return cb(tooMuch);
    if (args.SMTPUTF8 !== true && NON_ASCII.test(address.address)) return cb(UNDECLARED_SMTPUTF8);
    const space = await this.space.check();
    if (!space.ok) {
      const refusal = smtpError(452, '4.3.1', 'Insufficient system storage');
      this.counters.rejected++;
      count('smtpd_rejected', label('reason', 'queue_space'));
      this.logReject('reject', 'MAIL', refusal, state, session, undefined, address.address);
      this.log.warning(`not enough free space in mail queue: ${space.free} bytes < ${space.need} bytes (queue_minfree, or 1.5*message_size_limit)`);
      return cb(refusal);
    }
    state.queueId = this.queueIds.next();
    // SPF is decided at MAIL FROM, where the identity is given; restrictions and the header wait for it.
    state.spf = s.authResults || this.policy.usesSpf ? this.auth.spf({ ip: state.clientAddr, helo: heloOf(session), sender: address.address }) : undefined;
    state.clientLogged = false;
    state.rcptOvershoot = 0;
    state.messageActions = {};
    state.policyInstance = undefined;
    state.messageSize = undefined;
    const milters = this.milters.get(state);
    if (milters) {
      const refusal = this.milterRefusal(await milters.mail(address, heloOf(session)), 'MAIL', state, session, undefined, address.address);
      if (refusal) return cb(refusal);
    }
    cb();
  }

  private async onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void): Promise<void> {
    const state = this.stateOf(session);
    const s = this.settings;
    const tooMany = await this.overRate(state, s.recipientRateLimit, 'rcpt', 'many recipients', 'Recipient address');
    if (tooMany) return cb(tooMany);
    if (s.recipientLimit > 0 && session.envelope.rcptTo.length >= s.recipientLimit) {
      // Postfix: these 452s are not the client's errors until smtpd_recipient_overshoot_limit of them.
      state.forgiveReply = state.rcptOvershoot++ < s.recipientOvershootLimit;
      count('smtpd_rejected', RECIPIENT_LIMIT_REASON);
      return cb(smtpError(452, '4.5.3', 'Error: too many recipients'));
    }
    const mailArgs = (session.envelope.mailFrom ? session.envelope.mailFrom.args || {} : {}) as Record<string, string | boolean>;
    if (mailArgs.SMTPUTF8 !== true && NON_ASCII.test(address.address)) return cb(UNDECLARED_SMTPUTF8);
    const ctx = this.policyContext(session, state, address.address);
    let verdict;
    try {
      verdict = await this.policy.checkRecipient(ctx);
    } catch (err) {
      this.log.warning(`restriction evaluation: ${(err as Error).message}`);
      verdict = { reject: smtpError(451, '4.3.5', 'Server configuration error'), reason: 'config_error' as const, warnings: [], actions: {}, events: [] };
    }
    for (const w of verdict.warnings) this.logReject('reject_warning', 'RCPT', w, state, session, ctx.recipient);
    this.takeActions(verdict, 'RCPT', state, session, ctx.recipient);
    const milters = this.milters.get(state);
    if (verdict.reject) {
      this.counters.rejected++;
      count('smtpd_rejected', label('reason', rejectReason(verdict, verdict.reject)));
      this.logReject('reject', 'RCPT', verdict.reject, state, session, ctx.recipient);
      // SMFIP_RCPT_REJ: milters that asked see the refused recipient; the refusal stands whatever they say.
      if (milters) await milters.rejected(address, verdict.reject);
      return cb(verdict.reject);
    }
    if (milters) {
      const refusal = this.milterRefusal(await milters.rcpt(address), 'RCPT', state, session, address.address);
      if (refusal) return cb(refusal);
    }
    if (!state.clientLogged && state.queueId) {
      state.clientLogged = true;
      const sasl = session.user ? `, sasl_method=${state.saslMethod ?? 'PLAIN'}, sasl_username=${String(session.user)}` : '';
      this.log.queue(state.queueId, `client=${state.clientName}[${state.clientAddr}]${sasl}`);
    }
    cb();
  }

  /**
   * VRFY as Postfix's smtpd: 502 with disable_vrfy_command; else the
   * argument's syntax, the recipient rate limit, and the RCPT TO checks
   * (restrictions and recipient tables); "252 2.0.0 ARGUMENT" when they pass.
   */
  private async verify(session: SMTPServerSession, argument: string): Promise<PlainReply> {
    const s = this.settings;
    const state = this.stateOf(session);
    if (s.disableVrfy) return { code: 502, text: '5.5.1 VRFY command is disabled' };
    const arg = vrfyArgument(argument, s.smtputf8);
    if ('reply' in arg) {
      if (arg.illegal !== undefined) this.log.warning(`Illegal address syntax from ${state.clientName}[${state.clientAddr}] in VRFY command: ${arg.illegal}`);
      return arg.reply;
    }
    const tooMany = await this.overRate(state, s.recipientRateLimit, 'rcpt', 'many recipients', 'Recipient address');
    if (tooMany) return plain(tooMany);
    const ctx = this.policyContext(session, state, arg.address);
    const verdict = await this.policy.checkRecipient(ctx);
    for (const w of verdict.warnings) this.logReject('reject_warning', 'VRFY', w, state, session, arg.address);
    if (verdict.reject) {
      this.counters.rejected++;
      count('smtpd_rejected', label('reason', rejectReason(verdict, verdict.reject)));
      this.logReject('reject', 'VRFY', verdict.reject, state, session, arg.address);
      return plain(verdict.reject);
    }
    return { code: 252, text: `2.0.0 ${arg.shown}` };
  }

  /**
   * ETRN as Postfix's smtpd (RFC 1985): not in a transaction, one site, a
   * host name or address literal; a site of fast_flush_domains gets its
   * deferred mail flushed ("250 Queuing started"), any other "459 <SITE>:
   * service unavailable", logged as a warning.
   */
  private async etrn(session: SMTPServerSession, argument: string): Promise<PlainReply> {
    const state = this.stateOf(session);
    if (this.settings.heloRequired && !heloOf(session)) return { code: 503, text: 'Error: send HELO/EHLO first' };
    if (session.envelope.mailFrom) return { code: 503, text: 'Error: MAIL transaction in progress' };
    const arg = etrnArgument(argument);
    if ('reply' in arg) return arg.reply;
    const client = `${state.clientName}[${state.clientAddr}]`;
    if (!this.fastFlush.match(arg.site.toLowerCase())) {
      this.log.warning(`reject: ETRN ${arg.site.slice(0, 100)}... from ${client}`);
      return { code: 459, text: `<${arg.site}>: service unavailable` };
    }
    if (!this.flushFn) return { code: 458, text: 'Unable to queue messages' };
    try {
      await this.flushFn(arg.site.toLowerCase());
    } catch (err) {
      this.log.warning(`unable to talk to fast flush service: ${(err as Error).message}`);
      return { code: 458, text: 'Unable to queue messages' };
    }
    return { code: 250, text: 'Queuing started' };
  }

  private async beforeData(session: SMTPServerSession): Promise<SmtpReplyError | undefined> {
    const refusal = await this.dataRestrictions(session);
    if (refusal) return refusal;
    const state = this.stateOf(session);
    const milters = this.milters.get(state);
    return milters ? this.milterRefusal(await milters.data(), 'DATA', state, session) : undefined;
  }

  private async dataRestrictions(session: SMTPServerSession): Promise<SmtpReplyError | undefined> {
    if (this.settings.dataRestrictions.length === 0) return undefined;
    const state = this.stateOf(session);
    const verdict = await this.policy.checkData(this.policyContext(session, state, undefined));
    for (const w of verdict.warnings) this.logReject('reject_warning', 'DATA', w, state, session, undefined);
    this.takeActions(verdict, 'DATA', state, session, undefined);
    if (verdict.reject) {
      this.counters.rejected++;
      count('smtpd_rejected', label('reason', rejectReason(verdict, verdict.reject)));
      this.logReject('reject', 'DATA', verdict.reject, state, session, undefined);
    }
    return verdict.reject;
  }

  private onData(stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void): void {
    const state = this.stateOf(session);
    // BODY=BINARYMIME (BDAT only): the bytes are the message, bare <LF> included.
    const binary = String(session.envelope.bodyType).toLowerCase() === 'binarymime';
    // A large message goes to a spool file as it arrives (message_spool_threshold), named by its queue id.
    const queueId = (state.queueId ??= this.queueIds.next());
    const spill = { threshold: this.settings.spoolThreshold, create: () => SpoolFile.create(this.settings.queueDirectory, queueId) };
    const collector = new MessageCollector(this.settings.messageSizeLimit, !binary, spill);
    let failed = false;
    let paused = false;
    stream.on('data', (chunk: Buffer) => {
      collector.add(chunk);
      const spool = collector.spooled;
      // The disk behind the socket: stop reading until it catches up, so unwritten bytes stay bounded.
      if (spool && !paused && spool.pending > SPOOL_PENDING_HIGH) {
        paused = true;
        stream.pause();
        void spool.whenBelow(SPOOL_PENDING_LOW).then(() => {
          paused = false;
          stream.resume();
        });
      }
    });
    stream.on('error', () => {
      failed = true;
      collector.discard();
    });
    stream.on('end', () => {
      if (failed) return;
      if (collector.oversized || stream.sizeExceeded) {
        collector.discard();
        this.counters.rejected++;
        count('smtpd_rejected', SIZE_REASON);
        // Postfix's words for a message that outgrew message_size_limit in DATA (cleanup's status).
        return cb(smtpError(552, '5.3.4', 'Error: message file too big'));
      }
      state.messageSize = collector.size;
      void this.collected(collector).then(
        (received) => {
          const whole = received.spooled ? undefined : received.content;
          void this.verifyMessage(session, state, whole ?? received.spooled).then((auth) =>
            this.endOfData(session, state, auth).then((eod) => {
              if (eod.refusal) {
                if (received.spooled) void unlink(received.spooled.path).catch(() => undefined);
                return cb(eod.refusal);
              }
              this.submit(session, state, received, cb, auth, eod.hold);
            }),
          );
        },
        (err: Error) => {
          collector.discard();
          this.log.warning(`${queueId}: spool file write error: ${err.message}`);
          this.counters.rejected++;
          count('smtpd_rejected', QUEUE_ERROR_REASON);
          cb(smtpError(451, '4.3.0', 'Error: queue file write error'));
        },
      );
    });
  }

  /** The received message: its bytes, or its spool file made durable (finished and synced). */
  private async collected(collector: MessageCollector): Promise<Received> {
    const spool = collector.spooled;
    if (!spool) return { content: collector.content(), crlf: collector.normalizes };
    const length = await spool.finish();
    return { content: EMPTY, spooled: { path: spool.path, length } };
  }

  /**
   * DKIM, DMARC and ARC of the whole message (with the SPF result of MAIL
   * FROM), when smtpd_authentication_results or reject_dmarc_policy needs
   * them: at the end of DATA, before the reply.
   */
  private async verifyMessage(
    session: SMTPServerSession, state: SessionState, given: Buffer | SpooledMessage | undefined,
  ): Promise<AuthOutcome | undefined> {
    if (!this.settings.authResults && !this.policy.usesDmarc) return undefined;
    // The verifier needs the message whole: a spooled one is read back for it (bounded by message_size_limit).
    const content = Buffer.isBuffer(given) ? given : given ? await readFile(given.path) : EMPTY;
    const client = { ip: state.clientAddr, helo: heloOf(session), sender: session.envelope.mailFrom ? session.envelope.mailFrom.address : '' };
    return this.auth.verify(content, client, state.spf ? await state.spf : undefined);
  }

  /**
   * smtpd_end_of_data_restrictions: a refusal (an internal failure is a
   * 451), or the reason to put the message on hold (reject_dmarc_policy).
   */
  private async endOfData(session: SMTPServerSession, state: SessionState, auth: AuthOutcome | undefined): Promise<{ refusal?: SmtpReplyError; hold?: boolean }> {
    if (this.settings.endOfDataRestrictions.length === 0) return {};
    const rcpts = session.envelope.rcptTo;
    const recipient = rcpts.length === 1 ? rcpts[0].address : undefined;
    const ctx = this.policyContext(session, state, recipient);
    if (auth?.dmarc) ctx.dmarc = auth.dmarc;
    let verdict;
    try {
      verdict = await this.policy.checkEndOfData(ctx);
    } catch (err) {
      this.log.warning(`restriction evaluation: ${(err as Error).message}`);
      return { refusal: smtpError(451, '4.3.5', 'Server configuration error') };
    }
    for (const w of verdict.warnings) this.logReject('reject_warning', 'END-OF-MESSAGE', w, state, session, recipient);
    this.takeActions(verdict, 'END-OF-MESSAGE', state, session, recipient);
    if (verdict.reject) {
      this.counters.rejected++;
      count('smtpd_rejected', label('reason', rejectReason(verdict, verdict.reject)));
      this.logReject('reject', 'END-OF-MESSAGE', verdict.reject, state, session, recipient);
      return { refusal: verdict.reject };
    }
    if (ctx.hold === undefined) return {};
    // Postfix's line for a restriction's HOLD action.
    const line = this.rejectLine('hold', 'END-OF-MESSAGE', `<END-OF-MESSAGE>: End-of-data triggers HOLD action: ${ctx.hold}`, session, state, recipient);
    this.log.info(`${state.queueId ?? 'NOQUEUE'}: ${line}`);
    return { hold: true };
  }

  /** Hands the message to cleanup and the store; 250 only once it is there. */
  private submit(
    session: SMTPServerSession,
    state: SessionState,
    received: Received,
    cb: (err?: Error | null, message?: string) => void,
    auth?: AuthOutcome,
    hold?: boolean,
  ): void {
    const dropSpool = (): void => {
      if (received.spooled) void unlink(received.spooled.path).catch(() => undefined);
    };
    // Told 421 already: the client will send it again, so it must not be queued now.
    if (this.shut.has(session)) {
      dropSpool();
      return cb(smtpError(421, '4.3.2', `${this.settings.myhostname} Error: service shutting down`));
    }
    const submission = this.submission(session, state, received.content);
    if (received.crlf) submission.crlf = true;
    if (received.spooled) submission.spooled = received.spooled;
    const milters = this.milters.get(state);
    if (milters?.discard) {
      // A milter discarded the message at MAIL, RCPT or DATA: accepted (the client must not send it again) and dropped.
      dropSpool();
      this.counters.accepted++;
      milters.session.abort();
      return cb(null, `2.0.0 Ok: queued as ${submission.queueId}`);
    }
    if (milters) {
      submission.milters = milters.session;
      if (milters.hold) submission.hold = true;
    }
    if (auth && this.settings.authResults) submission.authResults = { authservId: this.settings.authservId, value: auth.value, arcCv: auth.arcCv };
    if (hold) submission.hold = true;
    this.inFlight.add(session);
    this.submitFn(submission).then(
      (result) => {
        if (result.ok) {
          this.counters.accepted++;
          state.errorCount = 0;
          state.junkCommands = 0;
          // Postfix names the size after BDAT.
          cb(null, state.bdatBytes !== undefined ? `2.0.0 Ok: ${state.bdatBytes} bytes queued as ${result.queueId}` : `2.0.0 Ok: queued as ${result.queueId}`);
        } else {
          this.counters.rejected++;
          count('smtpd_rejected', result.code < 500 && !result.asIs ? QUEUE_ERROR_REASON : CONTENT_REASON);
          if (result.asIs) cb(smtpError(result.code, result.dsn, result.text));
          else if (result.code < 500) cb(smtpError(451, '4.3.0', 'Error: queue file write error'));
          else cb(smtpError(result.code, result.dsn, result.text));
        }
        this.afterSubmission(session);
      },
      (err: Error) => {
        this.log.warning(`${submission.queueId}: submit failed: ${err.message}`);
        this.counters.rejected++;
        count('smtpd_rejected', QUEUE_ERROR_REASON);
        cb(smtpError(451, '4.3.0', 'Error: queue file write error'));
        this.afterSubmission(session);
      },
    );
  }

  private submission(session: SMTPServerSession, state: SessionState, content: Buffer): SmtpdSubmission {
    const env = session.envelope;
    const from = env.mailFrom || { address: '', args: false };
    const args = (from.args || {}) as Record<string, string | boolean>;
    const recipients: RecipientSpec[] = env.rcptTo.map((r) => {
      const spec: RecipientSpec = { address: r.address };
      const dsn = (r as { dsn?: { notify?: string[]; orcpt?: string } }).dsn;
      if (dsn?.orcpt) spec.orcpt = decodeOrcpt(dsn.orcpt);
      if (dsn?.notify) spec.notify = dsn.notify as DsnNotify[];
      return spec;
    });
    const tls = session.tlsOptions;
    const helo = heloOf(session);
    const sub: SmtpdSubmission = {
      queueId: state.queueId ?? this.queueIds.next(),
      arrivalTime: Date.now(),
      sender: from.address,
      recipients,
      client: {
        name: state.clientName,
        addr: state.clientAddr,
        port: state.clientPort,
        helo,
        protocol: session.transmissionType,
        saslUser: session.user ? String(session.user) : undefined,
      },
      heloName: helo,
      content,
    };
    const dsn = env.dsn;
    if (dsn?.envid) sub.envid = dsn.envid;
    if (dsn?.ret === 'FULL' || dsn?.ret === 'HDRS') sub.ret = dsn.ret;
    if (args.SMTPUTF8 === true) sub.smtputf8 = true;
    // RFC 8689: taken only in a TLS session with requiretls_enable (handler_MAIL).
    if (args.REQUIRETLS === true) sub.requiretls = true;
    if (typeof args.BODY === 'string') {
      const body = args.BODY.toUpperCase();
      sub.bodyType = body === '8BITMIME' || body === 'BINARYMIME' ? body : '7BIT';
    }
    if (tls && this.settings.tlsReceivedHeader) sub.tlsInfo = `(using ${tls.version} with cipher ${tls.name})`;
    if (session.user && this.settings.saslAuthenticatedHeader) sub.authenticatedSender = String(session.user);
    const actions = state.messageActions;
    if (actions && Object.keys(actions).length > 0) sub.actions = actions;
    if (this.settings.contentFilter) sub.contentFilter = this.settings.contentFilter;
    const ro = this.settings.receiveOverride;
    if (ro.noAddressMappings || ro.noHeaderBodyChecks || ro.noMilters || ro.noUnknownRecipientChecks) sub.receiveOverride = ro;
    return sub;
  }

  private policyContext(session: SMTPServerSession, state: SessionState, recipient: string | undefined): PolicyContext {
    const from = session.envelope.mailFrom;
    const ctx: PolicyContext = {
      clientName: state.clientName,
      clientAddr: state.clientAddr,
      helo: heloOf(session),
      sender: from ? from.address : undefined,
      recipient,
      saslUser: session.user ? String(session.user) : undefined,
      spf: () => (state.spf ??= this.auth.spf({ ip: state.clientAddr, helo: heloOf(session), sender: from ? from.address : '' })),
    };
    // Only a policy server reads these: made only for a configuration that has one.
    if (this.settings.usesPolicyService) ctx.session = this.policySession(session, state);
    return ctx;
  }

  /** The session facts a policy request sends; the instance is made once per message. */
  private policySession(session: SMTPServerSession, state: SessionState): PolicySessionAttributes {
    const from = session.envelope.mailFrom;
    const args = (from ? from.args || {} : {}) as Record<string, string | boolean>;
    state.policyInstance ??= `${process.pid.toString(16)}.${randomBytes(4).toString('hex')}.${(++this.instanceCount).toString(16)}.0`;
    const tls = session.secure ? session.tlsOptions : undefined;
    const size = state.messageSize ?? (typeof args.SIZE === 'string' ? Number(args.SIZE) || 0 : 0);
    return {
      protocolName: session.openingCommand === 'EHLO' ? 'ESMTP' : 'SMTP',
      queueId: state.queueId ?? '',
      instance: state.policyInstance,
      recipientCount: session.envelope.rcptTo.length,
      size,
      reverseClientName: state.clientName,
      clientPort: state.clientPort,
      saslMethod: state.saslMethod ?? '',
      saslSender: typeof args.AUTH === 'string' && args.AUTH !== '<>' ? args.AUTH.replace(/^<|>$/g, '') : '',
      encryptionProtocol: tls ? String(tls.version ?? '') : '',
      encryptionCipher: tls ? String(tls.name ?? '') : '',
      encryptionKeysize: tls ? String(cipherBits(tls.standardName || tls.name)) : '',
      serverAddress: (session.localAddress ?? '').replace(/^::ffff:/i, ''),
      serverPort: session.localPort ?? 0,
      sessionId: session.id,
    };
  }

  /**
   * Merges what the access results asked of the message into the
   * transaction (Postfix's saved flags: later ones add to earlier ones) and
   * logs each, as Postfix: "QUEUEID: hold: RCPT from NAME[ADDR]: <r>:
   * Recipient address triggers HOLD action; from=<s> to=<r> ...".
   */
  private takeActions(verdict: PolicyVerdict, command: string, state: SessionState, session: SMTPServerSession, recipient: string | undefined): void {
    for (const e of verdict.events) this.logEvent(e.kind, command, e.text, state, session, recipient);
    const a = verdict.actions;
    if (Object.keys(a).length === 0) return;
    const m = (state.messageActions ??= {});
    if (a.hold) m.hold = true;
    if (a.discard !== undefined) m.discard = a.discard;
    if (a.filter !== undefined) m.filter = a.filter;
    if (a.redirect !== undefined) m.redirect = a.redirect;
    for (const b of a.bcc ?? []) if (!(m.bcc ??= []).includes(b)) m.bcc.push(b);
    if (a.prepend) (m.prepend ??= []).push(...a.prepend);
  }

  private logEvent(kind: string, command: string, text: string, state: SessionState, session: SMTPServerSession, recipient: string | undefined): void {
    const id = state.clientLogged && state.queueId ? state.queueId : 'NOQUEUE';
    const from = session.envelope.mailFrom;
    const parts = [`from=<${from ? from.address : ''}>`];
    if (recipient !== undefined) parts.push(`to=<${recipient}>`);
    parts.push(`proto=${session.openingCommand === 'EHLO' ? 'ESMTP' : 'SMTP'}`);
    const helo = heloOf(session);
    if (helo) parts.push(`helo=<${helo}>`);
    this.log.info(`${id}: ${kind}: ${command} from ${state.clientName}[${state.clientAddr}]: ${text}; ${parts.join(' ')}`);
  }

  /** The text of a Postfix reject-style line, "KIND: COMMAND from NAME[ADDR]: TEXT; from=<> to=<> proto= helo=<>", without the queue id. */
  private rejectLine(kind: string, command: string, text: string, session: SMTPServerSession, state: SessionState, recipient: string | undefined): string {
    const from = session.envelope.mailFrom;
    const parts = [`from=<${from ? from.address : ''}>`];
    if (recipient !== undefined) parts.push(`to=<${recipient}>`);
    parts.push(`proto=${session.openingCommand || 'SMTP'}`.replace('proto=EHLO', 'proto=ESMTP').replace('proto=HELO', 'proto=SMTP'));
    const helo = heloOf(session);
    if (helo) parts.push(`helo=<${helo}>`);
    return `${kind}: ${command} from ${state.clientName}[${state.clientAddr}]: ${text}; ${parts.join(' ')}`;
  }

  private logReject(
    kind: string,
    command: string,
    err: SmtpReplyError | string,
    state: SessionState,
    session: SMTPServerSession,
    recipient: string | undefined,
    sender?: string,
  ): void {
    const id = state.clientLogged && state.queueId ? state.queueId : 'NOQUEUE';
    const from = session.envelope.mailFrom;
    // As Postfix: from=<> only in a transaction (a VRFY or ETRN outside one names no sender).
    const parts = sender !== undefined || from ? [`from=<${sender ?? (from ? from.address : '')}>`] : [];
    if (recipient !== undefined) parts.push(`to=<${recipient}>`);
    parts.push(`proto=${session.openingCommand || 'SMTP'}`.replace('proto=EHLO', 'proto=ESMTP').replace('proto=HELO', 'proto=SMTP'));
    const helo = heloOf(session);
    if (helo) parts.push(`helo=<${helo}>`);
    // The reply as the client gets it: soft_bounce makes a 5xx a 4xx in the log too, as Postfix does.
    const sent = typeof err !== 'string' && this.settings.softBounce ? softBounced(err.responseCode, `${err.dsn} ${err.text}`) : undefined;
    const reply = typeof err === 'string' ? err : sent ? `${sent.code} ${sent.text}` : err.reply;
    this.log.info(`${id}: ${kind}: ${command} from ${state.clientName}[${state.clientAddr}]: ${reply}; ${parts.join(' ')}`);
  }

  private onClose(session: SMTPServerSession): void {
    const state = this.states.get(session);
    if (!state || !state.connected) return;
    state.connected = false;
    this.milters.get(state)?.close();
    if (this.settings.usesPolicyService) this.policy.sessionEnded(session.id);
    if (state.admitted) this.anvil.disconnect(this.service.name, state.clientAddr, this.anvilTickets.get(state));
    this.counters.active = Math.max(0, this.counters.active - 1);
    const counts: string[] = [];
    let ok = 0;
    let total = 0;
    for (const name of COMMAND_ORDER) {
      const c = state.commands.get(name);
      if (!c) continue;
      ok += c[0];
      total += c[1];
      counts.push(c[0] === c[1] ? `${name}=${c[1]}` : `${name}=${c[0]}/${c[1]}`);
    }
    // Postfix writes commands=0/0 for a session without a command, as for any count that is not all successes.
    counts.push(ok === total && total > 0 ? `commands=${total}` : `commands=${ok}/${total}`);
    if (state.peerLost || !state.serverClosed) {
      this.log.info(`lost connection after ${state.lastCommand ?? 'CONNECT'} from ${state.clientName}[${state.clientAddr}]`);
    }
    this.log.info(`disconnect from ${state.clientName}[${state.clientAddr}] ${counts.join(' ')}`);
    if (this.counters.active === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}

const SIZE_REASON = label('reason', 'size');
const SASL_SUCCESS = label('result', 'success');
const SASL_FAILURE = label('result', 'failure');
const RECIPIENT_LIMIT_REASON = label('reason', 'recipient_limit');
const NON_ASCII = /[^\x00-\x7f]/;
/** Postfix's reply (with strict_smtputf8) to a non-ASCII envelope address in a transaction without SMTPUTF8. */
const UNDECLARED_SMTPUTF8 = smtpError(553, '5.6.7', 'Must declare SMTPUTF8 to send unicode address');
const CONTENT_REASON = label('reason', 'content');
const MILTER_REASON = label('reason', 'milter');
const QUEUE_ERROR_REASON = label('reason', 'queue_write_error');

/** The metrics label of a refusal: the restriction's reason code, else "CODE_X.Y.Z". */
function rejectReason(verdict: PolicyVerdict, err: SmtpReplyError): string {
  return verdict.reason ?? `${err.responseCode}_${err.dsn}`;
}

/** A refusal as a reply sent as it is ("550 5.1.1 <a>: ..."). */
function plain(err: SmtpReplyError): PlainReply {
  return { code: err.responseCode, text: `${err.dsn} ${err.text}` };
}

/** The HELO/EHLO name, undefined when none was given. */
function heloOf(session: SMTPServerSession): string | undefined {
  const h = typeof session.hostNameAppearsAs === 'string' ? session.hostNameAppearsAs.trim() : '';
  return h || undefined;
}

/**
 * "127.0.0.1:2525" | "2525" | "smtp" | "[::1]:25" -> host and port; no host:
 * per inet_interfaces and inet_protocols (config/inet-listen.ts).
 */
export function parseListenAddress(name: string, config: MainConfig): { host?: string; port: number } {
  try {
    return parseInetListen(name, config.has('inet_interfaces') ? config.list('inet_interfaces') : ['all'], config.has('inet_protocols') ? config.list('inet_protocols') : ['all']);
  } catch (err) {
    throw new SmtpdError('ERR_SMTPD_CONFIG', (err as Error).message);
  }
}

export { SmtpdConnection };
