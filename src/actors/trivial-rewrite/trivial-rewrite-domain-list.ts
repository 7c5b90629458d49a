/**
 * trivial-rewrite-domain-list: Postfix's domain lists (mydestination,
 * relay_domains, virtual_*_domains): literal names, ".parent" patterns,
 * "!" exclusions and type:table entries in which the domain is a key. A
 * table that cannot be opened or read throws TableLookupError.
 */
import { splitList } from '../../config/main-config.js';
import type { LookupTable } from '../../config/lookup-table.js';
import { lookup, openMaps } from './trivial-rewrite-tables.js';

type Entry = { negate: boolean; literal?: string; table?: LookupTable };

/** A compiled domain list. */
export class DomainList {
  private readonly entries: Entry[] = [];

  /**
   * @param value the parameter's value
   * @param parentMatches true for parameters listed in parent_domain_matches_subdomains
   *   (a plain "example.com" then also matches its subdomains)
   */
  constructor(value: string, baseDir: string, name: string, private readonly parentMatches: boolean) {
    for (let item of splitList(value)) {
      let negate = false;
      while (item.startsWith('!')) {
        negate = !negate;
        item = item.slice(1);
      }
      if (/^[a-z0-9_-]+:/i.test(item) && !item.startsWith('[')) {
        const table = openMaps(item, baseDir, name);
        if (table) this.entries.push({ negate, table });
      } else if (item) {
        let literal = item.toLowerCase();
        if (literal.endsWith('.')) literal = literal.slice(0, -1);
        this.entries.push({ negate, literal });
      }
    }
  }

  get empty(): boolean {
    return this.entries.length === 0;
  }

  /** True when the (lowercase) domain is in the list; the first matching entry decides. */
  match(domain: string): boolean {
    if (!domain) return false;
    for (const e of this.entries) {
      if (e.literal !== undefined ? this.matchLiteral(e.literal, domain) : this.matchTable(e.table!, domain)) return !e.negate;
    }
    return false;
  }

  private matchLiteral(pattern: string, domain: string): boolean {
    if (pattern === domain) return true;
    if (pattern.startsWith('.')) return domain.endsWith(pattern);
    return this.parentMatches && domain.endsWith(`.${pattern}`);
  }

  private matchTable(table: LookupTable, domain: string): boolean {
    if (lookup(table, domain) !== undefined) return true;
    let rest = domain;
    for (let dot = rest.indexOf('.'); dot > 0; dot = rest.indexOf('.')) {
      rest = rest.slice(dot + 1);
      if (!rest) break;
      if (lookup(table, this.parentMatches ? rest : `.${rest}`, true) !== undefined) return true;
    }
    return false;
  }
}

/** True when `name` is in Postfix's parent_domain_matches_subdomains default (or the given value). */
export function parentMatchesSubdomains(value: string | undefined, name: string): boolean {
  const list = value ?? 'debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps';
  return splitList(list).includes(name);
}
