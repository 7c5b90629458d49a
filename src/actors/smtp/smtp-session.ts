/**
 * smtp-session: one SMTP connection to one address of a next hop: TCP
 * connect (with Postfix's "connect to host[ip]:port: ..." reasons),
 * greeting, EHLO, STARTTLS per the attempt's TLS policy (smtp-tls-policy),
 * the check of the server's certificate, then mail transactions until it is
 * closed or cached. openSession() never throws: a failure comes back as a
 * SessionFailure with the reason Postfix would log.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { SmtpClient, type ClientError } from './smtp-client.js';
import type { SmtpTarget } from './smtp-mx.js';
import type { SmtpParams } from './smtp-params.js';
import { failureState, softDsn } from '../../global/dsn-status.js';
import { parseServerReply } from '../../util/smtp-reply.js';
import { peerName, saidOutcome, socketErrorText } from './smtp-reply.js';
import type { TlsFailureType, TlsPolicy } from './smtp-tls-policy-types.js';
import { checkPeer, type PeerCheck, type PeerInfo } from './smtp-tls-policy.js';
import { tlsOptions } from './smtp-tls-options.js';
import { peerChain } from './smtp-tls-verify.js';
import { cipherBits } from '../../global/tls-cipher-bits.js';

/** An open session, ready for a mail transaction. */
export interface SmtpSession {
  client: SmtpClient;
  target: SmtpTarget;
  /** "host[ip]:port", the relay= value. */
  relay: string;
  /** "host[ip]", for reasons. */
  peer: string;
  /** Completed transactions on this connection. */
  uses: number;
  openedAt: number;
  tls: boolean;
  /** The check of the server's certificate after STARTTLS (absent without TLS). */
  tlsCheck?: PeerCheck;
  /** Postfix's "Verified TLS connection established to host[ip]:port: ..." line, logged at smtp_tls_loglevel 1. */
  tlsLine?: string;
  /** This end's address (TLSRPT's sending-mta-ip). */
  localAddress?: string;
}

/** Why a session could not be set up. */
export interface SessionFailure {
  state: 'deferred' | 'bounced';
  dsn: string;
  reason: string;
  /** "host[ip]:port" when the server was reached, else "none". */
  relay: string;
  /** The server's reply and the command it answered, when a reply ended the session. */
  reply?: string;
  command?: string;
  /** True when the server was reached and spoke (counts against smtp_mx_session_limit). */
  spoke: boolean;
  /** A TLS handshake failure, which 'may' retries in plain text. */
  tlsHandshakeFailed: boolean;
  /** The RFC 8460 failure type when TLS policy ended the session (for TLSRPT). */
  tlsFailure?: TlsFailureType;
  /** Postfix's "... TLS connection established to ..." line of a session that was then refused. */
  tlsLine?: string;
  /** This end's address, once connected (TLSRPT's sending-mta-ip). */
  localAddress?: string;
}

/** How to use TLS on this attempt. */
export type TlsMode = 'none' | 'opportunistic' | 'required';

function tcpConnect(target: SmtpTarget, timeoutMs: number, localAddress: string | undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: target.address, port: target.port, localAddress });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error('Connection timed out'), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      // Until the SMTP client attaches its own handler, an error must not go unheard.
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}

/** The TLS mode a policy asks for: MTA-STS testing and "may" fall back to plain text, "none" never tries. */
export function tlsModeOf(policy: TlsPolicy): TlsMode {
  if (policy.level === 'none') return 'none';
  if (policy.level === 'may' || policy.sts?.mode === 'testing') return 'opportunistic';
  return 'required';
}

/** A policy from main.cf's level alone (no table, DANE or MTA-STS), for callers that have not resolved one. */
export function mainCfPolicy(params: SmtpParams): TlsPolicy {
  const match = params.tlsLevel === 'verify' ? params.tlsVerifyMatch : params.tlsLevel === 'secure' ? params.tlsSecureMatch : params.tlsLevel === 'fingerprint' ? params.tlsFingerprintMatch : [];
  return { level: params.tlsLevel, source: 'main.cf', match };
}

/**
 * Opens a session to `target` with the given TLS mode; after STARTTLS the
 * server's chain is checked against `policy` (checkPeer) before any mail
 * transaction, and a failed check closes the session (4.7.5) unless the
 * policy is MTA-STS testing, which only reports it.
 */
