/**
 * smtp-reply: reads remote SMTP replies (basic and enhanced status codes)
 * and builds the reason texts Postfix's smtp(8) logs:
 *   "host mx.example.com[192.0.2.1] said: 550 5.1.1 ... (in reply to RCPT TO command)".
 * Pure functions; a reply without a readable code maps to a 4.0.0 deferral.
 */

/** A remote reply, read. */
export interface RemoteReply {
  /** Basic code (e.g. 550); 0 when the text had none. */
  code: number;
  /** Enhanced status code from the reply, or derived from the basic code. */
  dsn: string;
  /** The reply as one line (multi-line replies joined with spaces, as Postfix logs them). */
  text: string;
}

/** The DSN class digit of a basic code: 2, 4 or 5 (anything else counts as 4). */
export function replyClass(code: number): 2 | 4 | 5 {
  const c = Math.floor(code / 100);
  return c === 2 || c === 5 ? c : 4;
}

/** Reads a reply string as nodemailer hands it (lines joined with "\n"). */
export function parseReply(raw: string): RemoteReply {
  const text = raw.replace(/\r?\n/g, ' ').replace(/\s+$/, '');
  const m = /^(\d{3})[ -]?(?:([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$))?/.exec(text);
  const code = m ? Number(m[1]) : 0;
  const cls = code ? replyClass(code) : 4;
  // An enhanced code whose class contradicts the basic code is ignored, as Postfix does.
  const dsn = m && m[2] && Number(m[2]) === cls ? `${m[2]}.${m[3]}.${m[4]}` : `${cls}.0.0`;
  return { code, dsn, text };
}

/** "host.example[192.0.2.1]" as Postfix names a peer in reasons. */
export function peerName(hostname: string, address: string): string {
  return `${hostname}[${address}]`;
}

/** "host X[ip] said: REPLY (in reply to COMMAND command)". */
export function saidReason(peer: string, reply: RemoteReply, command: string): string {
  return `host ${peer} said: ${reply.text} (in reply to ${command} command)`;
}

/** A dsn forced into class 4 (Postfix defers what it would not bounce, e.g. a 5xx greeting with smtp_skip_5xx_greeting). */
export function softDsn(dsn: string): string {
  return dsn.startsWith('5.') ? `4.${dsn.slice(2)}` : dsn;
}

/** Text of a system error code as Postfix (strerror) words it. */
export function socketErrorText(err: unknown): string {
  const code = (err as { code?: string; originalCode?: string })?.originalCode ?? (err as { code?: string })?.code;
  switch (code) {
    case 'ECONNREFUSED': return 'Connection refused';
    case 'ETIMEDOUT': return 'Connection timed out';
    case 'EHOSTUNREACH': return 'No route to host';
    case 'ENETUNREACH': return 'Network is unreachable';
    case 'ECONNRESET': return 'Connection reset by peer';
    case 'EADDRNOTAVAIL': return 'Cannot assign requested address';
    default: return (err as Error)?.message || 'unknown error';
  }
}
