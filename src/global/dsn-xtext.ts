/**
 * dsn-xtext: RFC 3461 xtext decoding of the DSN values smtpd receives
 * (ORCPT's address, ENVID), so the queue holds them as text, as Postfix's
 * smtpd stores them, and the smtp client encodes them once when it passes
 * them on. decodeXtext never throws: a "+" not followed by two hex digits
 * is kept as it came.
 */

/** The text an xtext stands for: each "+HH" becomes the character HH. */
export function decodeXtext(xtext: string): string {
  if (!xtext.includes('+')) return xtext;
  return xtext.replace(/\+([0-9A-Fa-f]{2})/g, (_m, hh: string) => String.fromCharCode(parseInt(hh, 16)));
}

/** An ORCPT parameter ("addr-type;xtext") with its address decoded. */
export function decodeOrcpt(orcpt: string): string {
  const semi = orcpt.indexOf(';');
  return semi < 0 ? orcpt : `${orcpt.slice(0, semi)};${decodeXtext(orcpt.slice(semi + 1))}`;
}
