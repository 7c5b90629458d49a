/**
 * postconf: prints parameters as postconf(1) does: `name = value` lines
 * sorted by name, `name =` for an empty value. Values are printed as written
 * (unexpanded) unless `expand` is set (postconf -x); -h prints values alone. -n: only the names set
 * in main.cf; -d: default values. An unknown name given explicitly yields
 * postconf's warning text. Never throws.
 */
import { Expander } from './main-cf-expand.js';
import { isKnownParameter, type LoadedConfig } from './load-config.js';

/** postconf options: -n, -d, -x and parameter names. */
export interface FormatOptions {
  /** -n: only parameters set in main.cf. */
  nonDefault?: boolean;
  /** -d: default values instead of the configured ones. */
  defaults?: boolean;
  /** Print only these names, in the order given (postconf does). */
  names?: string[];
  /** -x: expanded values. */
  expand?: boolean;
  /** -h: the values alone, without "name = ". */
  valuesOnly?: boolean;
}

/** The printed lines and the warnings (for standard error). */
export interface ParameterReport {
  text: string;
  warnings: string[];
}

function nameValueLine(name: string, value: string): string {
  return value === '' ? `${name} =` : `${name} = ${value}`;
}

/** Builds postconf's output; warnings are kept apart for standard error. */
export function renderParameters(loaded: LoadedConfig, opts: FormatOptions = {}): ParameterReport {
  const warnings: string[] = [];
  const source = opts.defaults ? loaded.defaults : opts.expand ? loaded.params : loaded.raw;
  const explicit = new Set(loaded.explicit);
  const pick = (name: string): boolean => !opts.nonDefault || explicit.has(name);
  const defaultsExpanded = opts.defaults && opts.expand ? new Expander(loaded.defaults) : null;
  const value = (name: string): string => (defaultsExpanded ? defaultsExpanded.value(name) : (source[name] ?? ''));
  const lines: string[] = [];
  const line = (name: string, v: string): string => (opts.valuesOnly ? v : nameValueLine(name, v));
  if (opts.names && opts.names.length > 0) {
    for (const name of opts.names) {
      const has = Object.prototype.hasOwnProperty.call(source, name) || Object.prototype.hasOwnProperty.call(loaded.params, name);
      if (!has || (opts.defaults && !Object.prototype.hasOwnProperty.call(loaded.defaults, name) && !isKnownParameter(name))) {
        warnings.push(`postrider: warning: ${name}: unknown parameter`);
        continue;
      }
      if (!pick(name)) continue;
      lines.push(line(name, value(name)));
    }
  } else {
    const names = Object.keys(source).filter(pick).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) lines.push(line(name, value(name)));
  }
  return { text: lines.map((l) => l + '\n').join(''), warnings };
}

/**
 * formatParameters(loaded, { nonDefault, defaults, names, expand }): the
 * postconf text; warnings for unknown names are appended as lines (use
 * renderParameters to send them to standard error instead).
 */
export function formatParameters(loaded: LoadedConfig, opts: FormatOptions = {}): string {
  const r = renderParameters(loaded, opts);
  return r.text + r.warnings.map((w) => w + '\n').join('');
}
