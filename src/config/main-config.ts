/**
 * main-config: typed access to the expanded main.cf parameters. Built from a
 * plain record (so it crosses to worker threads by structured clone); every
 * getter reads the record, which holds defaults for every known parameter.
 * A getter throws ConfigError naming the parameter when a value is malformed.
 */
import { isAbsolute, resolve } from 'node:path';

export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
}

const TIME_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

export class MainConfig {
  /**
   * @param params every parameter's expanded value, defaults included
   * @param dir the configuration directory; relative paths resolve against it
   */
  constructor(
    readonly params: Record<string, string>,
    readonly dir: string,
  ) {}

  has(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.params, name);
  }

  get(name: string): string {
    return this.has(name) ? this.params[name] : '';
  }

  /** A new MainConfig with some values replaced (master.cf -o overrides). */
  with(overrides: Record<string, string>): MainConfig {
    return new MainConfig({ ...this.params, ...overrides }, this.dir);
  }

  int(name: string): number {
    const v = this.get(name).trim();
    if (!/^-?\d+$/.test(v)) throw new ConfigError(`${name} = ${v}: not an integer`);
    return Number(v);
  }

  bool(name: string): boolean {
    const v = this.get(name).trim().toLowerCase();
    if (v === 'yes' || v === 'true' || v === 'on' || v === '1') return true;
    if (v === 'no' || v === 'false' || v === 'off' || v === '0' || v === '') return false;
    throw new ConfigError(`${name} = ${v}: not yes or no`);
  }

  /** A Postfix time value ("300s", "5m", "1d", "100ms"; bare number uses `defaultUnit`) in seconds. */
  time(name: string, defaultUnit = 's'): number {
    const v = this.get(name).trim();
    const m = /^(\d+(?:\.\d+)?)(ms|[smhdw])?$/.exec(v);
    if (!m) throw new ConfigError(`${name} = ${v}: not a time value`);
    const n = Number(m[1]);
    const unit = m[2] ?? defaultUnit;
    if (unit === 'ms') return n / 1000;
    return n * TIME_UNITS[unit];
  }

  /** A Postfix list: separated by commas and/or white space. */
  list(name: string): string[] {
    return splitList(this.get(name));
  }

  /** A file path parameter, resolved against the configuration directory. */
  path(name: string): string {
    const v = this.get(name).trim();
    if (!v) return '';
    return isAbsolute(v) ? v : resolve(this.dir, v);
  }
}

/**
 * Splits a Postfix list value on commas and white space, keeping `{ ... }`
 * groups (inline: tables, ${name?{..}} leftovers) whole.
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of value) {
    if (ch === '{') depth++;
    if (ch === '}') depth = Math.max(0, depth - 1);
    if (depth === 0 && (ch === ',' || ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r')) {
      if (cur) out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (cur) out.push(cur);
  return out;
}
