/**
 * smtp-reply: the reason texts Postfix's smtp(8) logs for a remote reply or
 * a socket failure, e.g.
 *   "host mx.example.com[192.0.2.1] said: 550 5.1.1 ... (in reply to RCPT TO command)".
 * Reading the reply itself is util/smtp-reply's parseServerReply(). Pure
 * functions; nothing throws.
 */
import type { RemoteReply } from '../../util/smtp-reply.js';

/** "host.example[192.0.2.1]" as Postfix names a peer in reasons. */
export function peerName(hostname: string, address: string): string {
  return `${hostname}[${address}]`;
}

/** "host X[ip] said: REPLY (in reply to COMMAND command)". */
export function saidReason(peer: string, reply: RemoteReply, command: string): string {
  return `host ${peer} said: ${reply.text} (in reply to ${command} command)`;
}

/**
 * A remote refusal as an outcome carries it: the reason as Postfix logs it
 * (for people), and the reply and command as fields (for the DSN), so
 * nothing downstream parses the text back.
 */
export function saidOutcome(peer: string, reply: RemoteReply, command: string): { reason: string; reply: string; command: string } {
  return { reason: saidReason(peer, reply, command), reply: reply.text, command };
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
