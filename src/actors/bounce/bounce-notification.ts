/**
 * bounce-notification: builds one RFC 3464 delivery status notification
 * (multipart/report; report-type=delivery-status) for some recipients of a
 * queued message, in Postfix's layout: a text/plain part in Postfix's
 * wording, a message/delivery-status part, and the original message
 * (message/rfc822) or its headers (text/rfc822-headers).
 *
 * Who gets it:
 * - an ordinary sender gets failure, delay and success notices, filtered by
 *   each recipient's DSN NOTIFY (absent = FAILURE,DELAY; NEVER = none);
 *   with `bounce` in notify_classes, bounce_notice_recipient is added as a
 *   second recipient of the same failure notice (one message, not Postfix's
 *   separate headers-only postmaster copy), and with `delay` in it,
 *   delay_notice_recipient of the delay notice;
 * - the null sender's mail gets no delay or success notice; when it fails
 *   (a bounce that could not be delivered) one "double bounce" goes to
 *   2bounce_notice_recipient, marked with an X-Postrider-Double-Bounce
 *   header; a failed double bounce produces nothing, so notifications
 *   (always sent from the null sender) cannot loop.
 *
 * A REQUIRETLS message's notice (RFC 8689 section 5) returns its headers
 * only and goes without REQUIRETLS (requiretls_redact_dsn = yes, Postfix's
 * default); a "TLS-Required: No" message's notice carries that header.
 *
 * buildNotification is pure: no I/O, and it returns undefined rather than
 * throwing when nothing is due; unknown recipient indexes are skipped.
 */
import { hostname } from 'node:os';
import type { MainConfig } from '../../config/main-config.js';
import type { NoticeEntry } from '../../protocol/protocol.js';
import { notifyAllows } from '../../global/dsn-notify.js';
import type { QueuedMessage } from '../../store/store-types.js';
import { gmtStamp, mailDate } from '../../global/mail-date.js';
import { perMessageLines, perRecipientLines, MAIL_NAME } from './bounce-dsn.js';
import { boilerplate, DOUBLE_BOUNCE_SUBJECT, printable, SUBJECTS, wrapLine, type NoticeKind } from './bounce-template.js';

/** The header that marks a double bounce, so that it never bounces again. */
export const DOUBLE_BOUNCE_HEADER = `X-${MAIL_NAME}-Double-Bounce`;
const DOUBLE_BOUNCE_LINE = new RegExp(`^${DOUBLE_BOUNCE_HEADER}:`, 'im');

export interface NotificationInput {
  message: QueuedMessage;
  /** The original message: headers, empty line, body (CRLF). */
  content: Buffer;
  kind: NoticeKind;
  recipients: NoticeEntry[];
  config: MainConfig;
  /** Queue id the notification will get; used in its Message-Id and MIME boundary. */
  queueId: string;
  now: number;
}

export interface Notification {
  /** Notifications are sent from the null sender, so they cannot bounce back and loop. */
  sender: '';
  recipients: string[];
  /** The whole notification, CRLF line ends. */
  content: Buffer;
  /** Bytes of the header section, including the empty line that ends it. */
  headerLength: number;
  /** The notice of a REQUIRETLS message keeps REQUIRETLS only with requiretls_redact_dsn = no. */
  requiretls?: boolean;
}

const CRLF = '\r\n';

/** Postfix's default bounce_size_limit: larger originals are returned as headers only. */
const DEFAULT_BOUNCE_SIZE_LIMIT = 50000;

