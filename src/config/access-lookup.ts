/**
 * access-lookup: Postfix's access(5) search orders over a LookupTable, and
 * matching of mynetworks-style host lists and mydestination-style domain
 * lists. The first lookup of each search uses the whole key and is answered
 * by every table type; the partial keys that follow (parent domains, "user@",
 * address prefixes) are answered only by non-pattern tables, as Postfix
 * does. Lookup keys are lower-cased. Lookups never throw; compiling a list
 * throws ConfigError for a bad network or a table that fails to open.
 */
import { ConfigError } from './main-config.js';
import { networkContains, parseIp, parseNetwork, type IpNetwork } from './ip-address.js';
import { isTableSpec, openTable, type LookupTable } from './lookup-table.js';

/** Options of lookupEmail. */
export interface EmailLookupOptions {
  /** true (Postfix's default for smtpd_access_maps): parents are tried as "example.com"; false: as ".example.com". */
  parentDomainMatchesSubdomains?: boolean;
  /** recipient_delimiter: "user+ext@domain" is also tried as "user@domain" and "user@". */
  recipientDelimiter?: string;
  /** smtpd_null_access_lookup_key (default "<>"). */
  nullKey?: string;
}

function stripExtension(local: string, delimiters: string): string {
  if (!delimiters) return local;
  for (let k = 0; k < local.length; k++) {
    // Postfix never strips at position 0 (e.g. "+foo" or "-owner" special names).
    if (k > 0 && delimiters.includes(local[k])) return local.slice(0, k);
  }
  return local;
}

/**
 * Domain search: the domain (full key), then each parent as a partial key
 * ("example.com" or ".example.com" per `parentStyle`).
 */
export function lookupDomain(table: LookupTable, domain: string, parentStyle = true, full = true): string | undefined {
  let name = domain.toLowerCase().replace(/\.$/, '');
  if (!name) return undefined;
  const first = full ? table.get(name) : table.getPartial(name);
  if (first !== undefined) return first;
  for (let dot = name.indexOf('.', 1); dot > 0; dot = name.indexOf('.', 1)) {
    name = name.slice(dot + 1);
    const key = parentStyle ? name : '.' + name;
    const v = table.getPartial(key);
    if (v !== undefined) return v;
    if (!name) break;
  }
  return undefined;
}

/**
 * Email address search (check_sender_access / check_recipient_access):
 * user@domain, user@domain without its extension, domain and its parents,
 * user@ (with and without extension). The null address is looked up as
 * "<>" only.
 */
export function lookupEmail(table: LookupTable, address: string, opts: EmailLookupOptions = {}): string | undefined {
  const addr = address.trim().replace(/^<|>$/g, '').toLowerCase();
  if (addr === '') return table.get(opts.nullKey ?? '<>');
  const full = table.get(addr);
  if (full !== undefined) return full;
  const at = addr.lastIndexOf('@');
  const local = at >= 0 ? addr.slice(0, at) : addr;
  const domain = at >= 0 ? addr.slice(at + 1) : '';
  const bare = stripExtension(local, opts.recipientDelimiter ?? '');
  if (bare !== local) {
    const v = table.getPartial(domain ? `${bare}@${domain}` : bare);
    if (v !== undefined) return v;
  }
  if (domain) {
    const v = lookupDomain(table, domain, opts.parentDomainMatchesSubdomains ?? true, false);
    if (v !== undefined) return v;
  }
  const v = table.getPartial(`${local}@`);
  if (v !== undefined) return v;
  if (bare !== local) return table.getPartial(`${bare}@`);
  return undefined;
}

/** The shorter keys of an address: 1.2.3.4 -> 1.2.3, 1.2, 1; IPv6 truncated at ':' likewise. */
export function addressPrefixes(ip: string): string[] {
  const out: string[] = [];
  const delim = ip.includes(':') ? ':' : '.';
  let cur = ip;
  for (let k = cur.lastIndexOf(delim); k > 0; k = cur.lastIndexOf(delim)) {
    cur = cur.slice(0, k);
    if (cur && !cur.endsWith(delim)) out.push(cur);
  }
  return out;
}

/**
 * Client search (check_client_access): the hostname (unless "unknown" or
 * empty) and its parent domains, then the address (full key: cidr, regexp
 * and pcre tables answer it) and its shorter prefixes.
 */
export function lookupClient(table: LookupTable, hostname: string, ip: string, parentStyle = true): string | undefined {
  const host = hostname.trim().toLowerCase();
  if (host && host !== 'unknown') {
    const v = lookupDomain(table, host, parentStyle, true);
    if (v !== undefined) return v;
  }
  const addr = ip.trim().replace(/^\[|\]$/g, '').toLowerCase();
  if (!addr) return undefined;
  const v = table.get(addr);
  if (v !== undefined) return v;
  for (const key of addressPrefixes(addr)) {
    const p = table.getPartial(key);
    if (p !== undefined) return p;
  }
  return undefined;
}

