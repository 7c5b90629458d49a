/**
 * trivial-rewrite-masquerade: Postfix's address masquerading
 * (masquerade_domains, masquerade_exceptions): "user@host.sub.example.com"
 * becomes "user@example.com" when example.com is listed. The list is tried
 * in order and the first entry that equals the domain or is a parent of it
 * decides: a plain entry strips the subdomain part (equal: nothing to do), a
 * "!entry" leaves the address alone. A local part listed in
 * masquerade_exceptions (names, or type:table keyed by the local part) is
 * never masqueraded. A failing exceptions table throws TableLookupError.
 */
import { splitList } from '../../config/main-config.js';
import type { LookupTable } from '../../config/lookup-table.js';
import { lookup, openMaps } from './trivial-rewrite-tables.js';

/** Compiled masquerade_domains and masquerade_exceptions. */
export class Masquerade {
  private readonly domains: string[];
  private readonly exceptions = new Set<string>();
  private readonly exceptionTables: LookupTable[] = [];

  constructor(domains: string, exceptions: string, baseDir: string) {
    this.domains = splitList(domains.toLowerCase()).map((d) => d.replace(/\.$/, ''));
    for (const e of splitList(exceptions)) {
      if (/^[a-z][a-z0-9_]*:/i.test(e)) {
        const t = openMaps(e, baseDir, 'masquerade_exceptions');
        if (t) this.exceptionTables.push(t);
      } else this.exceptions.add(e.toLowerCase());
    }
  }

  /** True when masquerade_domains is set. */
  get active(): boolean {
    return this.domains.length > 0;
  }

  /** The address masqueraded; the same address when no entry applies. */
  apply(address: string): string {
    if (!this.active) return address;
    const at = address.lastIndexOf('@');
    if (at < 0) return address;
    const local = address.slice(0, at);
    const domain = address.slice(at + 1).toLowerCase().replace(/\.$/, '');
    for (const entry of this.domains) {
      const excluded = entry.startsWith('!');
      const name = excluded ? entry.slice(1) : entry;
      if (!name) continue;
      if (domain === name) return address;
      if (!domain.endsWith(`.${name}`)) continue;
      if (excluded || this.isException(local)) return address;
      return `${local}@${name}`;
    }
    return address;
  }

  private isException(local: string): boolean {
    const key = local.toLowerCase();
    if (this.exceptions.has(key)) return true;
    return this.exceptionTables.some((t) => lookup(t, key) !== undefined);
  }
}