/** Builds the notification, or undefined when none is due. */
export function buildNotification(input: NotificationInput): Notification | undefined {
  const { message, content, kind, config, now } = input;
  const myhostname = param(config, 'myhostname') || hostname();
  const myorigin = param(config, 'myorigin') || myhostname;
  const doubleBounce = message.sender === '';

  let to: string[];
  let entries = input.recipients.filter((r) => Number.isInteger(r.index) && message.recipients[r.index] !== undefined);
  if (doubleBounce) {
    if (kind !== 'failure' || isDoubleBounce(content)) return undefined;
    to = listParam(config, '2bounce_notice_recipient', 'postmaster');
  } else {
    // A verify report is what sendmail -bv asked for: NOTIFY does not apply.
    if (kind !== 'verify') entries = entries.filter((r) => notifyAllows(message.recipients[r.index].notify, kind));
    to = [message.sender];
    const classes = listParam(config, 'notify_classes', '');
    if (kind === 'failure' && classes.includes('bounce')) to.push(...listParam(config, 'bounce_notice_recipient', 'postmaster'));
    if (kind === 'delay' && classes.includes('delay')) to.push(...listParam(config, 'delay_notice_recipient', 'postmaster'));
  }
  if (entries.length === 0 || to.length === 0) return undefined;
  const recipients = [...new Set(to.map((a) => qualify(a, myorigin)))];

  // RFC 8689 section 5 and Postfix's requiretls_redact_dsn: the notice may travel without REQUIRETLS
  // (the return path need not offer it), so it returns the headers only, and is sent without REQUIRETLS.
  const requiretls = message.requiretls === true;
  const redact = requiretls && boolParam(config, 'requiretls_redact_dsn', true);
  const headersOnly = kind !== 'failure' || message.ret === 'HDRS' || redact || content.length > sizeLimit(config);
  const original = headersOnly ? headerSection(content) : content;
  const eightBit =
    hasEightBit(original) || (!headersOnly && (message.bodyType === '8BITMIME' || message.bodyType === 'BINARYMIME'));
  const encoding = eightBit ? '8bit' : '7bit';
  const boundary = `${input.queueId}.${Math.floor(now / 1000)}/${myhostname}`;

  const head: string[] = [
    `Date: ${mailDate(now)}`,
    `From: MAILER-DAEMON@${myhostname} (Mail Delivery System)`,
    `Subject: ${doubleBounce ? DOUBLE_BOUNCE_SUBJECT : SUBJECTS[kind]}`,
    `To: ${printable(recipients[0])}`,
    // As Postfix: the notice of a "TLS-Required: No" message (without REQUIRETLS) carries the header on.
    ...(!requiretls && message.tlsRequiredNo && boolParam(config, 'tls_required_enable', true) ? ['TLS-Required: no'] : []),
    `Auto-Submitted: ${doubleBounce ? 'auto-generated' : 'auto-replied'}`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status;',
    `\tboundary="${boundary}"`,
    `Content-Transfer-Encoding: ${encoding}`,
    `Message-Id: <${gmtStamp(now)}.${input.queueId}@${myhostname}>`,
  ];
  if (doubleBounce) head.push(`${DOUBLE_BOUNCE_HEADER}: yes`);
  const headerText = head.join(CRLF) + CRLF + CRLF;

  const lifetime = timeParam(config, 'maximal_queue_lifetime', 5 * 86400);
  const warning = timeParam(config, 'delay_warning_time', 0);
  const text = boilerplate(kind, {
    myhostname,
    delayHours: (warning > 0 ? warning : (now - message.arrivalTime) / 1000) / 3600,
    lifetimeDays: lifetime / 86400,
  });

  const body: string[] = [
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    ...text,
  ];
  for (const r of entries) {
    const rcpt = message.recipients[r.index];
    const address = r.finalAddress ?? rcpt.address;
    const original = r.finalAddress !== undefined ? rcpt.origRcpt ?? rcpt.address : rcpt.origRcpt;
    const who =
      original && original.toLowerCase() !== address.toLowerCase()
        ? `<${address}> (expanded from <${original}>)`
        : `<${address}>`;
    body.push('', ...wrapLine(printable(`${who}: ${kind === 'verify' ? verifyText(r) : r.reason}`)));
  }
  body.push(
    '',
    `--${boundary}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    ...perMessageLines({
      myhostname,
      queueId: message.queueId,
      sender: message.sender,
      arrivalTime: message.arrivalTime,
      envid: message.envid,
    }),
  );
  for (const r of entries) {
    const rcpt = message.recipients[r.index];
    body.push(
      '',
      ...perRecipientLines(
        kind,
        { address: r.finalAddress ?? rcpt.address, orcpt: rcpt.orcpt, origRcpt: r.finalAddress !== undefined ? rcpt.origRcpt ?? rcpt.address : rcpt.origRcpt, status: r.dsn, reason: r.reason, relay: r.relay, reply: r.reply, action: r.action },
        { now, retryUntil: message.arrivalTime + lifetime * 1000 },
      ),
    );
  }
  const undelivered = kind === 'success' || kind === 'verify' ? '' : 'Undelivered ';
  body.push(
    '',
    `--${boundary}`,
    `Content-Description: ${undelivered}${headersOnly ? 'Message Headers' : 'Message'}`,
    `Content-Type: ${headersOnly ? 'text/rfc822-headers' : 'message/rfc822'}`,
    `Content-Transfer-Encoding: ${encoding}`,
    '',
  );

  const tail = (endsWithCrlf(original) || original.length === 0 ? '' : CRLF) + CRLF + `--${boundary}--` + CRLF;
  const out = Buffer.concat([
    Buffer.from(headerText, 'latin1'),
    Buffer.from(body.join(CRLF) + CRLF, 'latin1'),
    original,
    Buffer.from(tail, 'latin1'),
  ]);
  const notice: Notification = { sender: '', recipients, content: out, headerLength: Buffer.byteLength(headerText, 'latin1') };
  if (requiretls && !redact) notice.requiretls = true;
  return notice;
}

/**
 * A verify report's words for a recipient, as Postfix's: "delivery via
 * RELAY: what the agent found" (no relay for the error and discard
 * transports, which name none).
 */
function verifyText(r: NoticeEntry): string {
  return r.relay && r.relay !== 'none' ? `delivery via ${r.relay}: ${r.reason}` : r.reason;
}

/** True when the content's header section carries the double-bounce mark. */
export function isDoubleBounce(content: Buffer): boolean {
  return DOUBLE_BOUNCE_LINE.test(headerSection(content).toString('latin1'));
}

/** The header lines of a message, up to but not including the empty line. */
export function headerSection(content: Buffer): Buffer {
  if (content.length >= 2 && content[0] === 0x0d && content[1] === 0x0a) return content.subarray(0, 0);
  if (content.length >= 1 && content[0] === 0x0a) return content.subarray(0, 0);
  const crlf = content.indexOf('\r\n\r\n');
  const lf = content.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return content.subarray(0, crlf + 2);
  if (lf >= 0) return content.subarray(0, lf + 1);
  return content;
}

function hasEightBit(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] > 0x7f) return true;
  return false;
}

function endsWithCrlf(buf: Buffer): boolean {
  return buf.length >= 2 && buf[buf.length - 2] === 0x0d && buf[buf.length - 1] === 0x0a;
}

function qualify(address: string, myorigin: string): string {
  return address.includes('@') ? address : `${address}@${myorigin}`;
}

function param(config: MainConfig, name: string): string {
  return config.get(name).trim();
}

/** A yes/no parameter, or the fallback when unset or malformed: a notice must still go out. */
function boolParam(config: MainConfig, name: string, fallback: boolean): boolean {
  if (!config.get(name).trim()) return fallback;
  try {
    return config.bool(name);
  } catch {
    return fallback;
  }
}

function listParam(config: MainConfig, name: string, fallback: string): string[] {
  const v = config.has(name) ? config.list(name) : [];
  return v.length > 0 || config.has(name) ? v : [fallback];
}

/** A time parameter in seconds, or the fallback when unset or malformed: a notice must still go out. */
function timeParam(config: MainConfig, name: string, fallback: number): number {
  if (!config.get(name).trim()) return fallback;
  try {
    return config.time(name, name === 'delay_warning_time' ? 'h' : 'd');
  } catch {
    return fallback;
  }
}

function sizeLimit(config: MainConfig): number {
  if (!config.get('bounce_size_limit').trim()) return DEFAULT_BOUNCE_SIZE_LIMIT;
  try {
    const n = config.int('bounce_size_limit');
    return n > 0 ? n : Number.POSITIVE_INFINITY;
  } catch {
    return DEFAULT_BOUNCE_SIZE_LIMIT;
  }
}