export async function openSession(
  target: SmtpTarget,
  params: SmtpParams,
  mode: TlsMode,
  policy: TlsPolicy = mainCfPolicy(params),
  nexthop: string = target.nexthop?.host ?? target.hostname,
): Promise<SmtpSession | SessionFailure> {
  const peer = peerName(target.hostname, target.address);
  const relay = `${peer}:${target.port}`;
  if (policy.refuse) {
    return { state: 'deferred', dsn: policy.refuse.dsn, reason: policy.refuse.reason, relay: 'none', spoke: false, tlsHandshakeFailed: false };
  }
  let tls: ConnectionOptions = {};
  if (mode !== 'none') {
    try {
      tls = tlsOptions(params, policy);
    } catch (err) {
      return { state: 'deferred', dsn: '4.7.5', reason: (err as Error).message, relay: 'none', spoke: false, tlsHandshakeFailed: false };
    }
  }
  let socket: Socket;
  // smtp_bind_address / smtp_bind_address6: the source address for the target's family.
  const bind = (isIP(target.address) === 6 ? params.bindAddress6 : params.bindAddress) || undefined;
  try {
    socket = await tcpConnect(target, params.connectTimeout, bind);
  } catch (err) {
    return { state: 'deferred', dsn: '4.4.1', reason: `connect to ${relay}: ${socketErrorText(err)}`, relay: 'none', spoke: false, tlsHandshakeFailed: false };
  }
  const localAddress = socket.localAddress;
  const client = new SmtpClient({
    connection: socket,
    host: target.address,
    port: target.port,
    servername: isIP(target.hostname) ? undefined : target.hostname,
    name: params.heloName,
    ignoreTLS: mode === 'none',
    opportunisticTLS: mode === 'opportunistic',
    requireTLS: mode === 'required',
    tls,
    connectionTimeout: params.connectTimeout + params.heloTimeout,
    greetingTimeout: params.heloTimeout,
    socketTimeout: params.commandTimeout,
    socketCloseTimeout: 1000,
    logger: false,
  }, { discardEhloKeywords: params.discardEhloKeywords });
  try {
    await client.open();
  } catch (e) {
    client.close();
    const err = e as ClientError;
    // A failure while upgrading is a TLS failure whatever nodemailer calls it (a bad certificate is a socket error there).
    if (client.upgrading || isTlsError(err)) err.code = 'ETLS';
    return { ...sessionFailure(err, peer, client.starttlsNotOffered, params.skip5xxGreeting), relay, localAddress };
  }
  const session: SmtpSession = { client, target, relay, peer, uses: 0, openedAt: Date.now(), tls: client.secure, localAddress };
  const tlsSocket = client.tlsSocket;
  if (client.secure && tlsSocket) {
    const check = checkPeer(policy, peerInfo(tlsSocket), { hostname: target.hostname, nexthop }, params.tlsFingerprintDigest);
    session.tlsCheck = check;
    session.tlsLine = `${check.trust} TLS connection established to ${relay}: ${tlsSummary(tlsSocket)}`;
    if (!check.ok && policy.sts?.mode !== 'testing') {
      client.shutdown();
      return { state: 'deferred', dsn: '4.7.5', reason: check.reason, relay, spoke: true, tlsHandshakeFailed: false, tlsFailure: check.failure, tlsLine: session.tlsLine, localAddress };
    }
  }
  return session;
}

/** What checkPeer needs from a TLS socket. */
function peerInfo(socket: TLSSocket): PeerInfo {
  const info: PeerInfo = { chain: peerChain(socket.getPeerCertificate(true)), authorized: socket.authorized };
  if (socket.authorizationError) info.authorizationError = String(socket.authorizationError);
  return info;
}

/** Postfix's "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)". */
function tlsSummary(socket: TLSSocket): string {
  const cipher = socket.getCipher();
  const name = cipher?.standardName ?? cipher?.name ?? 'unknown';
  const bits = cipherBits(name);
  return `${socket.getProtocol() ?? 'unknown'} with cipher ${name} (${bits}/${bits} bits)`;
}

function sessionFailure(err: ClientError, peer: string, notOffered: boolean, skip5xxGreeting: boolean): Omit<SessionFailure, 'relay'> {
  if (notOffered || err.notOffered) {
    return { state: 'deferred', dsn: '4.7.4', reason: `TLS is required, but was not offered by host ${peer}`, spoke: true, tlsHandshakeFailed: false, tlsFailure: 'starttls-not-supported' };
  }
  if (err.response) {
    const reply = parseServerReply(err.response);
    if (err.command === 'CONN') {
      // smtp_skip_5xx_greeting (Postfix's default yes): a 5xx greeting is treated as 4xx, so the next MX is tried.
      const dsn = skip5xxGreeting ? softDsn(reply.dsn) : reply.dsn;
      return { state: failureState(dsn), dsn, reason: `host ${peer} refused to talk to me: ${reply.text}`, reply: reply.text, spoke: true, tlsHandshakeFailed: false };
    }
    const command = err.command === 'STARTTLS' ? 'STARTTLS' : err.command === 'HELO' ? 'HELO' : 'EHLO';
    // A refused STARTTLS is never final: its status is made temporary, as Postfix does.
    const dsn = command === 'STARTTLS' ? softDsn(reply.dsn) : reply.dsn;
    return { state: failureState(dsn), dsn, ...saidOutcome(peer, reply, command), spoke: true, tlsHandshakeFailed: false };
  }
  if (err.code === 'ETLS') {
    return { state: 'deferred', dsn: '4.7.5', reason: `Cannot start TLS: handshake failure with host ${peer}: ${err.message.replace(/^Error initiating TLS - /, '')}`, spoke: true, tlsHandshakeFailed: true };
  }
  if (err.code === 'ETIMEDOUT') {
    return { state: 'deferred', dsn: '4.4.2', reason: `conversation with ${peer} timed out while receiving the initial server greeting`, spoke: false, tlsHandshakeFailed: false };
  }
  return { state: 'deferred', dsn: '4.4.2', reason: `lost connection with ${peer} while receiving the initial server greeting`, spoke: false, tlsHandshakeFailed: false };
}

function isTlsError(err: ClientError): boolean {
  const code = err.originalCode ?? '';
  return err.code === 'ETLS' || /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH|ERR_OSSL)/.test(code);
}

/** True when `x` is an open session rather than a failure. */
export function isSession(x: SmtpSession | SessionFailure): x is SmtpSession {
  return (x as SmtpSession).client !== undefined;
}
