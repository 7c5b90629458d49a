/**
 * mail-addr-find: Postfix's lookup order for address-keyed tables
 * (virtual(5), canonical(5), virtual_mailbox_maps, the recipient tables, and
 * aliases(5) by local part), in one place for every user:
 *
 *   user+ext@domain   the address as given
 *   user@domain       without its extension (recipient_delimiter)
 *   user+ext, user    only when the domain is this host's (isLocal: $myorigin,
 *                     $mydestination, [address] of an interface), or the address has none
 *   @domain           the catch-all
 *
 * aliases(5) (`localPart`) tries only user+ext, then user.
 *
 *   mailAddrFind(lookup, address, opts) -> { value, key, extension } | undefined
 *   splitLocalPart(local, delimiters)   -> { base, extension }
 *   splitAddress(address, delimiters)   -> local part, domain, base, extension
 *   propagateExtension(result, ext)     -> the result with the unmatched extension in its local part
 *
 * The extension is the first character of the local part that is in
 * recipient_delimiter (which may hold several) and what follows; as in
 * Postfix it is never split off at the first character, nor from
 * "postmaster" and "MAILER-DAEMON", nor (with "-" a delimiter) from
 * "owner-*" and "*-request" list addresses. Keys are lowercased. Only the
 * full address (and in localPart mode the full local part) is a full key;
 * the others are partial, which pattern tables do not answer (Postfix's
 * DICT_FLAG_FIXED). A failing lookup's exception goes to the caller.
 */

/** A table lookup: the value for `key`, or undefined; `partial` for keys pattern tables must not see. */
export type AddrLookup = (key: string, partial: boolean) => string | undefined;

export interface AddrFindOptions {
  /** recipient_delimiter: every character is a delimiter; "" for none. */
  delimiters: string;
  /** True when the domain is this host's, which enables the "user+ext" and "user" keys. */
  isLocal?: (domain: string) => boolean;
  /** aliases(5): the address is a bare local part; only "user+ext" and "user" are tried. */
  localPart?: boolean;
}

/** A hit: the table's value, the key that found it, and the extension the key did not include ("" when none). */
export interface AddrFindHit {
  value: string;
  key: string;
  /** The unmatched extension with its delimiter ("+tag"): to be carried into the result per propagate_unmatched_extensions. */
  extension: string;
}

/** An address taken apart. `domain` is lowercased, without a trailing dot; "" when absent. */
export interface AddressParts {
  local: string;
  domain: string;
  /** The local part without its extension (equal to `local` when there is none). */
  base: string;
  /** The extension including its delimiter ("+foo"), or "". */
  extension: string;
}

/** Splits a local part at its first delimiter character, under Postfix's exceptions (see the file comment). */
export function splitLocalPart(local: string, delimiters: string): { base: string; extension: string } {
  const whole = { base: local, extension: '' };
  if (!delimiters || local === '') return whole;
  const lower = local.toLowerCase();
  if (lower === 'postmaster' || lower === 'mailer-daemon') return whole;
  if (delimiters.includes('-') && (lower.startsWith('owner-') || lower.endsWith('-request'))) return whole;
  for (let i = 1; i < local.length; i++) {
    if (delimiters.includes(local[i])) return { base: local.slice(0, i), extension: local.slice(i) };
  }
  return whole;
}

/** Splits at the last "@", then the local part at its extension. */
export function splitAddress(address: string, delimiters: string): AddressParts {
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  let domain = at < 0 ? '' : address.slice(at + 1).toLowerCase();
  if (domain.endsWith('.')) domain = domain.slice(0, -1);
  return { local, domain, ...splitLocalPart(local, delimiters) };
}

/** Finds an address in a table in Postfix's order; undefined when no form of it is there. */
export function mailAddrFind(lookup: AddrLookup, address: string, opts: AddrFindOptions): AddrFindHit | undefined {
  const p = splitAddress(address, opts.delimiters);
  const local = p.local.toLowerCase();
  const base = p.base.toLowerCase();
  const ext = p.extension;
  const keys: Array<[key: string, partial: boolean, extension: string]> = [];
  if (opts.localPart) {
    keys.push([local, false, '']);
    if (ext) keys.push([base, true, ext]);
  } else {
    const domain = p.domain;
    keys.push([domain ? `${local}@${domain}` : local, false, '']);
    if (ext && domain) keys.push([`${base}@${domain}`, true, ext]);
    if (domain && opts.isLocal?.(domain)) {
      keys.push([local, true, '']);
      if (ext) keys.push([base, true, ext]);
    } else if (!domain && ext) {
      keys.push([base, true, ext]);
    }
    if (domain) keys.push([`@${domain}`, true, '']);
  }
  for (const [key, partial, extension] of keys) {
    const value = lookup(key, partial);
    if (value !== undefined) return { value, key, extension };
  }
  return undefined;
}

/**
 * Carries an unmatched extension into a result address: into its local
 * part, before the "@" (Postfix's propagate_unmatched_extensions).
 */
export function propagateExtension(result: string, extension: string): string {
  if (!extension) return result;
  const at = result.lastIndexOf('@');
  if (at < 0) return result + extension;
  return `${result.slice(0, at)}${extension}${result.slice(at)}`;
}
