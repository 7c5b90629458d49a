/**
 * smtpd-milter: smtpd_milters in an SMTP session, at the stage Postfix's
 * smtpd asks them, with Postfix's replies:
 *
 *   connect()  at the connection: a 5xx makes the greeting "554 HOST ESMTP
 *              not accepting connections", a 421 "421 HOST Service
 *              unavailable - try again later"; another 4xx greets as usual
 *              and the reply holds for MAIL FROM and later.
 *   mail()     HELO (sent just before the first MAIL after it: its reply
 *              only counts at MAIL, as Postfix's does, except a 421), then
 *              MAIL FROM with its ESMTP parameters.
 *   rcpt()     RCPT TO, once smtpd's restrictions accepted the recipient.
 *   rejected() RCPT TO of a recipient smtpd's restrictions refused, for the
 *              milters that negotiated SMFIP_RCPT_REJ (the refusal stands
 *              whatever they answer, as in Postfix).
 *   data()     DATA, once smtpd_data_restrictions passed.
 *   unknown()  an SMTP command smtpd does not know (SMFIC_UNKNOWN, only the
 *              command word, as Postfix sends it); a reply is the
 *              command's reply instead of "500 5.5.2 Error: command not
 *              recognized".
 *
 * A reject or tempfail is the command's reply ("550 5.7.1 Command
 * rejected", "451 4.7.1 Service unavailable - try again later" or the
 * milter's own code), logged as "milter-reject"; a discard or quarantine
 * is remembered for the message (milter-discard, milter-hold). The content
 * steps run where cleanup runs (cleanup-milter), with `session`.
 *
 * Macros carry Postfix's values (smtpd_milter.c's): {i}, j, _,
 * {daemon_name}, {daemon_addr}, {daemon_port}, v, {client_addr} (IPv6 as
 * "IPv6:..."), {client_name}, {client_ptr}, {client_port},
 * {client_connections}, {auth_type}, {auth_authen}, {auth_author} (the
 * AUTH= of MAIL FROM), {mail_addr}, {mail_host} and {mail_mailer} (the
 * sender's next hop and transport as trivial-rewrite resolves it),
 * {rcpt_addr}, {rcpt_host}, {rcpt_mailer} (the same for the recipient; for
 * a refused one the reply's text, its enhanced status code and "error"),
 * {tls_version}, {cipher}, {cipher_bits}. {cert_subject} and
 * {cert_issuer} have no value: smtpd asks no client certificate, and
 * Postfix too sends them only for a verified one. The addresses are
 * resolved before the event (a resolver that fails leaves {mail_host} ...
 * unset). Nothing throws.
 */
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server/lib/types.js';
import { MilterSession, type MilterVerdict } from '../../global/milter-session.js';
import { cipherBits } from '../../global/tls-cipher-bits.js';
import type { MilterSettings } from '../../config/milter-settings.js';
import type { ResolvedAddress } from '../../protocol/protocol.js';
import type { Logger } from '../../util/log.js';
import { readReply, smtpError, type SmtpReplyError } from '../../util/smtp-reply.js';
import type { SessionState } from './smtpd-connection.js';
import type { Maybe } from '../../util/maybe.js';

/** The trivial-rewrite resolution smtpd uses for recipients (Smtpd's `resolve` option). */
export type ResolveFn = (address: string) => Maybe<ResolvedAddress>;

export class SmtpdMilters {
  readonly session: MilterSession;
  /** Quarantine or discard asked at MAIL, RCPT or DATA, for this message. */
  hold = false;
  discard = false;
  private heloSent: string | undefined;
  private sender: string | undefined;
  /** MAIL FROM's AUTH= ({auth_author}); "<>" leaves it unset, as Postfix. */
  private authAuthor: string | undefined;
  private senderRoute: ResolvedAddress | undefined;
  private recipient: string | undefined;
  private recipientRoute: ResolvedAddress | undefined;
  /** The refusal of the recipient being shown (SMFIP_RCPT_REJ), for the rcpt macros. */
  private refusal: SmtpReplyError | undefined;

