/**
 * lookup-table: Postfix's `type:name` lookup tables, read into memory when
 * opened so lookups are synchronous. Types: texthash: and hash: (also btree:,
 * lmdb:, cdb:, dbm:, all read from the text source file: no database files),
 * regexp:, pcre:, cidr:, inline:{...}, static:, unix:passwd.byname and
 * unix:group.byname (the name service, table-unix), and proxy:TYPE:NAME
 * (opened as TYPE:NAME). Relative file names resolve against the configuration
 * directory. An unknown type, an unreadable file or a bad line throws
 * ConfigError whose message names the table spec (and file, line). A lookup
 * that cannot be answered (a pattern out of its time budget) throws
 * TableLookupError, Postfix's DICT_ERR_RETRY.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError, splitList } from './main-config.js';
import { logicalLines } from './main-cf.js';
import { openPatternTable } from './table-regexp.js';
import { openCidrTable } from './table-cidr.js';
import { openUnixTable } from './table-unix.js';
import type { LookupTable } from './table-types.js';

export type { LookupTable } from './table-types.js';
export { TableLookupError } from './table-lookup-error.js';

const TEXT_TYPES = new Set(['texthash', 'hash', 'btree', 'lmdb', 'cdb', 'dbm', 'sdbm']);

/** Splits "type:name" into its parts; null when there is no type prefix. */
export function splitSpec(spec: string): { type: string; name: string } | null {
  const m = /^([a-z][a-z0-9_]*):([\s\S]*)$/i.exec(spec.trim());
  return m ? { type: m[1].toLowerCase(), name: m[2] } : null;
}

/** True when a list element looks like a lookup table reference (type:name). */
export function isTableSpec(text: string): boolean {
  const s = splitSpec(text);
  return s !== null && s.name !== '' && !/^\d+$/.test(s.name) && !text.startsWith('[');
}

/** Resolves a table file name against the configuration directory. */
export function tablePath(name: string, baseDir: string): string {
  return isAbsolute(name) ? name : resolve(baseDir, name);
}

/** Reads a table's file, throwing ConfigError that names the spec. */
export function readTableFile(spec: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new ConfigError(`table ${spec}: cannot open ${path}: ${code}`);
  }
}

/** A table held in memory as a map of lowercased keys (text tables, inline:, alias files). */
export class MapTable implements LookupTable {
  constructor(
    readonly spec: string,
    readonly type: string,
    private readonly map: Map<string, string>,
  ) {}

  get(key: string): string | undefined {
    return this.map.get(key.toLowerCase());
  }

  getPartial(key: string): string | undefined {
    return this.map.get(key.toLowerCase());
  }

  values(): string[] {
    return [...this.map.values()];
  }
}

class StaticTable implements LookupTable {
  readonly type = 'static';
  constructor(
    readonly spec: string,
    private readonly value: string,
  ) {}

  get(): string {
    return this.value;
  }

  getPartial(): string {
    return this.value;
  }

  values(): string[] {
    return [this.value];
  }
}

/** Several tables searched in order; the first that answers wins. */
export class TableList implements LookupTable {
  readonly type = 'list';
  readonly backtracking: boolean;
  constructor(
    readonly spec: string,
    readonly tables: readonly LookupTable[],
  ) {
    this.backtracking = tables.some((t) => t.backtracking === true);
  }

  get(key: string): string | undefined {
    for (const t of this.tables) {
      const v = t.get(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  getPartial(key: string): string | undefined {
    for (const t of this.tables) {
      const v = t.getPartial(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }
}

/** Parses a `key value` text table (postmap(1) source format). Keys are lower-cased; the first of duplicate keys wins. */
export function parseTextTable(spec: string, file: string, text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const l of logicalLines(text)) {
    const t = l.text;
    let k = 0;
    while (k < t.length && t.charCodeAt(k) > 32) k++;
    const value = t.slice(k).trim();
    if (l.orphan || !value) {
      throw new ConfigError(`table ${spec}: ${file}, line ${l.line}: expected format: key whitespace value`);
    }
    const key = t.slice(0, k).toLowerCase();
    if (!map.has(key)) map.set(key, value);
  }
  return map;
}

/** Strips one pair of outer braces: "{ x }" -> "x". */
function unbrace(s: string): string | null {
  const t = s.trim();
  if (!t.startsWith('{')) return t;
  if (!t.endsWith('}')) return null;
  return t.slice(1, -1).trim();
}

function openInline(spec: string, name: string): LookupTable {
  const inner = name.trim().startsWith('{') ? unbrace(name) : null;
  if (inner === null) throw new ConfigError(`table ${spec}: expected inline:{ key=value, ... }`);
  const map = new Map<string, string>();
  for (const item of splitList(inner)) {
    const body = unbrace(item);
    const eq = body === null ? -1 : body.indexOf('=');
    if (body === null || eq <= 0) throw new ConfigError(`table ${spec}: expected key=value, found "${item}"`);
    const key = body.slice(0, eq).trim().toLowerCase();
    if (!map.has(key)) map.set(key, body.slice(eq + 1).trim());
  }
  return new MapTable(spec, 'inline', map);
}

/**
 * Opens one table. `baseDir` is the configuration directory, against which
 * relative file names resolve. Throws ConfigError naming the spec.
 */
export function openTable(spec: string, baseDir: string): LookupTable {
  const parts = splitSpec(spec);
  if (!parts) throw new ConfigError(`table ${spec}: expected type:name`);
  const { type, name } = parts;
  if (type === 'proxy') {
    const inner = openTable(name, baseDir);
    const proxied: LookupTable = { spec, type: inner.type, backtracking: inner.backtracking, get: (k) => inner.get(k), getPartial: (k) => inner.getPartial(k) };
    if (inner.values) proxied.values = () => inner.values!();
    return proxied;
  }
  if (type === 'static') {
    const v = unbrace(name);
    if (v === null) throw new ConfigError(`table ${spec}: unbalanced "{"`);
    return new StaticTable(spec, v);
  }
  if (type === 'inline') return openInline(spec, name);
  if (type === 'unix') return openUnixTable(spec, name);
  if (!name) throw new ConfigError(`table ${spec}: missing file name`);
  if (TEXT_TYPES.has(type)) {
    const path = tablePath(name, baseDir);
    return new MapTable(spec, type, parseTextTable(spec, path, readTableFile(spec, path)));
  }
  if (type === 'regexp' || type === 'pcre') {
    const path = tablePath(name, baseDir);
    return openPatternTable(spec, type, path, readTableFile(spec, path));
  }
  if (type === 'cidr') {
    const path = tablePath(name, baseDir);
    return openCidrTable(spec, path, readTableFile(spec, path));
  }
  throw new ConfigError(`table ${spec}: unsupported dictionary type: ${type}`);
}

/**
 * Opens a parameter value that lists tables (comma or space separated), for
 * e.g. virtual_alias_maps. An empty value gives an empty list that never
 * answers. Throws ConfigError naming the first table that fails.
 */
export function openTableList(value: string, baseDir: string): TableList {
  return new TableList(value, splitList(value).map((spec) => openTable(spec, baseDir)));
}
