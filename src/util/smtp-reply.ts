/**
 * smtp-reply: the one place SMTP replies are made, so that reply codes and
 * enhanced status codes (RFC 3463) stay consistent everywhere.
 *
 * smtpReply() formats a reply line; smtpError() makes an Error that
 * smtp-server sends as the reply to the command a handler refuses (the
 * library writes `responseCode + " " + message`, so the message carries the
 * enhanced code in front of the text). Nothing here throws.
 */

/** Matches an enhanced status code at the start of a reply text ("5.7.1 "). */
export const ENHANCED_CODE_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;

/** A refusal carrying its SMTP reply; smtp-server reads `responseCode`. */
export class SmtpReplyError extends Error {
  readonly code = 'ERR_SMTP_REPLY';
  constructor(
    readonly responseCode: number,
    readonly dsn: string,
    readonly text: string,
  ) {
    super(`${dsn} ${text}`);
  }

  /** The whole reply line, without CRLF. */
  get reply(): string {
    return smtpReply(this.responseCode, this.dsn, this.text);
  }
}

/** One reply line: "554 5.7.1 text" (no CRLF). */
export function smtpReply(code: number, dsn: string, text: string): string {
  return `${code} ${dsn} ${text}`;
}

/** An Error for smtp-server handlers whose reply is `code dsn text`. */
export function smtpError(code: number, dsn: string, text: string): SmtpReplyError {
  return new SmtpReplyError(code, dsn, text);
}

/**
 * Splits "4xx/5xx text" as an access(5) table or a content filter gives it
 * into code, enhanced code and text; the enhanced code defaults to X.7.1 as
 * Postfix does. Returns undefined when the value does not start with a code.
 */
export function parseReply(value: string): { code: number; dsn: string; text: string } | undefined {
  const m = /^([45]\d\d)(?:\s+([45]\.\d{1,3}\.\d{1,3}))?(?:\s+(.*))?$/s.exec(value.trim());
  if (!m) return undefined;
  const code = Number(m[1]);
  const rest = (m[3] ?? '').trim();
  if (m[2] && m[2][0] === m[1][0]) return { code, dsn: m[2], text: rest };
  // A missing or mismatched enhanced code: the default one, the text kept whole.
  return { code, dsn: `${m[1][0]}.7.1`, text: m[2] ? `${m[2]} ${rest}`.trim() : rest };
}
