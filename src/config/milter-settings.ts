/**
 * milter-settings: what main.cf says about milters, as Postfix reads it.
 *
 *   readMilterSettings(config, 'smtpd' | 'non_smtpd') -> the milters of
 *     smtpd_milters or non_smtpd_milters, each with its own timeouts,
 *     default action and protocol (Postfix 3.0's per-milter form
 *     "{ inet:host:port, connect_timeout=10s, default_action=accept }"
 *     overrides the milter_* parameters), and the macro lists per stage.
 *   parseMilterList(value, defaults) -> the same for one list value.
 *   noMilters(config) -> receive_override_options holds no_milters.
 *
 * A value that cannot be parsed (an endpoint that is not inet:host:port or
 * unix:/path, an unknown per-milter setting, a bad time, default action or
 * protocol) throws ConfigError naming it, so check and start refuse it.
 */
import { ConfigError, splitList, type MainConfig } from './main-config.js';

export type MilterDefaultAction = 'accept' | 'reject' | 'tempfail' | 'quarantine';

/** One milter's endpoint and limits. */
export interface MilterSpec {
  /** As written: "inet:127.0.0.1:8891" or "unix:/run/milter.sock" (the name logs use). */
  name: string;
  endpoint: { kind: 'inet'; host: string; port: number } | { kind: 'unix'; path: string };
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  contentTimeoutMs: number;
  defaultAction: MilterDefaultAction;
  /** The protocol version offered (2, 3, 4 or 6). */
  version: number;
}

/** The macro names sent at each stage (milter_*_macros). */
export interface MilterMacroLists {
  connect: string[];
  helo: string[];
  mail: string[];
  rcpt: string[];
  data: string[];
  eoh: string[];
  eod: string[];
  unknown: string[];
}

export interface MilterSettings {
  milters: MilterSpec[];
  macros: MilterMacroLists;
  /** milter_macro_daemon_name: the {daemon_name} macro. */
  daemonName: string;
  /** milter_macro_v: the v macro. */
  v: string;
}

/** Postfix 3.7's defaults, for a configuration that lacks a parameter. */
export const MILTER_DEFAULTS: Record<string, string> = {
  milter_protocol: '6',
  milter_default_action: 'tempfail',
  milter_connect_timeout: '30s',
  milter_command_timeout: '30s',
  milter_content_timeout: '300s',
  milter_connect_macros: 'j {daemon_name} {daemon_addr} v _',
  milter_helo_macros: '{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}',
  milter_mail_macros: 'i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}',
  milter_rcpt_macros: 'i {rcpt_addr} {rcpt_host} {rcpt_mailer}',
  milter_data_macros: 'i',
  milter_end_of_header_macros: 'i',
  milter_end_of_data_macros: 'i',
  milter_unknown_command_macros: '',
  milter_macro_v: 'Postrider',
};

const ACTIONS: readonly MilterDefaultAction[] = ['accept', 'reject', 'tempfail', 'quarantine'];
const PER_MILTER = ['command_timeout', 'connect_timeout', 'content_timeout', 'default_action', 'protocol'] as const;
type PerMilter = (typeof PER_MILTER)[number];

function value(config: MainConfig, name: string): string {
  return config.has(name) ? config.get(name) : (MILTER_DEFAULTS[name] ?? '');
}

/** receive_override_options = ... no_milters ...: this service's mail skips every milter. */
export function noMilters(config: MainConfig): boolean {
  return config.has('receive_override_options') && splitList(config.get('receive_override_options')).includes('no_milters');
}

/** The milters of smtpd_milters ('smtpd') or non_smtpd_milters ('non_smtpd'), with the shared settings. */
export function readMilterSettings(config: MainConfig, which: 'smtpd' | 'non_smtpd'): MilterSettings {
  const defaults: Record<PerMilter, string> = {
    command_timeout: value(config, 'milter_command_timeout'),
    connect_timeout: value(config, 'milter_connect_timeout'),
    content_timeout: value(config, 'milter_content_timeout'),
    default_action: value(config, 'milter_default_action'),
    protocol: value(config, 'milter_protocol'),
  };
  const listName = which === 'smtpd' ? 'smtpd_milters' : 'non_smtpd_milters';
  const milters = noMilters(config) ? [] : parseMilterList(config.get(listName), defaults, listName);
  const macros = (name: string): string[] => splitList(value(config, name));
  return {
    milters,
    macros: {
      connect: macros('milter_connect_macros'),
      helo: macros('milter_helo_macros'),
      mail: macros('milter_mail_macros'),
      rcpt: macros('milter_rcpt_macros'),
      data: macros('milter_data_macros'),
      eoh: macros('milter_end_of_header_macros'),
      eod: macros('milter_end_of_data_macros'),
      unknown: macros('milter_unknown_command_macros'),
    },
    daemonName: value(config, 'milter_macro_daemon_name') || value(config, 'myhostname'),
    v: value(config, 'milter_macro_v'),
  };
}

