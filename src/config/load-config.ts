/**
 * load-config: reads DIR/main.cf and DIR/master.cf into one LoadedConfig:
 * every known parameter expanded (defaults included) plus user-defined ones,
 * the names main.cf sets, the supported master.cf services with their -o
 * overrides expanded, and every problem found. Content problems never throw:
 * they are returned with a severity (a missing main.cf or master.cf is an
 * error problem). Relative paths in values stay relative here; MainConfig's
 * path() resolves them against `dir`, the configuration directory.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ConfigProblem, MasterService } from './config-types.js';
import { MainConfig, splitList } from './main-config.js';
import { parseMainCf } from './main-cf.js';
import { compatibilityDefaults, parseCompatibilityLevel, relayRestrictionsWarning } from './compatibility-level.js';
import { Expander, referencedNames } from './main-cf-expand.js';
import { parseMasterCf } from './master-cf.js';
import { defaultValues, isDynamicParameter, mynetworksForStyle, parameterInfo } from './parameters.js';

/** Where an explicit setting came from. */
export interface SettingOrigin {
  file: string;
  line: number;
}

/** The whole configuration as loaded from one directory. */
export interface LoadedConfig {
  /** The configuration directory, absolute. */
  dir: string;
  /** Every known parameter, expanded, defaults included, plus user-defined ones. */
  params: Record<string, string>;
  /** Names set in main.cf, in file order of their last setting. */
  explicit: string[];
  /** Supported master.cf services; overrides are expanded (see loadConfig). */
  master: MasterService[];
  problems: ConfigProblem[];
  /** Unexpanded values: defaults' text overlaid with main.cf's text (what postconf prints). */
  raw: Record<string, string>;
  /** Default text of every known parameter (computed defaults filled in). */
  defaults: Record<string, string>;
  /** main.cf file and line of each explicit setting. */
  origin: Record<string, SettingOrigin>;
  /** Names set in main.cf or by -o that Postfix has but Postrider accepts without acting on them (biff, alias_maps, ...): the cosmetic ones. */
  noEffect: string[];
}

/** Options for tests and tools. */
export interface LoadOptions {
  /** Host name used for the computed defaults (default: os.hostname()). */
  hostname?: string;
}

function readOrProblem(file: string, problems: ConfigProblem[]): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    problems.push({ severity: 'error', file, line: 0, message: `cannot open file: ${code}` });
    return null;
  }
}

/** True for names Postrider knows or Postfix derives per transport. */
export function isKnownParameter(name: string): boolean {
  return parameterInfo(name) !== undefined || isDynamicParameter(name);
}

/**
 * Loads DIR/main.cf and DIR/master.cf. Each service's `overrides` holds its
 * -o values expanded in the service's context ($service_name, $process_name
 * and the other -o values visible), plus every other parameter whose
 * expanded value changes under those overrides (e.g. smtpd_banner after
 * `-o myhostname=...`), so `new MainConfig(params, dir).with(overrides)` is
 * the service's exact view.
 */
