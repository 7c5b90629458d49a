/**
 * table-types: what an open lookup table is, shared by every table type
 * (lookup-table.ts opens them; table-cidr.ts and table-regexp.ts implement
 * their own), so that the table types need not import the module that
 * opens them.
 */

/** An open lookup table. */
export interface LookupTable {
  /** The spec it was opened with, e.g. "hash:/etc/postfix/virtual". */
  readonly spec: string;
  /** The table type: "hash", "regexp", ..., or "list" for openTableList. */
  readonly type: string;
  /** Full-key lookup. Keys of hash-like and inline tables are case-insensitive. */
  get(key: string): string | undefined;
  /**
   * Partial-key lookup (parent domains, "user@", address prefixes): pattern
   * tables (regexp, pcre, cidr) do not answer these, as in Postfix.
   */
  getPartial(key: string): string | undefined;
  /**
   * True when some pattern needs the backtracking engine: a caller making
   * many lookups opens one time-budget scope around them (table-budget's
   * withMatchBudget) rather than paying one per lookup.
   */
  readonly backtracking?: boolean;
  /**
   * Every result the table can give, where they are fixed (static:, inline:,
   * the hash-like types); absent for pattern tables, whose results may
   * depend on the key. For checks of what a table may answer.
   */
  values?(): string[];
}
