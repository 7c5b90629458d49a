/**
 * smtp-channel: the protocol between the smtp client's session (nodemailer
 * keeps the connection, EHLO, STARTTLS, replies and timeouts) and the
 * transactions this side runs over it (smtp-data, smtp-bdat,
 * smtp-envelope): a command channel, the errors it makes, and what a
 * transaction reports.
 */

/** A nodemailer error as the client makes them: the fields the agent reads. */
export interface ClientError extends Error {
  code?: string;
  originalCode?: string;
  response?: string;
  responseCode?: number;
  command?: string;
  /** STARTTLS was required and the server did not offer it. */
  notOffered?: boolean;
}

/** What a transaction run on this side (DATA, BDAT, the verify envelope) needs of the client connection. */
export interface CommandChannel {
  /** Extensions of the server's EHLO reply, upper case. */
  readonly extensions: string[];
  /** Writes a command line (with the client's MAIL/RCPT parameters added); `onReply` gets its reply, in order. */
  command(line: string, onReply: (reply: string) => void): void;
  /** Writes bytes as they are. */
  write(data: Buffer): void;
  /** Holds writes until uncork(), so a burst leaves in one system call. */
  cork(): void;
  uncork(): void;
  /** Registers the transaction: a lost connection or a timeout calls `onLost` once. */
  begin(onLost: (err: ClientError) => void): void;
  /** Unregisters it. */
  end(): void;
  /** Drops the connection (a server that accepted what it should have refused is not trusted further). */
  close(): void;
  /** A nodemailer-style error carrying the server's reply. */
  error(message: string, code: string, response: string, command: string): ClientError;
}

/** The outcome of a DATA or BDAT transaction, as nodemailer's send() reported a DATA one. */
export interface SendResult {
  /** The server's reply to the last chunk when it accepted the message. */
  info?: { response: string };
  error?: ClientError;
  accepted: string[];
  rejectedErrors: ClientError[];
}