export function loadConfig(dir: string, opts: LoadOptions = {}): LoadedConfig {
  const absDir = resolve(dir);
  const problems: ConfigProblem[] = [];
  const mainFile = join(absDir, 'main.cf');
  const masterFile = join(absDir, 'master.cf');

  const mainText = readOrProblem(mainFile, problems);
  const parsed = parseMainCf(mainText ?? '', mainFile);
  problems.push(...parsed.problems);
  const masterText = readOrProblem(masterFile, problems);
  const master = parseMasterCf(masterText ?? '', masterFile);

  const defaults = defaultValues(opts.hostname);
  // config_directory is the directory in use, as postconf shows the one given by -c.
  const raw: Record<string, string> = { ...defaults, config_directory: absDir, ...parsed.raw };
  const origin: Record<string, SettingOrigin> = {};
  for (const [name, line] of Object.entries(parsed.lines)) origin[name] = { file: mainFile, line };
  // The last setting of each name, in file order.
  const lastSettings = parsed.entries.filter((e) => parsed.lines[e.name] === e.line);
  const explicitSet = lastSettings.map((e) => e.name);

  // A user-defined name is "used" when another value refers to it, or it names a restriction class.
  const used = new Set<string>();
  for (const v of Object.values(parsed.raw)) for (const n of referencedNames(v)) used.add(n);
  for (const s of master.services) for (const v of Object.values(s.overrides)) for (const n of referencedNames(v)) used.add(n);
  for (const n of splitList(raw.smtpd_restriction_classes ?? '')) used.add(n);

  for (const e of lastSettings) {
    if (isKnownParameter(e.name) || used.has(e.name)) continue;
    problems.push({ severity: 'warning', file: mainFile, line: e.line, message: `unused parameter: ${e.name}=${e.value}` });
  }

  // compatibility_level below 2: the older defaults of what main.cf leaves unset, as Postfix 3.7.
  const isSet = (name: string): boolean => Object.prototype.hasOwnProperty.call(parsed.raw, name);
  const levelText = new Expander(raw).value('compatibility_level');
  const levelLine = origin.compatibility_level?.line ?? 0;
  if (parseCompatibilityLevel(levelText) === undefined) {
    problems.push({ severity: 'error', file: mainFile, line: levelLine, message: `compatibility_level = ${levelText}: expected a level such as 2 or 3.6` });
  }
  for (const d of compatibilityDefaults(levelText, isSet)) {
    raw[d.name] = d.value;
    problems.push({ severity: 'warning', file: mainFile, line: levelLine, message: d.warning });
  }
  const relayWarning = relayRestrictionsWarning(levelText, isSet);
  if (relayWarning) problems.push({ severity: 'warning', file: mainFile, line: levelLine, message: relayWarning });

  // Unset, mynetworks follows mynetworks_style, as Postfix computes it.
  if (!Object.prototype.hasOwnProperty.call(parsed.raw, 'mynetworks')) {
    const style = new Expander(raw).value('mynetworks_style');
    if (style.trim().toLowerCase() !== 'host') raw.mynetworks = mynetworksForStyle(style);
  }

  const mainMessages = new Set<string>();
  const expander = new Expander(raw, (name, message) => {
    mainMessages.add(message);
    const o = name ? origin[name] : undefined;
    problems.push({ severity: 'error', file: o?.file ?? mainFile, line: o?.line ?? 0, message: name ? `parameter ${name}: ${message}` : message });
  });
  const params: Record<string, string> = {};
  for (const name of Object.keys(raw)) params[name] = expander.value(name);

  const services: MasterService[] = [];
  for (const s of master.services) {
    for (const [k, v] of Object.entries(s.overrides)) {
      if (!isKnownParameter(k) && !used.has(k) && !Object.prototype.hasOwnProperty.call(parsed.raw, k)) {
        problems.push({ severity: 'warning', file: masterFile, line: s.line, message: `service ${s.name}: unused parameter: ${k}=${v}` });
      }
    }
    const svcRaw: Record<string, string> = { ...raw, service_name: s.name, process_name: s.command, ...s.overrides };
    const svcExpander = new Expander(svcRaw, (name, message) => {
      if (mainMessages.has(message)) return;
      problems.push({ severity: 'error', file: masterFile, line: s.line, message: `service ${s.name}: parameter ${name ?? '?'}: ${message}` });
    });
    const overrides: Record<string, string> = {};
    for (const name of Object.keys(svcRaw)) {
      const v = svcExpander.value(name);
      if (Object.prototype.hasOwnProperty.call(s.overrides, name) || v !== params[name]) overrides[name] = v;
    }
    services.push({ ...s, overrides, optionNames: Object.keys(s.overrides) });
  }
  problems.push(...master.problems);
  problems.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file === mainFile ? -1 : 1));

  const setNames = new Set([...explicitSet, ...master.services.flatMap((s) => Object.keys(s.overrides))]);
  const noEffect = [...setNames].filter((n) => parameterInfo(n)?.effect === 'cosmetic').sort();

  return { dir: absDir, params, explicit: explicitSet, master: services, problems, raw, defaults, origin, noEffect };
}

/** True when any problem is an error (warnings alone do not count). */
export function configHasErrors(loaded: { problems: ConfigProblem[] }): boolean {
  return loaded.problems.some((p) => p.severity === 'error');
}

/** The main.cf view of a loaded configuration. */
export function mainConfigOf(loaded: LoadedConfig): MainConfig {
  return new MainConfig(loaded.params, loaded.dir);
}

/** One service's view: main.cf with that service's -o overrides applied. */
export function serviceConfigOf(loaded: LoadedConfig, service: MasterService): MainConfig {
  return new MainConfig(loaded.params, loaded.dir).with(service.overrides);
}
