/**
 * trivial-rewrite-virtual: virtual_alias_maps expansion, one address to
 * many, recursive, as Postfix's cleanup_map1n: an alias that lists itself
 * keeps that address; nesting deeper than virtual_alias_recursion_limit or a
 * result longer than virtual_alias_expansion_limit is an AliasExpansionError
 * (Postfix defers such mail with "4.6.0 Alias expansion error"). A failing
 * table throws TableLookupError.
 */
import type { LookupTable } from '../../config/lookup-table.js';
import { findAddress, splitAddresses, type FindOptions } from './trivial-rewrite-map.js';

/** Expansion too deep or too wide. */
export class AliasExpansionError extends Error {
  readonly code = 'ERR_ALIAS_EXPANSION';
}

export interface VirtualOptions extends FindOptions {
  recursionLimit: number;
  expansionLimit: number;
  /** Completes a bare local part (append_at_myorigin). */
  qualify(address: string): string;
}

/** Expands one address; the result has no duplicates (compared case-insensitively). */
export function expandVirtual(table: LookupTable, address: string, opts: VirtualOptions): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const push = (a: string): void => {
    const key = a.toLowerCase();
    if (seen.has(key)) return;
    seen.add(key);
    out.push(a);
    if (out.length > opts.expansionLimit) {
      throw new AliasExpansionError(`unreasonable virtual_alias_maps map expansion size for ${address}`);
    }
  };
  const walk = (addr: string, depth: number): void => {
    if (depth > opts.recursionLimit) {
      throw new AliasExpansionError(`unreasonable virtual_alias_maps map nesting for ${address}`);
    }
    const hit = findAddress(table, addr, opts);
    if (!hit) {
      push(addr);
      return;
    }
    const lower = addr.toLowerCase();
    for (const raw of splitAddresses(hit.value)) {
      const next = opts.qualify(hit.apply(raw));
      if (next.toLowerCase() === lower) push(next);
      else walk(next, depth + 1);
    }
  };
  walk(address, 0);
  return out;
}
