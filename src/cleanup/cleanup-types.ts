/**
 * cleanup-types: what cleanup takes in and hands back. The caller (smtpd,
 * pickup, bounce) assigns the queue id; cleanup never throws for bad input,
 * it answers with a reject or discard result instead.
 */
import type { MilterSession } from '../global/milter-session.js';
import type { ClientInfo, NewMessage, RecipientSpec } from '../store/store-types.js';
import type { Maybe } from '../util/maybe.js';

/** One message as received, before cleanup. */
export interface CleanupInput {
  queueId: string;
  /** Milliseconds since the epoch. */
  arrivalTime: number;
  sender: string;
  recipients: RecipientSpec[];
  client: ClientInfo;
  /** As received: headers + body, CRLF (bare LF is normalised), already un-dot-stuffed. Empty with `spooled`. */
  content: Uint8Array;
  /** Every line end of `content` is CRLF already (smtpd normalised it as it arrived): not scanned again. */
  crlf?: boolean;
  /**
   * A large message received into a spool file (synced; bare LF already
   * normalised): the content is the file's `length` bytes. Cleanup reads
   * its header section only, and the queued message's body stays in the
   * file, unless a step needs the body (see Cleanup.process).
   */
  spooled?: { path: string; length: number };
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  smtputf8?: boolean;
  bodyType?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  /** MAIL FROM said REQUIRETLS (RFC 8689). */
  requiretls?: boolean;
  /** sendmail/pickup submission: add missing From/Date/Message-ID; Received "from userid N". */
  local: boolean;
  /** For local submissions, the submitting user id (defaults to this process's). */
  userid?: number;
  /** sendmail -bv: queue the message verify-only (NewMessage.verify). */
  verify?: boolean;
  /** sendmail -F: the full name in the From: header cleanup adds ("Full Name <sender>"). */
  fullName?: string;
  heloName?: string;
  /** e.g. "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))". */
  tlsInfo?: string;
  /** The AUTH user the Received header names, "(Authenticated sender: user)" (smtpd_sasl_authenticated_header). */
  authenticatedSender?: string;
  /** The SMTP session's milters (smtpd_milters): cleanup runs their content steps on the message. */
  milters?: MilterSession;
  /** Placed on hold before its content was seen (a milter's quarantine at MAIL, RCPT or DATA, or reject_dmarc_policy for p=quarantine; smtpd logged why). */
  hold?: boolean;
  /** A sendmail/pickup submission that non_smtpd_milters inspect (never bounces or forwarded mail). */
  nonSmtpdMilters?: boolean;
  /** What smtpd's access results and policy servers asked of the message. */
  actions?: MessageActions;
  /** content_filter of the receiving service ("transport:destination"); a FILTER action wins over it. */
  contentFilter?: string;
  /** receive_override_options of the receiving service (what was done before the mail came back from a filter). */
  receiveOverride?: { noHeaderBodyChecks?: boolean; noAddressMappings?: boolean; noMilters?: boolean };
  authResults?: AuthResultsInput;
}

/** The verification results smtpd hands to cleanup. */
export interface AuthResultsInput {
  authservId: string;
  /** The header value: "authserv-id;\r\n dkim=pass ...;\r\n spf=..." (folded, no trailing CRLF). */
  value: string;
  /** The ARC chain validation result, the cv= of a new seal: none, pass or fail. */
  arcCv: string;
}

/**
 * What the access results (tables, policy servers) asked of a message as a
 * whole; Postfix's smtpd saves the same in the queue file.
 */
export interface MessageActions {
  hold?: boolean;
  /** DISCARD: the reason text ("" when none). */
  discard?: string;
  /** FILTER transport:destination (the last one wins, as in Postfix). */
  filter?: string;
  /** REDIRECT user@domain (the last one wins). */
  redirect?: string;
  /** BCC user@domain, each once. */
  bcc?: string[];
  /** PREPEND header lines, in order: above the Received: header, as Postfix's smtpd writes them. */
  prepend?: string[];
}

/**
 * Queue the message, drop it silently, or refuse it ("5.7.1 text"; "4.x.x"
 * is temporary; `code` is set when a milter gave the whole reply, which the
 * client then hears as it is).
 */
export type CleanupResult =
  | { action: 'queue'; message: NewMessage; messageId?: string }
  | { action: 'discard'; reason: string }
  | { action: 'reject'; reason: string; code?: number };

/** The rewrite service cleanup calls (trivial-rewrite's rewrite). */
export type RewriteFn = (address: string, role: 'sender' | 'recipient') => Maybe<{ addresses: string[]; error?: string }>;

/** The header-address rewrite service (trivial-rewrite's rewriteHeader): local or remote context. */
export type RewriteHeaderFn = (address: string, role: 'sender' | 'recipient', context: 'local' | 'remote') => Maybe<{ address: string; error?: string }>;
