/**
 * smtp-reply: the one place SMTP replies are made and read, so that reply
 * codes and enhanced status codes (RFC 3463) stay consistent everywhere.
 *
 * smtpReply() formats a reply line; smtpError() makes an Error that
 * smtp-server sends as the reply to the command a handler refuses (the
 * library writes `responseCode + " " + message`, so the message carries the
 * enhanced code in front of the text). readReply() is the one parser of a
 * reply (basic code, enhanced code, text); parseReply() reads it as an
 * access(5) table result, parseServerReply() as the smtp client reads a
 * remote server. Nothing here throws.
 */

/** Matches an enhanced status code at the start of a reply text ("5.7.1 "). */
export const ENHANCED_CODE_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;

/**
 * Detail of the enhanced code a remote server's reply gets when it carries
 * none (or one out of step with its basic code): X.0.0, as Postfix's smtp
 * client (smtp_chat) fills it in.
 */
export const SERVER_REPLY_DETAIL = '0.0';

/** Detail of the enhanced code an access table's "4NN text" gets: X.7.1, as Postfix's smtpd_check. */
export const ACCESS_REPLY_DETAIL = '7.1';

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

/** An SMTP reply, read by readReply(). */
export interface SmtpReplyParts {
  /** Basic code (e.g. 550); 0 when the reply does not start with one. */
  code: number;
  /** The enhanced status code the reply gave, or its class with the default detail. */
  dsn: string;
  /** The text after the codes; an enhanced code that was not taken stays in it. */
  text: string;
  /** The whole reply as one line (multi-line replies joined with spaces, as Postfix logs them). */
  line: string;
}

/** The DSN class digit of a basic code: 2, 4 or 5 (anything else counts as 4). */
export function replyClass(code: number): 2 | 4 | 5 {
  const c = Math.floor(code / 100);
  return c === 2 || c === 5 ? c : 4;
}

// Postfix's rule: exactly three digits, then a space, a "-" (continuation) or the end; anything else is garbage.
const BASIC_CODE = /^(\d{3})(?:[ \t-]+|$)/;
const ENHANCED_CODE = /^([245])\.\d{1,3}\.\d{1,3}(?=\s|$)/;

/**
 * Reads a reply ("550 5.1.1 text"; multi-line replies as lines joined with
 * "\n"). The enhanced code is taken only when its class digit is the basic
 * code's first digit (Postfix ignores one out of step, and one with a 3xx
 * reply); otherwise the dsn is the reply's class with `defaultDetail`
 * ("0.0" or "7.1"). A reply without a code reads as code 0, class 4.
 */
export function readReply(raw: string, defaultDetail: string): SmtpReplyParts {
  const line = raw.replace(/\r?\n/g, ' ').replace(/\s+$/, '');
  const basic = BASIC_CODE.exec(line);
  if (!basic) return { code: 0, dsn: `4.${defaultDetail}`, text: line.trim(), line };
  const code = Number(basic[1]);
  const rest = line.slice(basic[0].length);
  const enhanced = ENHANCED_CODE.exec(rest);
  if (enhanced && enhanced[1] === basic[1][0]) {
    return { code, dsn: enhanced[0], text: rest.slice(enhanced[0].length).trim(), line };
  }
  return { code, dsn: `${replyClass(code)}.${defaultDetail}`, text: rest.trim(), line };
}

/**
 * Splits "4xx/5xx text" as an access(5) table or a content filter gives it
 * into code, enhanced code and text; the enhanced code defaults to X.7.1 as
 * Postfix does. Returns undefined when the value does not start with a 4xx
 * or 5xx code.
 */
export function parseReply(value: string): { code: number; dsn: string; text: string } | undefined {
  const reply = readReply(value.trim(), ACCESS_REPLY_DETAIL);
  if (reply.code < 400 || reply.code > 599) return undefined;
  return { code: reply.code, dsn: reply.dsn, text: reply.text };
}

/** A remote server's reply as the smtp client reports it. */
export interface RemoteReply {
  /** Basic code (e.g. 550); 0 when the text had none. */
  code: number;
  /** Enhanced status code from the reply, or X.0.0 of the basic code's class. */
  dsn: string;
  /** The reply as one line, codes included (as Postfix logs it after "said:"). */
  text: string;
}

/**
 * Reads a remote reply as nodemailer hands it (lines joined with "\n"); a
 * reply without a readable code maps to a 4.0.0 deferral.
 */
export function parseServerReply(raw: string): RemoteReply {
  const reply = readReply(raw, SERVER_REPLY_DETAIL);
  return { code: reply.code, dsn: reply.dsn, text: reply.line };
}

/**
 * Postfix's soft_bounce for a reply about to be sent: a 5xx code becomes
 * 4xx, and an enhanced status code at the start of the text follows it
 * ("550 5.1.1 ..." goes out as "450 4.1.1 ..."). Other replies are unchanged.
 */
export function softBounced(code: number, text: string): { code: number; text: string } {
  if (code < 500 || code > 599) return { code, text };
  return { code: code - 100, text: text.replace(/^5(\.\d{1,3}\.\d{1,3} )/, '4$1') };
}
