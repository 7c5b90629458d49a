/**
 * cleanup-received: the Received: header cleanup prepends, in Postfix's
 * layout (smtpd's for network mail, pickup's for local submissions). Pure;
 * never throws.
 */
import type { CleanupInput } from './cleanup-types.js';
import { mailDate } from '../global/mail-date.js';

/** The address in brackets as Postfix writes it: "[1.2.3.4]" or "[IPv6:::1]". */
function bracketAddr(addr: string): string {
  return addr.includes(':') ? `[IPv6:${addr}]` : `[${addr}]`;
}

/**
 * Builds the Received header with its final CRLF:
 *   Received: from HELO (NAME [ADDR])
 *   \t(TLS info)
 *   \t(Authenticated sender: USER)
 *   \tby MYHOSTNAME (Postrider) with PROTOCOL id QUEUEID
 *   \tfor <RCPT>; DATE
 * or, for local submissions, "Received: by MYHOSTNAME (Postrider, from userid N)\r\n\tid QUEUEID; DATE".
 */
export function receivedHeader(input: CleanupInput, myhostname: string, defaultUserid: number): string {
  const date = mailDate(input.arrivalTime);
  if (input.local) {
    return `Received: by ${myhostname} (Postrider, from userid ${input.userid ?? defaultUserid})\r\n\tid ${input.queueId}; ${date}\r\n`;
  }
  const c = input.client;
  const helo = input.heloName || c.helo || c.name;
  let text = `Received: from ${helo} (${c.name} ${bracketAddr(c.addr)})\r\n`;
  if (input.tlsInfo) text += `\t${input.tlsInfo}\r\n`;
  // A comment: parentheses, backslashes and controls would end or break it.
  if (input.authenticatedSender) text += `\t(Authenticated sender: ${input.authenticatedSender.replace(/[()\\\x00-\x1f\x7f]/g, '?')})\r\n`;
  text += `\tby ${myhostname} (Postrider) with ${c.protocol || 'SMTP'} id ${input.queueId}`;
  const rcpt = input.recipients.length === 1 ? input.recipients[0].address : undefined;
  text += rcpt !== undefined ? `\r\n\tfor <${rcpt}>; ${date}\r\n` : `; ${date}\r\n`;
  return text;
}
