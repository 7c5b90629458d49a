/**
 * trivial-rewrite-address: an address taken apart (global/mail-addr-find's
 * splitAddress) and put back together, and a table result applied to it.
 * Pure functions; any string is accepted (a malformed address simply has no
 * domain).
 */
import { propagateExtension, splitAddress, type AddressParts } from '../../global/mail-addr-find.js';

export { splitAddress, type AddressParts };

/** Joins a local part and a domain; a bare local part when the domain is empty. */
export function joinAddress(local: string, domain: string): string {
  return domain ? `${local}@${domain}` : local;
}

/**
 * Applies a table result to an address: a result "@domain" keeps the local
 * part (its extension too); otherwise the result replaces the address, and
 * the unmatched extension is carried into it when `extension` is given.
 */
export function applyResult(result: string, parts: AddressParts, extension: string): string {
  const r = result.trim();
  if (r.startsWith('@')) return `${parts.local}${r}`;
  return propagateExtension(r, extension);
}
