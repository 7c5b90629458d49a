/**
 * table-aliases: alias databases in aliases(5) format, as Postfix's
 * postalias(1) reads them: "name: value, value, ..." lines, a line that
 * starts with white space continues the previous one, "#" comments, a
 * name may be quoted ("name with space": ...). Names are folded to lower
 * case; the first of duplicate names wins. A hash-like table that
 * alias_maps or alias_database names (hash:, texthash:, btree:, ...) is read
 * this way, from its text file (no database files); other types (regexp:,
 * inline:, static:, ...) are opened as any table.
 * Public: parseAliases (text -> entries, throws ConfigError naming file and
 * line), openAliasTable / openAliasTableList (throw ConfigError naming the
 * spec), isTextTable.
 */
import { ConfigError, splitList } from './main-config.js';
import { logicalLines } from './main-cf.js';
import { MapTable, openTable, readTableFile, splitSpec, tablePath, TableList } from './lookup-table.js';
import type { LookupTable } from './table-types.js';

const TEXT_TYPES = new Set(['texthash', 'hash', 'btree', 'lmdb', 'cdb', 'dbm', 'sdbm']);

/** One alias: its name (lower case), its value as written, and its line. */
export interface AliasEntry {
  name: string;
  value: string;
  line: number;
}

/** True for the table types read from a text file (postmap/postalias sources). */
export function isTextTable(spec: string): boolean {
  const parts = splitSpec(spec);
  return parts !== null && TEXT_TYPES.has(parts.type);
}

/** Parses aliases(5) text; `file` names the file in errors. Throws ConfigError on a line without "name:". */
export function parseAliases(text: string, file: string): AliasEntry[] {
  const out: AliasEntry[] = [];
  for (const l of logicalLines(text)) {
    const t = l.text;
    let name: string;
    let rest: string;
    if (t.startsWith('"')) {
      const close = t.indexOf('"', 1);
      if (close < 0) throw new ConfigError(`${file}, line ${l.line}: unbalanced '"' in alias name`);
      name = t.slice(1, close);
      rest = t.slice(close + 1).trimStart();
      if (!rest.startsWith(':')) throw new ConfigError(`${file}, line ${l.line}: need name:value pair`);
      rest = rest.slice(1);
    } else {
      const colon = t.indexOf(':');
      if (colon <= 0 || l.orphan) throw new ConfigError(`${file}, line ${l.line}: need name:value pair`);
      name = t.slice(0, colon).trim();
      rest = t.slice(colon + 1);
    }
    const value = rest.trim();
    if (!name || !value) throw new ConfigError(`${file}, line ${l.line}: need name:value pair`);
    out.push({ name: name.toLowerCase(), value, line: l.line });
  }
  return out;
}

/** Reads one alias file into a map (first of duplicate names wins). */
export function readAliasFile(spec: string, path: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of parseAliases(readTableFile(spec, path), path)) if (!map.has(e.name)) map.set(e.name, e.value);
  return map;
}

/** Opens one alias table: a hash-like type from its aliases(5) text, any other type as a table. */
export function openAliasTable(spec: string, baseDir: string): LookupTable {
  const parts = splitSpec(spec);
  if (!parts || !TEXT_TYPES.has(parts.type)) return openTable(spec, baseDir);
  if (!parts.name) throw new ConfigError(`table ${spec}: missing file name`);
  const path = tablePath(parts.name, baseDir);
  return new MapTable(spec, parts.type, readAliasFile(spec, path));
}

/** Opens alias_maps (a list of tables, searched in order). */
export function openAliasTableList(value: string, baseDir: string): TableList {
  return new TableList(value, splitList(value).map((spec) => openAliasTable(spec, baseDir)));
}
