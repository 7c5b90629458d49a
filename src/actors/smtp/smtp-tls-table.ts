/**
 * smtp-tls-table: Postfix's smtp_tls_policy_maps. The key is the next-hop
 * destination as written: "domain", "domain:port", "[host]", "[host]:port"
 * (the port only when not the default); a bare domain not found is looked
 * up again as each of its parents with a leading dot (".example.com"), as
 * Postfix does for this table whatever parent_domain_matches_subdomains
 * says. The value is a level and name=value attributes separated by
 * whitespace or commas: match= (":"-separated names for verify/secure,
 * "|"-separated digests for fingerprint; repeatable), ciphers= and
 * protocols= (":"-separated). parseTlsPolicyEntry returns an error text for
 * a value it cannot use (Postfix's "invalid" policy: the mail is deferred,
 * nothing goes out in plain text).
 */
import type { LookupTable } from '../../config/lookup-table.js';
import { tlsVersionRange } from '../../config/tls-protocols.js';
import type { TlsLevel } from './smtp-tls-policy-types.js';
import { CIPHER_GRADES } from './smtp-tls-options.js';

const LEVELS: readonly TlsLevel[] = ['none', 'may', 'encrypt', 'dane', 'dane-only', 'fingerprint', 'verify', 'secure'];

/** A parsed policy table entry. */
export interface TlsTableEntry {
  level: TlsLevel;
  match: string[];
  ciphers?: string;
  protocols?: string;
}

/** The key Postfix looks the policy table up by, for a nexthop. */
export function tlsPolicyKey(host: string, port: number, mxLookup: boolean, defaultPort = 25): string {
  const base = mxLookup ? host.toLowerCase() : `[${host.toLowerCase()}]`;
  return port === defaultPort ? base : `${base}:${port}`;
}

/** The table's value for `key`, trying ".parent" keys for a bare domain; undefined when none. */
export function lookupTlsPolicy(table: LookupTable, key: string): string | undefined {
  const exact = table.get(key);
  if (exact !== undefined) return exact;
  if (key.startsWith('[') || key.includes(':')) return undefined;
  const labels = key.split('.');
  for (let i = 1; i < labels.length; i++) {
    const v = table.getPartial('.' + labels.slice(i).join('.'));
    if (v !== undefined) return v;
  }
  return undefined;
}

/** Parses one table value; a string is the reason it is invalid. */
export function parseTlsPolicyEntry(value: string): TlsTableEntry | string {
  const words = value.split(/[\s,]+/).filter(Boolean);
  const level = (words.shift() ?? '').toLowerCase() as TlsLevel;
  if (!LEVELS.includes(level)) return `invalid TLS security level "${level}"`;
  const entry: TlsTableEntry = { level, match: [] };
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq <= 0) return `malformed attribute "${w}"`;
    const name = w.slice(0, eq).toLowerCase();
    const val = w.slice(eq + 1);
    if (level === 'none') return `attribute "${name}" at security level none`;
    if (name === 'match') {
      if (level !== 'fingerprint' && level !== 'verify' && level !== 'secure') return `attribute "match" at security level ${level}`;
      entry.match.push(...val.split(level === 'fingerprint' ? '|' : ':').filter(Boolean));
    } else if (name === 'ciphers') {
      if (!CIPHER_GRADES[val.toLowerCase()]) return `unknown cipher grade "${val}"`;
      entry.ciphers = val.toLowerCase();
    } else if (name === 'protocols') {
      try {
        tlsVersionRange(val.split(':'), 'protocols');
      } catch (err) {
        return (err as Error).message;
      }
      entry.protocols = val;
    } else {
      return `unsupported attribute "${name}"`;
    }
  }
  return entry;
}
