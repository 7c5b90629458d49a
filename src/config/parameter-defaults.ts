/**
 * parameter-defaults: a configuration record completed from the parameter
 * table. The loaded record already holds every parameter; a partial one (as
 * tests and benchmarks build, or a role handed only some values) gets the
 * parameters it lacks from the same table, expanded over the record, so no
 * role restates a default. A numeric, boolean or time parameter left empty
 * takes its default too, as does an empty name or banner.
 */
import { Expander } from './main-cf-expand.js';
import type { MainConfig } from './main-config.js';
import { defaultValues, parameterInfo } from './parameters.js';

/** Strings whose empty value would make no sense in a reply or a mode: empty means the default. */
const EMPTY_MEANS_DEFAULT = new Set(['myhostname', 'mail_name', 'smtpd_banner', 'smtpd_forbid_bare_newline']);
const VALUE_KINDS = new Set(['int', 'size', 'bool', 'time']);

function takesDefault(config: MainConfig, name: string): boolean {
  if (!config.has(name)) return true;
  if (config.get(name).trim() !== '') return false;
  const kind = parameterInfo(name)?.kind;
  return EMPTY_MEANS_DEFAULT.has(name) || (kind !== undefined && VALUE_KINDS.has(kind));
}

/**
 * `config` with the listed parameters it lacks filled in from the parameter
 * table, each default expanded over the record (so "$myhostname ESMTP
 * $mail_name" names this record's host, and mydomain follows its myhostname
 * as Postfix derives it). Returns `config` itself when nothing is missing.
 */
export function withParameterDefaults(config: MainConfig, names: readonly string[]): MainConfig {
  const missing = names.filter((name) => takesDefault(config, name));
  if (missing.length === 0) return config;
  const host = config.get('myhostname').trim();
  const defaults = defaultValues(host || undefined);
  const raw: Record<string, string> = { ...defaults };
  // The record's values are expanded already: a "$" left in them is literal.
  for (const [name, value] of Object.entries(config.params)) raw[name] = value.replace(/\$/g, '$$$$');
  for (const name of missing) raw[name] = defaults[name] ?? '';
  const expander = new Expander(raw);
  const filled: Record<string, string> = {};
  for (const name of missing) filled[name] = expander.value(name);
  return config.with(filled);
}
