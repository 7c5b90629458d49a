/**
 * smtpd: Postrider's SMTP listener as a library (Postfix's smtpd). One Smtpd
 * owns one listening socket (a master.cf inet service) on smtp-server 3.21,
 * with Postfix's parameters, replies and log lines:
 *
 *   connect from NAME[ADDR]
 *   QUEUEID: client=NAME[ADDR]                 (first accepted RCPT)
 *   NOQUEUE: reject: RCPT from NAME[ADDR]: 554 5.7.1 ...; from=<s> to=<r> proto=ESMTP helo=<h>
 *   disconnect from NAME[ADDR] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
 *
 * A message is acknowledged with "250 2.0.0 Ok: queued as QUEUEID" only
 * after submit() resolved ok; a 4xx store failure answers "451 4.3.0 Error:
 * queue file write error", a 5xx refusal its own reply. The queue id is
 * allocated at MAIL FROM. EHLO offers PIPELINING, SIZE, 8BITMIME, SMTPUTF8
 * (smtputf8_enable), ENHANCEDSTATUSCODES, DSN, STARTTLS (with a certificate
 * and smtpd_tls_security_level may/encrypt) and AUTH PLAIN LOGIN
 * (smtpd_sasl_auth_enable; only after STARTTLS while smtpd_tls_auth_only =
 * yes, Postrider's default). CHUNKING/BDAT is not offered: smtp-server has
 * no BDAT. smtpd_helo_required (default no) is honoured.
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
import type { MainConfig } from '../../config/main-config.js';
import type { SubmitOutcome } from '../../global/queue-submit.js';
import { QueueIdGenerator } from '../../store/store-queue-id.js';
import type { DsnNotify, NewMessage, RecipientSpec } from '../../store/store-types.js';
import type { Logger } from '../../util/log.js';
import { count, label } from '../../util/metrics-counters.js';
import { smtpError, type SmtpReplyError } from '../../util/smtp-reply.js';
import { COMMAND_ORDER, SmtpdConnection, SmtpdServer, type ConnectionHooks, type SessionState } from './smtpd-connection.js';
import { SmtpdAnvil } from './smtpd-anvil.js';
import { SmtpdDns } from './smtpd-dns.js';
import { MessageCollector } from './smtpd-message.js';
import { SmtpdPolicy, type PolicyContext } from './smtpd-policy.js';
import { verifySecretAsync } from './smtpd-sasl.js';
import { readSmtpdSettings, type SmtpdSettings } from './smtpd-settings.js';

/**
 * One received message, handed to cleanup: the queue's own message fields
 * (content is headers + body exactly as received after un-dot-stuffing,
 * CRLF line ends) plus what only the SMTP session knows.
 */
export type SmtpdSubmission = Pick<
  NewMessage,
  'queueId' | 'arrivalTime' | 'sender' | 'recipients' | 'envid' | 'ret' | 'smtputf8' | 'bodyType' | 'client' | 'content'
> & {
  heloName?: string;
  /** "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)" when the session used TLS: the Received header's TLS line. */
  tlsInfo?: string;
};

/** What cleanup/the store said about a submission (the queue's one answer type). */
export type SubmitResult = SubmitOutcome;

export interface SmtpdOptions {
  /** main.cf with this service's -o overrides applied. */
  config: MainConfig;
  /** name is the listen address: "127.0.0.1:2525", "2525", "smtp", "[::1]:25". */
  service: MasterService;
  log: Logger;
  instance: number;
  submit: (s: SmtpdSubmission) => Promise<SubmitResult>;
  /**
   * The most connections the listener holds at once; more are closed on
   * arrival, unanswered (what keeps descriptors in reserve for the rest of
   * the process: the supervisor's sessionCapFromFdLimit plus its slack).
   */
  connectionLimit?: number;
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
  private readonly anvil: SmtpdAnvil;
  private readonly queueIds: QueueIdGenerator;
  private readonly states = new WeakMap<SMTPServerSession, SessionState>();
  private readonly disabled: string[];
  private readonly tlsReady: boolean;
  private counters = { sessions: 0, accepted: 0, rejected: 0, active: 0 };
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
    this.policy = new SmtpdPolicy(s, opts.config.dir, this.dns, this.log);
    this.anvil = new SmtpdAnvil(s.connectionCountLimit, s.connectionRateLimit, s.rateTimeUnitMs);
    this.queueIds = new QueueIdGenerator(32 + opts.instance);

