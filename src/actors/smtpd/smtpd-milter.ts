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
 *   data()     DATA, once smtpd_data_restrictions passed.
 *
 * A reject or tempfail is the command's reply ("550 5.7.1 Command
 * rejected", "451 4.7.1 Service unavailable - try again later" or the
 * milter's own code), logged as "milter-reject"; a discard or quarantine
 * is remembered for the message (milter-discard, milter-hold). The content
 * steps run where cleanup runs (cleanup-milter), with `session`. Macros come
 * from the session: {i}, j, _, {daemon_name}, {daemon_addr},
 * {daemon_port}, v, {client_addr}, {client_name}, {client_port},
 * {client_ptr}, {auth_type}, {auth_authen}, {mail_addr}, {rcpt_addr},
 * {tls_version}, {cipher}. Nothing throws.
 */
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server/lib/types.js';
import { MilterSession, type MilterVerdict } from '../../global/milter-session.js';
import type { MilterSettings } from '../../config/milter-settings.js';
import type { Logger } from '../../util/log.js';
import { readReply, smtpError, type SmtpReplyError } from '../../util/smtp-reply.js';
import type { SessionState } from './smtpd-connection.js';

export class SmtpdMilters {
  readonly session: MilterSession;
  /** Quarantine or discard asked at MAIL, RCPT or DATA, for this message. */
  hold = false;
  discard = false;
  private heloSent: string | undefined;
  private sender: string | undefined;
  private recipient: string | undefined;

  constructor(
    settings: MilterSettings,
    private readonly smtp: SMTPServerSession,
    private readonly state: SessionState,
    private readonly myhostname: string,
    log: Logger,
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
    if (helo && helo !== this.heloSent) {
      this.heloSent = helo;
      const v = await this.session.helo(helo);
      if (v?.action === 'shutdown' || (v?.action === 'reply' && v.reply.startsWith('421'))) return v;
    }
    this.sender = address.address;
    return this.note(await this.session.mail(address.address, esmtpArgs(address)));
  }

  async rcpt(address: SMTPServerAddress): Promise<MilterVerdict | undefined> {
    if (this.discard) return undefined;
    this.recipient = address.address;
    return this.note(await this.session.rcpt(address.address, esmtpArgs(address)));
  }

  async data(): Promise<MilterVerdict | undefined> {
    if (this.discard) return undefined;
    return this.note(await this.session.data());
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

  private macro(name: string, settings: MilterSettings): string | undefined {
    const st = this.state;
    const s = this.smtp;
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
        return s.localAddress;
      case '{daemon_port}':
        return String(s.localPort);
      case '{v}':
        return settings.v;
      case '{client_addr}':
        return st.clientAddr;
      case '{client_name}':
      case '{client_ptr}':
        return st.clientName;
      case '{client_port}':
        return String(st.clientPort);
      case '{auth_type}':
        return s.user ? (st.saslMethod ?? 'PLAIN') : undefined;
      case '{auth_authen}':
        return s.user ? String(s.user) : undefined;
      case '{mail_addr}':
        return this.sender;
      case '{rcpt_addr}':
        return this.recipient;
      case '{tls_version}':
        return s.tlsOptions ? s.tlsOptions.version : undefined;
      case '{cipher}':
        return s.tlsOptions ? s.tlsOptions.name : undefined;
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
