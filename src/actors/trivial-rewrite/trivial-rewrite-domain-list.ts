/**
 * trivial-rewrite-domain-list: Postfix's domain lists (mydestination,
 * relay_domains, virtual_*_domains) as trivial-rewrite uses them: the
 * matching itself is config/access-lookup's compileDomainList (literal
 * names, ".parent" patterns, "!" exclusions, type:table entries in which
 * the domain is a key); this adds the parameter's name to failures. A table
 * that cannot be opened or read throws TableLookupError, so the caller
 * defers mail instead of bouncing it.
 */
import { compileDomainList, type DomainMatcher } from '../../config/access-lookup.js';
import { splitList } from '../../config/main-config.js';
import { parameterInfo } from '../../config/parameters.js';
import { TableLookupError } from './trivial-rewrite-tables.js';

/** A compiled domain list. */
export class DomainList {
  private readonly matcher: DomainMatcher;

  /**
   * @param value the parameter's value
   * @param name the parameter's name, for error texts
   * @param parentMatches true for parameters listed in parent_domain_matches_subdomains
   *   (a plain "example.com" then also matches its subdomains)
   * @throws TableLookupError when a table of the list cannot be opened
   */
  constructor(value: string, baseDir: string, private readonly name: string, parentMatches: boolean) {
    try {
      this.matcher = compileDomainList(splitList(value), baseDir, parentMatches);
    } catch (err) {
      throw new TableLookupError(`${name}: ${(err as Error).message}`);
    }
  }

  /**
   * True when the domain is in the list; the first matching entry decides.
   * @throws TableLookupError when a table of the list fails the lookup
   */
  match(domain: string): boolean {
    try {
      return this.matcher.match(domain);
    } catch (err) {
      throw new TableLookupError(`${this.name}: lookup of ${domain}: ${(err as Error).message}`);
    }
  }
}

/** True when `name` is in parent_domain_matches_subdomains: the given value, or the parameter table's default (Postfix's). */
export function parentMatchesSubdomains(value: string | undefined, name: string): boolean {
  const list = value ?? parameterInfo('parent_domain_matches_subdomains')?.default ?? '';
  return splitList(list).includes(name);
}