  constructor(
    settings: MilterSettings,
    private readonly smtp: SMTPServerSession,
    private readonly state: SessionState,
    private readonly myhostname: string,
    log: Logger,
    private readonly resolve?: ResolveFn,
  ) {
    this.session = new MilterSession(settings, (name) => this.macro(name, settings), log);
  }

  /** The greeting's refusal, or undefined to greet as usual. */
  async connect(): Promise<{ refusal?: SmtpReplyError; verdict?: MilterVerdict }> {
    const v = await this.session.connect({ name: this.state.clientName, addr: this.state.clientAddr, port: this.state.clientPort });
    if (!v) return {};
    if (v.action === 'shutdown' || (v.action === 'reply' && v.reply.startsWith('421'))) {
      return { refusal: smtpError(421, '4.7.0', `${this.myhostname} Service unavailable - try again later`), verdict: v };
    }
    if (v.action === 'reply' && v.reply.startsWith('5')) return { refusal: smtpError(554, '5.7.1', `${this.myhostname} ESMTP not accepting connections`), verdict: v };
    return { verdict: v };
  }

  /** Starts a transaction: HELO when it is new, then MAIL FROM. */
  async mail(address: SMTPServerAddress, helo: string | undefined): Promise<MilterVerdict | undefined> {
    this.hold = false;
    this.discard = false;
    this.recipient = undefined;
    this.recipientRoute = undefined;
    if (helo && helo !== this.heloSent) {
      this.heloSent = helo;
      const v = await this.session.helo(helo);
      if (v?.action === 'shutdown' || (v?.action === 'reply' && v.reply.startsWith('421'))) return v;
    }
    this.sender = address.address;
    const auth = ((address.args || {}) as Record<string, string | boolean>).AUTH;
    // Postfix keeps the parameter as sent, unprintable bytes as "?".
    this.authAuthor = typeof auth === 'string' && auth !== '<>' ? auth.replace(/[^\x20-\x7e]/g, '?') : undefined;
    this.senderRoute = await this.route(address.address);
    return this.note(await this.session.mail(address.address, esmtpArgs(address)));
  }

  async rcpt(address: SMTPServerAddress): Promise<MilterVerdict | undefined> {
    if (this.discard) return undefined;
    this.recipient = address.address;
    this.recipientRoute = await this.route(address.address);
    return this.note(await this.session.rcpt(address.address, esmtpArgs(address)));
  }

  /**
   * A recipient smtpd refused with `refusal`, shown to the milters that
   * asked for refused recipients (SMFIP_RCPT_REJ). Their answer changes
   * nothing (Postfix's smtpd keeps its own reply); it is returned for the log.
   */
  async rejected(address: SMTPServerAddress, refusal: SmtpReplyError): Promise<MilterVerdict | undefined> {
    if (this.discard || !this.session.wantsRejected) return undefined;
    // Only for this event: later stages see the last accepted recipient, as Postfix restores it.
    const kept = { recipient: this.recipient, route: this.recipientRoute };
    this.recipient = address.address;
    this.recipientRoute = undefined;
    this.refusal = refusal;
    try {
      return await this.session.rejectedRcpt(address.address, esmtpArgs(address));
    } finally {
      this.refusal = undefined;
      this.recipient = kept.recipient;
      this.recipientRoute = kept.route;
    }
  }

  async data(): Promise<MilterVerdict | undefined> {
    if (this.discard) return undefined;
    return this.note(await this.session.data());
  }

  /** An unknown command's verb, to the milters (SMFIC_UNKNOWN); undefined when none of them replies. */
  async unknown(verb: string): Promise<MilterVerdict | undefined> {
    return this.note(await this.session.unknown(verb));
  }

  close(): void {
    this.session.close();
  }

  /** Discard and quarantine are remembered for the message; a reply goes back to the caller. */
  private note(v: MilterVerdict | undefined): MilterVerdict | undefined {
    if (v?.action === 'discard') this.discard = true;
    if (v?.action === 'hold') this.hold = true;
    return v;
  }

