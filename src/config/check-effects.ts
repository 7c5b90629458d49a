/**
 * check-effects: the part of `postrider check` (and of start) that keeps a
 * configuration from being accepted and ignored. A parameter set in main.cf
 * or by a master.cf -o option whose value differs from Postfix's default is
 *   - an error when Postrider refuses it (it would change what happens to
 *     mail: content_filter, smtpd_milters, a rate delay, ...), and
 *   - a warning when it is cosmetic (biff, a TLS session cache, ...),
 * each line naming the parameter and saying what the value would not do.
 * Never throws.
 */
import type { ConfigProblem, MasterService } from './config-types.js';
import { effectOf, sameAsDefault } from './parameters.js';

/** Where a setting was made: main.cf's line, or the master.cf service line. */
export interface SettingPlace {
  file: string;
  line: number;
  /** Set for a -o option: "service NAME: " goes in front of the message. */
  service?: string;
}

/** The problem a setting of `name` to `value` makes, or undefined. */
export function effectProblem(name: string, value: string, place: SettingPlace): ConfigProblem | undefined {
  const info = effectOf(name);
  if (!info || info.effect === 'effective') return undefined;
  if (sameAsDefault(info, value)) return undefined;
  const prefix = place.service ? `service ${place.service}: ` : '';
  const shown = value.trim() === '' ? `${name} =` : `${name} = ${value.trim()}`;
  if (info.effect === 'refused') {
    return {
      severity: 'error',
      file: place.file,
      line: place.line,
      message: `${prefix}${name} is not supported by this version of Postrider; ${info.why ?? 'mail would be handled differently'} (${shown})`,
    };
  }
  return {
    severity: 'warning',
    file: place.file,
    line: place.line,
    message: `${prefix}${shown}: ignored: ${info.why ?? 'Postrider does not act on it'}`,
  };
}

/**
 * Every refused or cosmetic setting: main.cf's explicit names (with their
 * expanded values and lines) and each service's -o names.
 */
export function checkEffects(
  explicit: readonly string[],
  params: Record<string, string>,
  origin: Record<string, { file: string; line: number }>,
  mainFile: string,
  services: readonly MasterService[],
): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const name of explicit) {
    const o = origin[name] ?? { file: mainFile, line: 0 };
    const p = effectProblem(name, params[name] ?? '', o);
    if (p) out.push(p);
  }
  for (const s of services) {
    for (const name of s.optionNames ?? Object.keys(s.overrides)) {
      const p = effectProblem(name, s.overrides[name] ?? '', { file: s.file, line: s.line, service: s.name });
      if (p) out.push(p);
    }
  }
  return out;
}