/**
 * The milters of one list value ("inet:host:port, unix:/path, { endpoint,
 * name=value ... }"), each per-milter setting defaulting to `defaults`.
 */
export function parseMilterList(list: string, defaults: Record<PerMilter, string>, listName = 'smtpd_milters'): MilterSpec[] {
  const out: MilterSpec[] = [];
  for (const item of splitList(list)) {
    const settings = { ...defaults };
    let endpoint = item;
    if (item.startsWith('{')) {
      if (!item.endsWith('}')) throw new ConfigError(`${listName}: missing "}" in "${item}"`);
      const inner = splitGroup(item.slice(1, -1));
      if (inner.length === 0) throw new ConfigError(`${listName}: empty milter group "${item}"`);
      endpoint = inner[0];
      for (const setting of inner.slice(1)) {
        const text = setting.startsWith('{') && setting.endsWith('}') ? setting.slice(1, -1) : setting;
        const eq = text.indexOf('=');
        const key = (eq < 0 ? text : text.slice(0, eq)).trim();
        if (eq < 0 || !(PER_MILTER as readonly string[]).includes(key)) {
          throw new ConfigError(`${listName}: unknown milter setting "${text.trim()}" for ${endpoint} (known: ${PER_MILTER.join(', ')})`);
        }
        settings[key as PerMilter] = text.slice(eq + 1).trim();
      }
    }
    out.push(milterSpec(endpoint, settings, listName));
  }
  return out;
}

/** The items of a "{ ... }" group: separated by commas and white space, inner "{ ... }" kept whole. */
function splitGroup(inner: string): string[] {
  return splitList(inner.trim());
}

function milterSpec(name: string, s: Record<PerMilter, string>, listName: string): MilterSpec {
  const action = s.default_action.trim().toLowerCase() as MilterDefaultAction;
  if (!ACTIONS.includes(action)) throw new ConfigError(`${listName}: milter ${name}: bad default_action "${s.default_action}" (accept, reject, tempfail or quarantine)`);
  const version = Number(s.protocol.trim());
  if (![2, 3, 4, 6].includes(version)) throw new ConfigError(`${listName}: milter ${name}: bad protocol "${s.protocol}" (2, 3, 4 or 6)`);
  return {
    name,
    endpoint: parseEndpoint(name, listName),
    connectTimeoutMs: timeMs(s.connect_timeout, 'connect_timeout', name, listName),
    commandTimeoutMs: timeMs(s.command_timeout, 'command_timeout', name, listName),
    contentTimeoutMs: timeMs(s.content_timeout, 'content_timeout', name, listName),
    defaultAction: action,
    version,
  };
}

/** inet:host:port (host may be [v6]) or unix:/path; Postfix's "local:" is unix. */
export function parseEndpoint(name: string, listName = 'smtpd_milters'): MilterSpec['endpoint'] {
  const colon = name.indexOf(':');
  const kind = colon < 0 ? '' : name.slice(0, colon);
  const rest = colon < 0 ? '' : name.slice(colon + 1);
  if ((kind === 'unix' || kind === 'local') && rest) return { kind: 'unix', path: rest };
  if (kind === 'inet') {
    const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(rest);
    const port = m ? Number(m[3]) : NaN;
    if (m && port > 0 && port < 65536) return { kind: 'inet', host: m[1] ?? (m[2] || '127.0.0.1'), port };
  }
  throw new ConfigError(`${listName}: bad milter address "${name}" (need inet:host:port or unix:/path)`);
}

function timeMs(v: string, what: string, name: string, listName: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|[smhdw])?$/.exec(v.trim());
  if (!m) throw new ConfigError(`${listName}: milter ${name}: bad ${what} "${v}"`);
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  return Number(m[1]) * units[m[2] ?? 's'];
}
