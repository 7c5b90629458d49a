/**
 * store-types: the queue store's records and queries, shared by the journal
 * actor (the one writer), qmgr (the scheduler) and the admin commands.
 * A recipient is addressed by its index in the message's recipient list.
 */

/**
 * Where a message's content (headers + body) lies in the journal: the
 * record's blob [offset, offset + length) of the segment, followed, for a
 * message received whole into its own file (a large one), by that file's
 * bytes [file.offset, file.offset + file.length).
 */
export interface BodyLocation {
  segment: number;
  offset: number;
  length: number;
  /** The queue shard whose journal holds the segment; absent for shard 0 (store-segment's shardRoot). */
  shard?: number;
  /** The rest of the content, in the shard's large/ directory (store-segment's bodyFilePath). */
  file?: BodyFile;
}

/**
 * A message body kept in a file of its own beside the journal: the file
 * QUEUEDIR/large/NAME (of the message's shard) holds the message as
 * received, and the body is its bytes [offset, offset + length).
 */
export interface BodyFile {
  /** The file's name: the queue id. */
  name: string;
  offset: number;
  length: number;
}

/** The journalled part of a body file reference (the name is the queue id). */
export interface BodyFileRef {
  offset: number;
  length: number;
}

/** DSN NOTIFY keywords (RFC 3461). Absent means the default (FAILURE, DELAY). */
export type DsnNotify = 'SUCCESS' | 'FAILURE' | 'DELAY' | 'NEVER';

export interface RecipientSpec {
  address: string;
  /** ORCPT as given, e.g. "rfc822;user@example.com". */
  orcpt?: string;
  notify?: DsnNotify[];
  /**
   * The recipient as received (at RCPT, or from sendmail), before canonical
   * mapping and virtual alias expansion: Postfix's orig_rcpt. Absent when
   * the address was not rewritten, and in records written before the field
   * existed; readers then take `address`.
   */
  origRcpt?: string;
}

export interface ClientInfo {
  /** Reverse name or "unknown". */
  name: string;
  addr: string;
  port?: number;
  helo?: string;
  /** SMTP, ESMTP, ESMTPS, ESMTPSA, or "local" for sendmail/pickup, "bounce" for notifications. */
  protocol: string;
  saslUser?: string;
}

/** What cleanup hands to the store: a complete message ready to be made durable. */
export interface NewMessage {
  /** Assigned by cleanup with a QueueIdGenerator; unique and sortable by arrival. */
  queueId: string;
  /** Milliseconds since the epoch. */
  arrivalTime: number;
  /** Envelope sender; "" is the null sender. */
  sender: string;
  recipients: RecipientSpec[];
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  smtputf8?: boolean;
  bodyType?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  /** RFC 8689: MAIL FROM said REQUIRETLS; every next hop must be verified TLS that offers REQUIRETLS. */
  requiretls?: boolean;
  /** RFC 8689: a "TLS-Required: No" header (without REQUIRETLS): TLS failures do not stop delivery. */
  tlsRequiredNo?: boolean;
  client: ClientInfo;
  /** Placed on hold at arrival (header_checks HOLD). */
  hold?: boolean;
  /** content_filter or a FILTER action: "transport:destination"; qmgr sends the message there instead of resolving its recipients. */
  filter?: string;
  /**
   * sendmail -bv: verify only. Nothing is delivered; each recipient is
   * tested as far as its delivery agent goes without delivering, and the
   * sender gets one report (Postfix's DEL_REQ_FLAG_USR_VRFY).
   */
  verify?: boolean;
  /** Byte length of the header section, including the empty line that ends it. */
  headerLength: number;
  /**
   * The whole message: headers, empty line, body; CRLF line ends. With
   * `bodyFile`, only the header section (with its empty line): the body is
   * in the spool file.
   */
  content: Uint8Array;
  /**
   * A large message received into the spool file QUEUEDIR/spool/QUEUEID
   * (already synced to disk): its bytes [offset, offset + length) are the
   * body. The store moves the file beside the journal before the record
   * that names it commits.
   */
  bodyFile?: BodyFileRef;
}

export type RecipientState = 'ready' | 'deferred' | 'delivered' | 'bounced' | 'expired';

export interface QueuedRecipient extends RecipientSpec {
  state: RecipientState;
  /** Last reason text (deferred/bounced), as logged. */
  reason?: string;
  /** Enhanced status code of the last outcome, e.g. "4.4.1". */
  dsn?: string;
  /** Due time for a deferred recipient, ms since the epoch. */
  nextAttempt?: number;
  attempts: number;
  /** When a DELAY notice was sent, so only one is sent. */
  delayNotified?: boolean;
  /**
   * The next hop that gave the last outcome ("host[ip]:port"; absent when
   * that outcome named none), kept for the Remote-MTA of a failure notice
   * sent later than the outcome.
   */
  relay?: string;
  /** The remote reply of the last outcome and the command it answered, when a server gave it (the Diagnostic-Code of a later notice). */
  reply?: string;
  command?: string;
  /** Set once a failure notice listed this (bounced or expired) recipient, so no later notice repeats it. */
  failureNotified?: boolean;
}

export type QueueName = 'incoming' | 'active' | 'deferred' | 'hold' | 'corrupt';

/** A live message as the store's index holds it (no content). */
export interface QueuedMessage {
  queueId: string;
  arrivalTime: number;
  sender: string;
  recipients: QueuedRecipient[];
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  smtputf8?: boolean;
  bodyType?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  /** As NewMessage: REQUIRETLS and "TLS-Required: No". */
  requiretls?: boolean;
  tlsRequiredNo?: boolean;
  client: ClientInfo;
  hold: boolean;
  /** content_filter or a FILTER action ("transport:destination"), as NewMessage. */
  filter?: string;
  /** sendmail -bv: verify only, as NewMessage. */
  verify?: boolean;
  headerLength: number;
  /** Content size in bytes. */
  size: number;
  location: BodyLocation;
  /** For a message whose body is in a file of its own: where in that file (location.file says the same). */
  bodyFile?: BodyFileRef;
  /** Set by `queue requeue`/`flush`: retry deferred recipients now. */
  forcedRetry?: boolean;
}

/** One recipient's outcome, as the delivery agents report and qmgr records. */
export interface RecipientOutcome {
  index: number;
  state: 'delivered' | 'deferred' | 'bounced' | 'expired';
  reason: string;
  dsn: string;
  nextAttempt?: number;
  delayNotified?: boolean;
  /** The next hop that gave the outcome ("host[ip]:port"), for the DSN's Remote-MTA. */
  relay?: string;
  /** The remote server's reply (one line, with codes) and the command it answered, for the DSN's Diagnostic-Code. */
  reply?: string;
  command?: string;
}

export type AdminAction = 'hold' | 'release' | 'delete' | 'requeue';

export interface QueueCounts {
  incoming: number;
  active: number;
  deferred: number;
  hold: number;
  corrupt: number;
  total: number;
}

/** Error codes of the store; callers branch on these. */
export const STORE_ERRORS = {
  /** ENOSPC or EIO while appending: temporary, smtpd answers 4xx. */
  FULL: 'ERR_STORE_FULL',
  IO: 'ERR_STORE_IO',
  CLOSED: 'ERR_STORE_CLOSED',
  NOT_FOUND: 'ERR_STORE_NOT_FOUND',
  /**
   * append() of a queue id the queue already holds (queued or being written):
   * refused, never overwritten; the caller answers 4xx or tries a fresh id.
   */
  DUPLICATE_ID: 'ERR_STORE_DUPLICATE_ID',
} as const;
