/**
 * smtpd-plain-address: the common MAIL FROM and RCPT TO, read without the
 * library's general parser. Nearly every command a relay gets is
 * "MAIL FROM:<local@domain>" or "RCPT TO:<local@domain>" with no
 * parameter; smtp-server's parser splits, joins and converts every one
 * (about a sixth of the smtpd thread's allocations, perf/smtpd/accept).
 * This reads only that plain form, and only where the library would take
 * the address as written: a dot-atom local part, an ASCII domain that is
 * no IP literal and has no A-label (which the library converts, and may
 * refuse), within the library's length and dot rules. Anything else
 * answers undefined and goes the library's way; the test holds both to the
 * same results on random commands.
 */

/** What the library's _parseAddressCommand returns for a command without parameters. */
export interface PlainAddress {
  address: string;
  args: false;
}

const VERB = { 'mail from': 'MAIL FROM:<', 'rcpt to': 'RCPT TO:<' } as const;

/** RFC 5321 atext and the dot (the dot rules are checked apart). */
const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/;
const DOMAIN = /^[A-Za-z0-9.-]+$/;
/** The library's cap on local@domain (RFC 5321 4.5.3.1.3, path of 256 with "<" and ">"). */
const MAX_ADDRESS = 253;

/** The library's reading of `command` when it is the plain form of `name` ('mail from' or 'rcpt to'); else undefined. */
export function plainAddressCommand(name: string, command: string): PlainAddress | undefined {
  const verb = VERB[name as keyof typeof VERB];
  if (!verb || command.length <= verb.length + 1 || command.charCodeAt(command.length - 1) !== 0x3e /* > */) return undefined;
  // The verb in any case, as the library compares it upper-cased.
  if (command.slice(0, verb.length).toUpperCase() !== verb) return undefined;
  const address = command.slice(verb.length, -1);
  const at = address.indexOf('@');
  if (at <= 0 || at === address.length - 1 || address.length > MAX_ADDRESS) return undefined;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (!LOCAL.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return undefined;
  if (!DOMAIN.test(domain) || domain.startsWith('.') || domain.endsWith('.') || domain.includes('..') || domain.includes('.-') || domain.includes('-.')) return undefined;
  if (/(^|\.)xn--/i.test(domain)) return undefined;
  return { address, args: false };
}
