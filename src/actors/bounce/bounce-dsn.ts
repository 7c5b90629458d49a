/**
 * bounce-dsn: the machine-readable part of a notification, the
 * message/delivery-status body of RFC 3464: per-message fields, then one
 * block of per-recipient fields per recipient, laid out as Postfix's bounce
 * daemon writes them (with X-Postrider-* where Postfix writes X-Postfix-*);
 * a verify report (sendmail -bv) has Postfix's actions "deliverable" and
 * "undeliverable", which RFC 3464 does not list.
 * Pure functions over plain values; malformed inputs (a bad status code, a
 * relay that is not host[ip]:port) degrade to safe defaults, never throw.
 */
import { mailDate } from '../../global/mail-date.js';
import { printable, wrapLine, type NoticeKind } from './bounce-template.js';
import type { NoticeAction } from '../../protocol/protocol.js';

/** The product name in the X- fields, as Postfix writes "X-Postfix-...". */
export const MAIL_NAME = 'Postrider';

export interface PerMessageFields {
  myhostname: string;
  /** The original message's queue id. */
  queueId: string;
  /** The original envelope sender; "" is written as MAILER-DAEMON. */
  sender: string;
  arrivalTime: number;
  envid?: string;
}

export interface PerRecipientFields {
  address: string;
  /** ORCPT as given ("rfc822;user@example.com"). */
  orcpt?: string;
  /** The recipient as received, before rewriting; absent when it is `address`. */
  origRcpt?: string;
  status: string;
  reason: string;
  relay?: string;
  /** The remote server's reply, when a server gave the outcome: the Diagnostic-Code is then "smtp; REPLY". */
  reply?: string;
  /** A success notice's action when the mail went on to an MTA without DSN ("relayed") or an alias expanded ("expanded"); absent: the kind's own. */
  action?: NoticeAction;
}

/** The per-message block (no trailing blank line). */
export function perMessageLines(f: PerMessageFields): string[] {
  const lines = [`Reporting-MTA: dns; ${f.myhostname}`];
  if (f.envid) lines.push(`Original-Envelope-Id: ${printable(f.envid)}`);
  lines.push(`X-${MAIL_NAME}-Queue-ID: ${f.queueId}`);
  lines.push(`X-${MAIL_NAME}-Sender: rfc822; ${printable(f.sender || 'MAILER-DAEMON')}`);
  if (f.arrivalTime > 0) lines.push(`Arrival-Date: ${mailDate(f.arrivalTime)}`);
  return lines;
}

const ACTIONS: Record<NoticeKind, string> = { failure: 'failed', delay: 'delayed', success: 'delivered', verify: 'undeliverable' };
const DEFAULT_STATUS: Record<NoticeKind, string> = { failure: '5.0.0', delay: '4.0.0', success: '2.0.0', verify: '5.0.0' };

/** The enhanced status code to report: the given one when well-formed and of the right class. */
export function reportStatus(kind: NoticeKind, dsn: string): string {
  const m = /^([245])\.\d{1,3}\.\d{1,3}$/.exec(dsn.trim());
  // An expired message keeps its last 4.x.x code under "Action: failed", as Postfix reports it.
  return m ? dsn.trim() : DEFAULT_STATUS[kind];
}

/** "dns; host" from a relay written "host[ip]:port" or "host[ip]"; undefined for local transports. */
export function remoteMta(relay: string | undefined): string | undefined {
  if (!relay) return undefined;
  const m = /^([^\s[\]]+)\[[^\]]*\](?::\d+)?$/.exec(relay.trim());
  return m ? `dns; ${m[1]}` : undefined;
}

/**
 * The Diagnostic-Code value: "smtp; <reply>" when a remote server's reply
 * gave the outcome (carried as a field from the smtp agent, as Postfix's
 * DSN carries dtype/dtext), else "X-Postrider; <reason>" as Postfix writes
 * local reasons.
 */
export function diagnosticCode(reason: string, reply?: string): string {
  if (reply !== undefined && reply.trim() !== '') return `smtp; ${printable(reply.replace(/\s+/g, ' ').trim())}`;
  return `X-${MAIL_NAME}; ${printable(reason.replace(/\s+/g, ' ').trim())}`;
}

/** One recipient's block (no leading blank line). */
export function perRecipientLines(
  kind: NoticeKind,
  r: PerRecipientFields,
  opts: { now: number; retryUntil?: number },
): string[] {
  const lines = [`Final-Recipient: rfc822; ${printable(r.address)}`];
  // Postfix writes Original-Recipient always: the ORCPT when one was given,
  // else the address as received (RFC 3464 6.3.d would leave it out, but
  // Postfix passes that address on as ORCPT too, so every later MTA's
  // notice names it; one more field keeps the notices consistent).
  if (r.orcpt) lines.push(`Original-Recipient: ${printable(r.orcpt)}`);
  else lines.push(`Original-Recipient: rfc822; ${printable(r.origRcpt ?? r.address)}`);
  // A success notice's "relayed" or "expanded", a verify report's verdict ("deliverable", "undeliverable").
  lines.push(`Action: ${(kind === 'success' || kind === 'verify') && r.action ? r.action : ACTIONS[kind]}`);
  lines.push(`Status: ${reportStatus(kind, r.status)}`);
  const mta = remoteMta(r.relay);
  if (mta) lines.push(...wrapLine(`Remote-MTA: ${mta}`));
  lines.push(...wrapLine(`Diagnostic-Code: ${diagnosticCode(r.reason, r.reply)}`));
  lines.push(`Last-Attempt-Date: ${mailDate(opts.now)}`);
  if (kind === 'delay' && opts.retryUntil !== undefined) {
    lines.push(`Will-Retry-Until: ${mailDate(opts.retryUntil)}`);
  }
  return lines;
}
