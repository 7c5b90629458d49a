/**
 * trivial-rewrite-map: one address looked up in an address-keyed table as
 * Postfix's mail_addr_find does it: the full address, then the address
 * without its recipient_delimiter extension (the extension then carried into
 * the result when propagate_unmatched_extensions says so), then "@domain".
 * Keys are lowercased (Postfix's hash tables fold case; regexp tables match
 * case-insensitively by default); pattern tables see the full address only. A failing table throws TableLookupError.
 */
import type { LookupTable } from '../../config/lookup-table.js';
import { applyResult, joinAddress, splitAddress, type AddressParts } from './trivial-rewrite-address.js';
import { lookup } from './trivial-rewrite-tables.js';

/** A table hit: the raw value, and how to turn each result address into the final one. */
export interface MapHit {
  value: string;
  apply(result: string): string;
}

/** Finds an address in a table; undefined when no form of it is there. */
export function findAddress(table: LookupTable, address: string, delimiters: string, propagate: boolean): MapHit | undefined {
  const parts: AddressParts = splitAddress(address, delimiters);
  const full = joinAddress(parts.local, parts.domain).toLowerCase();
  let value = lookup(table, full);
  if (value !== undefined) return { value, apply: (r) => applyResult(r, parts, '') };
  if (parts.extension) {
    value = lookup(table, joinAddress(parts.base, parts.domain).toLowerCase(), true);
    const ext = propagate ? parts.extension : '';
    if (value !== undefined) return { value, apply: (r) => applyResult(r, parts, ext) };
  }
  if (parts.domain) {
    value = lookup(table, `@${parts.domain}`, true);
    if (value !== undefined) return { value, apply: (r) => applyResult(r, parts, '') };
  }
  return undefined;
}

/** Splits a table value holding several addresses (commas and/or white space). */
export function splitAddresses(value: string): string[] {
  return value.split(/[\s,]+/).filter((s) => s !== '');
}
