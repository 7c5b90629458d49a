/**
 * trivial-rewrite-map: one address looked up in an address-keyed table in
 * Postfix's order (global/mail-addr-find: user+ext@domain, user@domain,
 * user+ext and user when the domain is this host's, @domain), the unmatched
 * extension then carried into the result when propagate_unmatched_extensions
 * says so. Keys are lowercased (Postfix's hash tables fold case; regexp
 * tables match case-insensitively by default); pattern tables see the full
 * address only. A failing table throws TableLookupError.
 */
import type { LookupTable } from '../../config/lookup-table.js';
import { mailAddrFind } from '../../global/mail-addr-find.js';
import { applyResult, splitAddress } from './trivial-rewrite-address.js';
import { lookup } from './trivial-rewrite-tables.js';

/** A table hit: the raw value, and how to turn each result address into the final one. */
export interface MapHit {
  value: string;
  apply(result: string): string;
}

/** How addresses are looked up: the delimiters, propagation, and which domains are this host's. */
export interface FindOptions {
  delimiters: string;
  propagate: boolean;
  /** $myorigin, $mydestination, [address] of this host: the local-part keys apply. */
  isLocal(domain: string): boolean;
}

/** Finds an address in a table; undefined when no form of it is there. */
export function findAddress(table: LookupTable, address: string, opts: FindOptions): MapHit | undefined {
  const hit = mailAddrFind((key, partial) => lookup(table, key, partial), address, { delimiters: opts.delimiters, isLocal: opts.isLocal });
  if (!hit) return undefined;
  const parts = splitAddress(address, opts.delimiters);
  const ext = opts.propagate ? hit.extension : '';
  return { value: hit.value, apply: (r) => applyResult(r, parts, ext) };
}

/** Splits a table value holding several addresses (commas and/or white space). */
export function splitAddresses(value: string): string[] {
  return value.split(/[\s,]+/).filter((s) => s !== '');
}