    let key: Buffer | undefined;
    let cert: Buffer | undefined;
    if (s.tlsLevel !== 'none') {
      try {
        key = readFileSync(s.tlsKeyFile);
        cert = readFileSync(s.tlsCertFile);
      } catch (err) {
        this.log.warning(`cannot load TLS certificate or key (smtpd_tls_cert_file, smtpd_tls_key_file): ${(err as Error).message}; TLS disabled`);
      }
    }
    this.tlsReady = !!(key && cert);
    this.disabled = [...BASE_DISABLED];
    if (!this.tlsReady) this.disabled.push('STARTTLS');
    if (!s.saslEnable) this.disabled.push('AUTH');

    const hooks: ConnectionHooks = {
      greetWaitMs: s.greetWaitMs,
      banner: s.banner,
      myhostname: s.myhostname,
      softErrorLimit: s.softErrorLimit,
      hardErrorLimit: s.hardErrorLimit,
      errorSleepMs: s.errorSleepMs,
      heloRequired: s.heloRequired,
      sessionState: (conn) => this.stateOf(conn.session),
      beforeData: (session) => this.beforeData(session),
      event: (conn, text) => this.log.info(`${text} from ${conn.state.clientName}[${conn.state.clientAddr}]`),
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
      hideSTARTTLS: !this.tlsReady,
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: true,
      allowInsecureAuth: true,
      disabledCommands: this.disabled,
      size: s.messageSizeLimit > 0 ? s.messageSizeLimit : undefined,
      maxRecipients: s.recipientLimit > 0 ? s.recipientLimit : undefined,
      socketTimeout: s.timeoutMs,
      onConnect: (session, cb) => this.guard(this.onConnect(session, cb), cb, 421),
      onSecure: (_socket, session, cb) => this.onSecure(session, cb),
      onAuth: (auth, session, cb) => this.guard(this.onAuth(auth, session, cb), cb, 454),
      onMailFrom: (address, session, cb) => this.onMailFrom(address, session, cb),
      onRcptTo: (address, session, cb) => this.guard(this.onRcptTo(address, session, cb), cb, 451),
      onData: (stream, session, cb) => this.onData(stream, session, cb),
      onClose: (session) => this.onClose(session),
    };
    if (this.tlsReady) {
      options.key = key;
      options.cert = cert;
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
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') this.log.info(`lost connection${who}: ${err.message}`);
      else if (err.code === 'EMFILE' || err.code === 'ENFILE') outOfDescriptors(`smtpd: cannot accept a connection: ${err.message}`);
      else this.log.warning(`smtpd${who}: ${err.message}`);
    });
    if (opts.connectionLimit !== undefined) {
      const limit = opts.connectionLimit;
      this.server.server.maxConnections = limit;
      this.server.server.on('drop', (d?: { remoteAddress?: string }) => {
        this.counters.rejected++;
        count('smtpd_rejected', label('reason', 'descriptor_limit'));
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
      this.server.listen(port, host);
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

  private stateOf(session: SMTPServerSession): SessionState {
    let state = this.states.get(session);
    if (!state) {
      state = {
        clientName: 'unknown',
        clientAddr: session.remoteAddress,
        clientPort: session.remotePort,
        bareNewline: this.settings.bareNewline,
        errorCount: 0,
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
    const s = this.settings;
    try {
      state.clientName = await this.dns.clientName(state.clientAddr);
    } catch {
      state.clientName = 'unknown';
    }
    const client = `${state.clientName}[${state.clientAddr}]`;
    this.log.info(`connect from ${client}`);
    if (this.draining) return cb(smtpError(421, '4.3.2', `${s.myhostname} Error: service shutting down`));
    const exempt = this.policy.eventLimitExceptions.match(state.clientName, state.clientAddr);
    if (!exempt) {
      const verdict = this.anvil.connect(state.clientAddr);
      if (!verdict.ok) {
        const what = verdict.reason === 'count' ? 'Connection concurrency limit exceeded' : 'Connection rate limit exceeded';
        this.log.warning(`${what}: ${verdict.value} from ${client} for service ${this.service.name}`);
        this.counters.rejected++;
        count('smtpd_rejected', label('reason', verdict.reason === 'count' ? 'connection_limit' : 'connection_rate'));
        return cb(smtpError(421, '4.7.0', `${s.myhostname} Error: too many connections from ${state.clientAddr}`));
      }
      state.admitted = true;
    }
    if (s.bareNewline === 'reject' && this.policy.bareNewlineExclusions.match(state.clientName, state.clientAddr)) {
      state.bareNewline = 'normalize';
    }
    session.disabledCommands = this.disabledFor(session);
    cb();
  }

  private onSecure(session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    session.disabledCommands = this.disabledFor(session);
    cb();
  }

  /** AUTH is not offered before TLS while smtpd_tls_auth_only = yes (as Postfix). */
  private disabledFor(session: SMTPServerSession): string[] {
    if (this.settings.saslEnable && this.settings.tlsAuthOnly && !session.secure) return [...this.disabled, 'AUTH'];
    return this.disabled;
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
    if ((method === 'PLAIN' || method === 'LOGIN') && user && typeof auth.password === 'string') {
      for (const spec of this.settings.saslPasswordMaps) {
        const table = this.policy.table(spec);
        let hash: string | undefined;
        try {
          hash = table?.get(user);
        } catch {
          hash = undefined;
        }
        if (hash !== undefined) {
          ok = await verifySecretAsync(auth.password, hash);
          break;
        }
      }
    }
    if (!ok) {
      this.log.warning(`${state.clientName}[${state.clientAddr}]: SASL ${method} authentication failed: authentication failure`);
      return cb(smtpError(535, '5.7.8', 'Error: authentication failed: authentication failure'));
    }
    state.saslMethod = method;
    cb(null, { user });
  }

  private onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    const state = this.stateOf(session);
    const s = this.settings;
    if (s.tlsLevel === 'encrypt' && !session.secure) return cb(smtpError(530, '5.7.0', 'Must issue a STARTTLS command first'));
    const args = (address.args || {}) as Record<string, string | boolean>;
    if (args.SMTPUTF8 !== undefined && !s.smtputf8) return cb(smtpError(555, '5.5.4', 'Unsupported option: SMTPUTF8'));
    state.queueId = this.queueIds.next();
    state.clientLogged = false;
    cb();
  }

  private async onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void): Promise<void> {
    const state = this.stateOf(session);
    const ctx = this.policyContext(session, state, address.address);
    let verdict;
    try {
      verdict = await this.policy.checkRecipient(ctx);
    } catch (err) {
      this.log.warning(`restriction evaluation: ${(err as Error).message}`);
      verdict = { reject: smtpError(451, '4.3.5', 'Server configuration error'), warnings: [] };
    }
    for (const w of verdict.warnings) this.logReject('reject_warning', 'RCPT', w, state, session, ctx.recipient);
    if (verdict.reject) {
      this.counters.rejected++;
      count('smtpd_rejected', label('reason', rejectReason(verdict.reject)));
      this.logReject('reject', 'RCPT', verdict.reject, state, session, ctx.recipient);
      return cb(verdict.reject);
    }
    if (!state.clientLogged && state.queueId) {
      state.clientLogged = true;
      const sasl = session.user ? `, sasl_method=${state.saslMethod ?? 'PLAIN'}, sasl_username=${String(session.user)}` : '';
      this.log.queue(state.queueId, `client=${state.clientName}[${state.clientAddr}]${sasl}`);
    }
    cb();
  }

  private async beforeData(session: SMTPServerSession): Promise<SmtpReplyError | undefined> {
    if (this.settings.dataRestrictions.length === 0) return undefined;
    const state = this.stateOf(session);
    const verdict = await this.policy.checkData(this.policyContext(session, state, undefined));
    for (const w of verdict.warnings) this.logReject('reject_warning', 'DATA', w, state, session, undefined);
    if (verdict.reject) {
      this.counters.rejected++;
      count('smtpd_rejected', label('reason', rejectReason(verdict.reject)));
      this.logReject('reject', 'DATA', verdict.reject, state, session, undefined);
    }
    return verdict.reject;
  }

  private onData(stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void): void {
    const state = this.stateOf(session);
    const collector = new MessageCollector(this.settings.messageSizeLimit);
    let failed = false;
    stream.on('data', (chunk: Buffer) => collector.add(chunk));
    stream.on('error', () => {
      failed = true;
    });
    stream.on('end', () => {
      if (failed) return;
      if (collector.oversized || stream.sizeExceeded) {
        this.counters.rejected++;
        count('smtpd_rejected', SIZE_REASON);
        return cb(smtpError(552, '5.3.4', 'Message size exceeds fixed limit'));
      }
      // Told 421 already: the client will send it again, so it must not be queued now.
      if (this.shut.has(session)) return cb(smtpError(421, '4.3.2', `${this.settings.myhostname} Error: service shutting down`));
      const submission = this.submission(session, state, collector.content());
      this.inFlight.add(session);
      this.submitFn(submission).then(
        (result) => {
          if (result.ok) {
            this.counters.accepted++;
            state.errorCount = 0;
            cb(null, `2.0.0 Ok: queued as ${result.queueId}`);
          } else {
            this.counters.rejected++;
            count('smtpd_rejected', result.code < 500 ? QUEUE_ERROR_REASON : CONTENT_REASON);
            if (result.code < 500) cb(smtpError(451, '4.3.0', 'Error: queue file write error'));
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
    });
  }

  private submission(session: SMTPServerSession, state: SessionState, content: Buffer): SmtpdSubmission {
    const env = session.envelope;
    const from = env.mailFrom || { address: '', args: false };
    const args = (from.args || {}) as Record<string, string | boolean>;
    const recipients: RecipientSpec[] = env.rcptTo.map((r) => {
      const spec: RecipientSpec = { address: r.address };
      const dsn = (r as { dsn?: { notify?: string[]; orcpt?: string } }).dsn;
      if (dsn?.orcpt) spec.orcpt = dsn.orcpt;
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
    if (typeof args.BODY === 'string') sub.bodyType = args.BODY.toUpperCase() === '8BITMIME' ? '8BITMIME' : '7BIT';
    if (tls) sub.tlsInfo = `(using ${tls.version} with cipher ${tls.name})`;
    return sub;
  }

  private policyContext(session: SMTPServerSession, state: SessionState, recipient: string | undefined): PolicyContext {
    const from = session.envelope.mailFrom;
    return {
      clientName: state.clientName,
      clientAddr: state.clientAddr,
      helo: heloOf(session),
      sender: from ? from.address : undefined,
      recipient,
      saslUser: session.user ? String(session.user) : undefined,
    };
  }

  private logReject(kind: string, command: string, err: SmtpReplyError, state: SessionState, session: SMTPServerSession, recipient: string | undefined): void {
    const id = state.clientLogged && state.queueId ? state.queueId : 'NOQUEUE';
    const from = session.envelope.mailFrom;
    const parts = [`from=<${from ? from.address : ''}>`];
    if (recipient !== undefined) parts.push(`to=<${recipient}>`);
    parts.push(`proto=${session.openingCommand || 'SMTP'}`.replace('proto=EHLO', 'proto=ESMTP').replace('proto=HELO', 'proto=SMTP'));
    const helo = heloOf(session);
    if (helo) parts.push(`helo=<${helo}>`);
    this.log.info(`${id}: ${kind}: ${command} from ${state.clientName}[${state.clientAddr}]: ${err.reply}; ${parts.join(' ')}`);
  }

  private onClose(session: SMTPServerSession): void {
    const state = this.states.get(session);
    if (!state || !state.connected) return;
    state.connected = false;
    if (state.admitted) this.anvil.release(state.clientAddr);
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
    counts.push(ok === total ? `commands=${total}` : `commands=${ok}/${total}`);
    this.log.info(`disconnect from ${state.clientName}[${state.clientAddr}] ${counts.join(' ')}`);
    if (this.counters.active === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}

const SIZE_REASON = label('reason', 'size');
const CONTENT_REASON = label('reason', 'content');
const QUEUE_ERROR_REASON = label('reason', 'queue_write_error');

/** Reply texts of the restrictions -> the `reason` label of smtpd_rejected (first match wins). */
const REJECT_REASONS: Array<[RegExp, string]> = [
  [/Relay access denied/, 'relay_access_denied'],
  [/User unknown/, 'unknown_recipient'],
  [/need fully-qualified/, 'non_fqdn'],
  [/Domain not found/, 'unknown_domain'],
  [/blocked using/, 'rbl'],
  [/Invalid name/, 'invalid_helo'],
  [/Server configuration error/, 'config_error'],
  [/Client host rejected/, 'client_rejected'],
  [/Helo command rejected/, 'helo_rejected'],
  [/Sender address rejected/, 'sender_rejected'],
  [/Recipient address rejected/, 'recipient_rejected'],
  [/Data command rejected/, 'data_rejected'],
];

/** The metrics label for a restriction's refusal: its kind, else "CODE_X.Y.Z". */
function rejectReason(err: SmtpReplyError): string {
  for (const [re, reason] of REJECT_REASONS) if (re.test(err.text)) return reason;
  return `${err.responseCode}_${err.dsn}`;
}

/** The HELO/EHLO name, undefined when none was given. */
function heloOf(session: SMTPServerSession): string | undefined {
  const h = typeof session.hostNameAppearsAs === 'string' ? session.hostNameAppearsAs.trim() : '';
  return h || undefined;
}

/** "127.0.0.1:2525" | "2525" | "smtp" | "[::1]:25" -> host and port; no host: per inet_interfaces (config/inet-listen.ts). */
export function parseListenAddress(name: string, config: MainConfig): { host?: string; port: number } {
  try {
    return parseInetListen(name, config.has('inet_interfaces') ? config.list('inet_interfaces') : ['all']);
  } catch (err) {
    throw new SmtpdError('ERR_SMTPD_CONFIG', (err as Error).message);
  }
}

export { SmtpdConnection };
