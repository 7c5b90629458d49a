/**
 * trivial-rewrite-tables: opening the lookup tables a parameter names, and
 * querying them so that a table failure becomes a TableLookupError (code
 * ERR_TABLE_LOOKUP) the caller turns into a temporary failure, as Postfix
 * defers mail when a map cannot be read.
 */
import { openTableList, TableLookupError, type LookupTable } from '../../config/lookup-table.js';

// The lookup tables' own failure: a table that could not be opened or read; mail should be deferred, not bounced.
export { TableLookupError };

/** Opens the table list in a parameter's value; undefined when the value is empty. */
export function openMaps(value: string, baseDir: string, name: string): LookupTable | undefined {
  if (!value.trim()) return undefined;
  try {
    return openTableList(value, baseDir);
  } catch (err) {
    throw new TableLookupError(`${name}: ${(err as Error).message}`);
  }
}

/**
 * Looks a key up; a failing table throws TableLookupError naming its spec.
 * `partial` keys (a parent domain, "@domain", an address without its
 * extension) are not answered by pattern tables, as in Postfix.
 */
export function lookup(table: LookupTable, key: string, partial = false): string | undefined {
  try {
    return partial ? table.getPartial(key) : table.get(key);
  } catch (err) {
    throw new TableLookupError(`${table.spec}: lookup of ${key}: ${(err as Error).message}`);
  }
}
