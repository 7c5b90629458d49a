/**
 * cleanup-types: what cleanup takes in and hands back. The caller (smtpd,
 * pickup, bounce) assigns the queue id; cleanup never throws for bad input,
 * it answers with a reject or discard result instead.
 */
import type { ClientInfo, NewMessage, RecipientSpec } from '../store/store-types.js';

/** One message as received, before cleanup. */
export interface CleanupInput {
  queueId: string;
  /** Milliseconds since the epoch. */
  arrivalTime: number;
  sender: string;
  recipients: RecipientSpec[];
  client: ClientInfo;
  /** As received: headers + body, CRLF (bare LF is normalised), already un-dot-stuffed. */
  content: Uint8Array;
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  smtputf8?: boolean;
  bodyType?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  /** sendmail/pickup submission: add missing From/Date/Message-ID; Received "from userid N". */
  local: boolean;
  /** For local submissions, the submitting user id (defaults to this process's). */
  userid?: number;
  /** sendmail -F: the full name in the From: header cleanup adds ("Full Name <sender>"). */
  fullName?: string;
  heloName?: string;
  /** e.g. "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))". */
  tlsInfo?: string;
  /** The AUTH user the Received header names, "(Authenticated sender: user)" (smtpd_sasl_authenticated_header). */
  authenticatedSender?: string;
  /**
   * smtpd_authentication_results: what smtpd verified. Cleanup removes the
   * message's Authentication-Results headers that claim this authserv-id
   * (forged: only this host may write them), adds its own above Received,
   * and ARC-seals the message when arc_signing_table lists a recipient.
   */
  authResults?: AuthResultsInput;
  /** Queue on hold; the reason, already logged by the restriction that asked (reject_dmarc_policy for p=quarantine). */
  hold?: string;
}

/** The verification results smtpd hands to cleanup. */
export interface AuthResultsInput {
  authservId: string;
  /** The header value: "authserv-id;\r\n dkim=pass ...;\r\n spf=..." (folded, no trailing CRLF). */
  value: string;
  /** The ARC chain validation result, the cv= of a new seal: none, pass or fail. */
  arcCv: string;
}

/** Queue the message, drop it silently, or refuse it ("5.7.1 text"; "4.x.x" is temporary). */
export type CleanupResult =
  | { action: 'queue'; message: NewMessage; messageId?: string }
  | { action: 'discard'; reason: string }
  | { action: 'reject'; reason: string };

/** The rewrite service cleanup calls (trivial-rewrite's rewrite). */
export type RewriteFn = (address: string, role: 'sender' | 'recipient') => Promise<{ addresses: string[]; error?: string }>;

/** The header-address rewrite service (trivial-rewrite's rewriteHeader): local or remote context. */
export type RewriteHeaderFn = (address: string, role: 'sender' | 'recipient', context: 'local' | 'remote') => Promise<{ address: string; error?: string }>;
