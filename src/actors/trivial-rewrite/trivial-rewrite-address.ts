/**
 * trivial-rewrite-address: splitting an address into local part, extension
 * and domain, the way Postfix's lookups need it. Pure functions; any string
 * is accepted (a malformed address simply has no domain).
 */

/** An address taken apart. `domain` is lowercased, without a trailing dot; "" when absent. */
export interface AddressParts {
  local: string;
  domain: string;
  /** The local part without its extension (equal to `local` when there is none). */
  base: string;
  /** The extension including its delimiter ("+foo"), or "". */
  extension: string;
}

/** Splits at the last "@" and, when `delimiters` is set, at the first delimiter of the local part. */
export function splitAddress(address: string, delimiters: string): AddressParts {
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  let domain = at < 0 ? '' : address.slice(at + 1).toLowerCase();
  if (domain.endsWith('.')) domain = domain.slice(0, -1);
  let cut = -1;
  if (delimiters && local !== '') {
    for (let i = 0; i < local.length; i++) {
      if (delimiters.includes(local[i])) {
        cut = i;
        break;
      }
    }
  }
  // Postfix keeps owner-/-request style names whole: a leading delimiter is not an extension.
  if (cut <= 0) return { local, domain, base: local, extension: '' };
  return { local, domain, base: local.slice(0, cut), extension: local.slice(cut) };
}

/** Joins a local part and a domain; a bare local part when the domain is empty. */
export function joinAddress(local: string, domain: string): string {
  return domain ? `${local}@${domain}` : local;
}

/**
 * Applies a table result to an address: a result "@domain" keeps the local
 * part; otherwise the result replaces the address, and the unmatched
 * extension is carried into it when `extension` is given.
 */
export function applyResult(result: string, parts: AddressParts, extension: string): string {
  const r = result.trim();
  if (r.startsWith('@')) return `${parts.local}${r}`;
  if (!extension) return r;
  const at = r.lastIndexOf('@');
  if (at < 0) return r + extension;
  return `${r.slice(0, at)}${extension}${r.slice(at)}`;
}