type HostEntry =
  | { kind: 'net'; net: IpNetwork; negate: boolean }
  | { kind: 'name'; name: string; negate: boolean }
  | { kind: 'domain'; name: string; negate: boolean }
  | { kind: 'table'; table: LookupTable; negate: boolean };

/** A compiled host list: match(hostname, ip) -> true when listed. */
export interface HostMatcher {
  match(hostname: string, ip: string): boolean;
}

function compileEntries(list: readonly string[], baseDir: string, what: 'host' | 'domain'): HostEntry[] {
  const out: HostEntry[] = [];
  for (const raw of list) {
    let item = raw.trim();
    if (!item) continue;
    let negate = false;
    while (item.startsWith('!')) {
      negate = !negate;
      item = item.slice(1).trim();
    }
    if (what === 'host') {
      // Addresses first: "fe80::/10" must not be taken for a "fe80:" table.
      const net = parseNetwork(item.replace(/^\[([^\]]*)\]/, '$1'));
      if (typeof net === 'string') throw new ConfigError(net);
      if (net) {
        out.push({ kind: 'net', net, negate });
        continue;
      }
      if (/^\[|^[\d.]+\/\d+$/.test(item)) throw new ConfigError(`bad address pattern: "${raw}"`);
    }
    if (isTableSpec(item)) {
      out.push({ kind: 'table', table: openTable(item, baseDir), negate });
      continue;
    }
    const name = item.toLowerCase().replace(/\.$/, '');
    out.push(name.startsWith('.') ? { kind: 'domain', name, negate } : { kind: 'name', name, negate });
  }
  return out;
}

/** True when a name, ".domain" or table entry lists the host (negation not applied). */
function domainEntryMatches(e: HostEntry, host: string, subdomains: boolean): boolean {
  if (e.kind === 'name') return host === e.name || (subdomains && host.endsWith('.' + e.name));
  if (e.kind === 'domain') return host.endsWith(e.name);
  if (e.kind === 'table') return host !== '' && lookupDomain(e.table, host, subdomains, true) !== undefined;
  return false;
}

function domainMatches(entries: HostEntry[], host: string, subdomains: boolean): boolean | undefined {
  for (const e of entries) {
    if (domainEntryMatches(e, host, subdomains)) return !e.negate;
  }
  return undefined;
}

/**
 * Compiles a mynetworks-style list: CIDR networks ("10.0.0.0/8",
 * "[2001:db8::]/32"), bare addresses, host names, ".domain" (subdomains),
 * type:table entries (looked up by name, then by address) and "!" negation.
 * The first entry that matches decides; a bare domain name also matches its
 * subdomains (mynetworks is in parent_domain_matches_subdomains).
 */
export function compileHostList(list: readonly string[], baseDir: string): HostMatcher {
  const entries = compileEntries(list, baseDir, 'host');
  return {
    match(hostname: string, ip: string): boolean {
      const host = hostname.trim().toLowerCase().replace(/\.$/, '');
      const addr = parseIp(ip);
      for (const e of entries) {
        let hit = false;
        if (e.kind === 'net') hit = addr !== null && networkContains(e.net, addr);
        else if (e.kind === 'table') hit = lookupClient(e.table, host, ip) !== undefined;
        else if (host && host !== 'unknown') hit = domainEntryMatches(e, host, true);
        if (hit) return !e.negate;
      }
      return false;
    },
  };
}

const hostListCache = new Map<string, HostMatcher>();

/**
 * matchHostList(list, hostname, ip, baseDir): true when the client is in
 * the list. Compiled lists are cached by content; callers that reload
 * configuration should use compileHostList per load so table files are
 * read again.
 */
export function matchHostList(list: readonly string[], hostname: string, ip: string, baseDir: string): boolean {
  const key = `${baseDir}\0${list.join('\0')}`;
  let m = hostListCache.get(key);
  if (!m) {
    m = compileHostList(list, baseDir);
    if (hostListCache.size > 256) hostListCache.clear();
    hostListCache.set(key, m);
  }
  return m.match(hostname, ip);
}

/** A compiled domain list (mydestination, relay_domains, virtual_*_domains). */
export interface DomainMatcher {
  match(domain: string): boolean;
}

/**
 * Compiles a mydestination-style list: names, ".domain", type:table entries
 * and "!" negation. `matchSubdomains`: a bare name also matches its
 * subdomains (Postfix does this for relay_domains, not for mydestination).
 */
export function compileDomainList(list: readonly string[], baseDir: string, matchSubdomains: boolean): DomainMatcher {
  const entries = compileEntries(list, baseDir, 'domain');
  return {
    match(domain: string): boolean {
      const d = domain.trim().toLowerCase().replace(/\.$/, '');
      return domainMatches(entries, d, matchSubdomains) ?? false;
    },
  };
}