  /** The address's transport and next hop, as qmgr will resolve it; undefined without a resolver or when it fails. */
  private async route(address: string): Promise<ResolvedAddress | undefined> {
    if (!this.resolve) return undefined;
    try {
      return await this.resolve(address);
    } catch {
      return undefined;
    }
  }

  private macro(name: string, settings: MilterSettings): string | undefined {
    const st = this.state;
    const s = this.smtp;
    const tls = s.secure ? s.tlsOptions : undefined;
    switch (name) {
      case '{i}':
        return st.queueId;
      case '{j}':
        return this.myhostname;
      case '{_}':
        return `${st.clientName} [${st.clientAddr}]`;
      case '{daemon_name}':
        return settings.daemonName;
      case '{daemon_addr}':
        return s.localAddress ? s.localAddress.replace(/^::ffff:(?=\d+\.)/i, '') : undefined;
      case '{daemon_port}':
        return String(s.localPort);
      case '{v}':
        return settings.v;
      case '{client_addr}':
        // Postfix sends the address as written in SMTP (RFC 5321's "IPv6:" form).
        return st.clientAddr.includes(':') ? `IPv6:${st.clientAddr}` : st.clientAddr;
      case '{client_name}':
      case '{client_ptr}':
        return st.clientName;
      case '{client_port}':
        return String(st.clientPort);
      case '{client_connections}':
        return String(st.connectionCount ?? 0);
      case '{auth_type}':
        return s.user ? (st.saslMethod ?? 'PLAIN') : undefined;
      case '{auth_authen}':
        return s.user ? String(s.user) : undefined;
      case '{auth_author}':
        return this.sender === undefined ? undefined : this.authAuthor;
      case '{mail_addr}':
        return this.sender;
      case '{mail_host}':
        return this.sender === undefined ? undefined : this.senderRoute?.nexthop;
      case '{mail_mailer}':
        return this.sender === undefined ? undefined : this.senderRoute?.transport;
      case '{rcpt_addr}':
        if (this.recipient === undefined) return undefined;
        // A refused recipient: the reply's text after its address ("554 5.7.1 <a@b>: Relay access denied" -> "Relay access denied").
        if (this.refusal) return afterFirstWord(this.refusal.text);
        return this.recipient;
      case '{rcpt_host}':
        if (this.recipient === undefined) return undefined;
        if (this.refusal) return this.refusal.dsn;
        return this.recipientRoute?.nexthop;
      case '{rcpt_mailer}':
        if (this.recipient === undefined) return undefined;
        if (this.refusal) return 'error';
        return this.recipientRoute?.transport;
      case '{tls_version}':
        return tls ? tls.version : undefined;
      case '{cipher}':
        return tls ? tls.name : undefined;
      case '{cipher_bits}':
        return tls ? String(cipherBits(tls.standardName || tls.name)) : undefined;
      default:
        return undefined;
    }
  }
}

/** A reply verdict as smtp-server's refusal: the milter's code, enhanced code and text; shutdown is 421. */
export function verdictRefusal(v: MilterVerdict): SmtpReplyError | undefined {
  if (v.action === 'shutdown') return smtpError(421, '4.7.0', 'Server closing connection');
  if (v.action !== 'reply') return undefined;
  const r = readReply(v.reply, '7.1');
  return smtpError(r.code, r.dsn, r.text);
}

/** The ESMTP parameters of MAIL FROM or RCPT TO as the milter gets them ("SIZE=100", "SMTPUTF8"). */
function esmtpArgs(address: SMTPServerAddress): string[] {
  const args = (address.args || {}) as Record<string, string | boolean>;
  return Object.entries(args).map(([k, v]) => (v === true ? k : `${k}=${String(v)}`));
}

/** The text after the first space-separated word; undefined when there is none (Postfix then sends no value). */
function afterFirstWord(text: string): string | undefined {
  const space = text.indexOf(' ');
  return space < 0 ? undefined : text.slice(space + 1);
}
