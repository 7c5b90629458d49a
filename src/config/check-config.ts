/**
 * check-config: `postrider check`'s configuration half (start refuses what
 * it reports as an error). Returns the loader's problems plus: every table a
 * parameter names that fails to open, bad values of typed parameters (int,
 * size, time, bool, enumerations), bad networks in host lists, unreadable
 * TLS certificate and key files (an error when TLS is mandatory, a warning
 * otherwise: Postfix then runs without TLS), refused and cosmetic settings
 * (check-effects), restriction lists with unsupported restrictions or
 * without Postfix's relay safety net (check-restrictions), and transports
 * that name no delivery service (check-transports), and smtpd_milters and
 * non_smtpd_milters values that do not parse. Values set in
 * main.cf are reported at their line; values set by master.cf -o at the
 * service's line. Never throws.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ConfigProblem } from './config-types.js';
import { ConfigError, MainConfig, splitList } from './main-config.js';
import type { LoadedConfig } from './load-config.js';
import { parameterInfo } from './parameters.js';
import { queueShardCount } from './queue-shard-count.js';
import { parseIp } from './ip-address.js';
import { isTableSpec, openTable, openTableList, splitSpec, tablePath } from './lookup-table.js';
import { isTextTable, openAliasTable } from './table-aliases.js';
import { compileDomainList, compileHostList } from './access-lookup.js';
import { checkEffects } from './check-effects.js';
import { SigningKeys } from './dkim-keys.js';
import { tlsVersionRange } from './tls-protocols.js';
import { checkRestrictions } from './check-restrictions.js';
import { checkTransports } from './check-transports.js';
import { parseContentFilter, parseReceiveOverrideOptions } from './content-filter.js';
import { policyServiceDefaults } from './policy-service.js';
import { readMilterSettings } from './milter-settings.js';
import { SYSLOG_FACILITIES } from '../util/syslog-format.js';

const ENUMS: Record<string, string[]> = {
  smtpd_tls_security_level: ['', 'none', 'may', 'encrypt'],
  smtp_tls_security_level: ['', 'none', 'may', 'encrypt', 'dane', 'dane-only', 'fingerprint', 'verify', 'secure'],
  smtpd_forbid_bare_newline: ['normalize', 'yes', 'reject', 'no', 'note'],
  // Postfix 3.11 also takes lookup tables here: refused rather than half read.
  smtp_requiretls_policy: ['enforce', 'opportunistic+starttls', 'opportunistic'],
  mynetworks_style: ['host', 'subnet', 'class'],
  // dnssec: the resolver of dns_resolver_servers is trusted to validate (its AD bit), for DANE.
  smtp_dns_support_level: ['', 'disabled', 'enabled', 'dnssec'],
  smtp_tls_ciphers: ['export', 'low', 'medium', 'high', 'null'],
  smtp_tls_mandatory_ciphers: ['export', 'low', 'medium', 'high', 'null'],
  milter_default_action: ['accept', 'reject', 'tempfail', 'quarantine'],
  milter_protocol: ['2', '3', '4', '6'],
  dkim_canonicalization: ['simple', 'relaxed', 'simple/simple', 'simple/relaxed', 'relaxed/simple', 'relaxed/relaxed'],
  dmarc_quarantine_action: ['hold', 'accept'],
  syslog_facility: [...SYSLOG_FACILITIES.keys()],
};

/** The key and signing tables, by either parameter of the pair. */
const SIGNING_TABLES: Record<string, [string, string]> = {
  dkim_key_table: ['dkim_key_table', 'dkim_signing_table'],
  dkim_signing_table: ['dkim_key_table', 'dkim_signing_table'],
  arc_key_table: ['arc_key_table', 'arc_signing_table'],
  arc_signing_table: ['arc_key_table', 'arc_signing_table'],
};

/** Parameters whose values the milter list parser reads (a bad one is reported on the list that uses it). */
const MILTER_PARAMETERS = new Set(['smtpd_milters', 'non_smtpd_milters']);

/** Postfix's (Cyrus SASL's) security option words. */
const SASL_SECURITY_OPTIONS = ['noplaintext', 'noactive', 'nodictionary', 'noanonymous', 'mutual_auth', 'forward_secrecy'];

/** Element checks of list-valued parameters with a fixed syntax. */
const LIST_CHECKS: Record<string, (item: string) => boolean> = {
  smtpd_tls_protocols: (item) => /^(!|[<>]=)?(sslv2|sslv3|tlsv1|tlsv1\.1|tlsv1\.2|tlsv1\.3)$/i.test(item),
  smtpd_tls_mandatory_protocols: (item) => /^(!|[<>]=)?(sslv2|sslv3|tlsv1|tlsv1\.1|tlsv1\.2|tlsv1\.3)$/i.test(item),
  relayhost: (item) => /^(\[[^\]\s]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?$/.test(item),
  inet_interfaces: (item) => ['all', 'loopback-only'].includes(item.toLowerCase()) || parseIp(item) !== null || /^[A-Za-z0-9.-]+$/.test(item),
  inet_protocols: (item) => ['all', 'ipv4', 'ipv6'].includes(item.toLowerCase()),
  mailbox_delivery_lock: (item) => ['fcntl', 'flock', 'dotlock'].includes(item.toLowerCase()),
  allow_mail_to_commands: (item) => ['alias', 'forward', 'include'].includes(item.toLowerCase()),
  allow_mail_to_files: (item) => ['alias', 'forward', 'include'].includes(item.toLowerCase()),
  prepend_delivered_header: (item) => ['command', 'file', 'forward'].includes(item.toLowerCase()),
  smtp_host_lookup: (item) => ['dns', 'native'].includes(item.toLowerCase()),
  smtpd_sasl_security_options: (item) => SASL_SECURITY_OPTIONS.includes(item.toLowerCase()),
  smtpd_sasl_tls_security_options: (item) => SASL_SECURITY_OPTIONS.includes(item.toLowerCase()),
};

const TLS_FILES: [string, string][] = [
  ['smtpd_tls_cert_file', 'smtpd'],
  ['smtpd_tls_key_file', 'smtpd'],
  ['smtpd_tls_CAfile', 'smtpd'],
  ['smtp_tls_cert_file', 'smtp'],
  ['smtp_tls_key_file', 'smtp'],
  ['smtp_tls_CAfile', 'smtp'],
];

/** One parameter value's problem, or null. */
/** Parameters whose tables are alias files. */
const ALIAS_FILE_PARAMETERS = new Set(['alias_maps', 'alias_database', 'local_recipient_maps']);

/**
 * Opens the tables of alias_maps, alias_database or local_recipient_maps
 * (those alias_maps names are read as aliases(5) files), so a bad line is
 * reported. As Postfix's `postfix check`, an alias file that does not exist
 * (a host without /etc/aliases) is no configuration error: at run time smtpd
 * warns that the table is unavailable and the local agent defers mail that
 * needs it, as Postfix's local(8) does.
 */
function checkAliasTables(cfg: MainConfig, name: string, value: string): void {
  const aliases = name === 'local_recipient_maps' ? splitList(cfg.get('alias_maps')) : splitList(value);
  for (const spec of splitList(value)) {
    if (!aliases.includes(spec)) {
      openTable(spec, cfg.dir);
      continue;
    }
    const parts = isTextTable(spec) ? splitSpec(spec.startsWith('proxy:') ? spec.slice(6) : spec) : null;
    if (parts?.name && !existsSync(tablePath(parts.name, cfg.dir))) continue;
    openAliasTable(spec, cfg.dir);
  }
}

function checkValue(cfg: MainConfig, name: string): string | null {
  const info = parameterInfo(name);
  if (!info || info.effect !== 'effective') return null;
  const v = cfg.get(name).trim();
  try {
    switch (info.kind) {
      case 'int':
        cfg.int(name);
        break;
      case 'size':
        if (!/^\d+$/.test(v)) return `${name} = ${v}: not a size in bytes`;
        break;
      case 'bool':
        cfg.bool(name);
        break;
      case 'time':
        cfg.time(name, info.timeUnit ?? 's');
        break;
      case 'table-list':
        if (ALIAS_FILE_PARAMETERS.has(name)) checkAliasTables(cfg, name, v);
        else openTableList(v, cfg.dir);
        break;
      case 'host-list':
        compileHostList(splitList(v), cfg.dir);
        break;
      case 'domain-list':
        compileDomainList(splitList(v), cfg.dir, false);
        break;
      case 'restrictions':
        splitList(v).forEach((item, k, all) => {
          // check_policy_service takes a socket address (inet:host:port, unix:path), not a table.
          if (isTableSpec(item) && all[k - 1] !== 'check_policy_service') openTable(item, cfg.dir);
        });
        break;
      default:
        break;
    }
    if (name === 'content_filter' && v) parseContentFilter(v);
    if (name === 'receive_override_options') parseReceiveOverrideOptions(v);
    // Each parameter on its own line: the others at their defaults.
    if (name.startsWith('smtpd_policy_service_')) policyServiceDefaults((n) => (n === name ? cfg.get(n) : (parameterInfo(n)?.default ?? '')));
  } catch (e) {
    const msg = e instanceof ConfigError ? e.message : e instanceof Error ? e.message : String(e);
    return msg.startsWith(`${name} = `) ? msg : `${name}: ${msg}`;
  }
  const bad = LIST_CHECKS[name] ? splitList(v).find((item) => !LIST_CHECKS[name](item)) : undefined;
  if (bad !== undefined) return `${name} = ${v}: bad element "${bad}"`;
  if (['smtpd_tls_protocols', 'smtpd_tls_mandatory_protocols', 'smtp_tls_protocols', 'smtp_tls_mandatory_protocols'].includes(name)) {
    try {
      tlsVersionRange(splitList(v), name);
    } catch (e) {
      return (e as Error).message;
    }
  }
  if (name === 'smtp_tlsrpt_send_time' && !/^([01]?\d|2[0-3]):[0-5]\d$/.test(v)) return `${name} = ${v}: not a time of day HH:MM (UTC)`;
  // Node has no fcntl() or flock(): the dotlock is the lock the local agent takes.
  if (name === 'mailbox_delivery_lock' && !splitList(v).some((m) => m.toLowerCase() === 'dotlock')) {
    return `${name} = ${v}: must name dotlock (fcntl and flock locks cannot be taken from Node; the local agent takes the dotlock)`;
  }
  // The keys are read as start and reload read them: a missing or unreadable key file is named here.
  const pair = SIGNING_TABLES[name];
  if (pair && v && (name === pair[0] || !cfg.get(pair[0]).trim())) {
    try {
      new SigningKeys(cfg.get(pair[0]), cfg.get(pair[1]), cfg.dir, pair);
    } catch (e) {
      return (e as Error).message;
    }
  }
  if (name === 'queue_shard_count') {
    try {
      queueShardCount(v, 1);
    } catch (e) {
      return (e as Error).message;
    }
  }
  if (MILTER_PARAMETERS.has(name)) {
    try {
      readMilterSettings(cfg, name === 'non_smtpd_milters' ? 'non_smtpd' : 'smtpd');
    } catch (e) {
      return (e as Error).message;
    }
  }
  // Postfix creates no directory for its log file either; found now, not when start opens it.
  if (name === 'maillog_file' && v !== '') {
    const dir = dirname(cfg.path(name)!);
    if (!existsSync(dir)) return `${name} = ${v}: the directory ${dir} does not exist`;
  }
  const allowed = ENUMS[name];
  if (allowed && !allowed.includes(v.toLowerCase())) return `${name} = ${v}: expected one of ${allowed.filter(Boolean).join(', ')}`;
  return null;
}

/** smtpd_tls_wrappermode = yes needs a certificate: there is no plain text to fall back to. */
function checkWrapperMode(cfg: MainConfig, where: { file: string; line: number }, prefix: string): ConfigProblem[] {
  let wrapper = false;
  try {
    wrapper = cfg.bool('smtpd_tls_wrappermode');
  } catch {
    return [];
  }
  if (!wrapper || cfg.path('smtpd_tls_cert_file')) return [];
  return [{ severity: 'error', ...where, message: `${prefix}smtpd_tls_wrappermode = yes requires smtpd_tls_cert_file` }];
}

function tlsMandatory(cfg: MainConfig, side: string): boolean {
  const level = cfg.get(`${side}_tls_security_level`).trim().toLowerCase();
  if (side === 'smtpd') return level === 'encrypt' || cfg.get('smtpd_tls_wrappermode').trim() === 'yes';
  return ['encrypt', 'dane-only', 'fingerprint', 'verify', 'secure'].includes(level);
}

function checkTls(cfg: MainConfig, where: { file: string; line: number }, only?: Set<string>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const [name, side] of TLS_FILES) {
    if (only && !only.has(name)) continue;
    const path = cfg.path(name);
    if (!path) continue;
    try {
      accessSync(path, constants.R_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      const mandatory = tlsMandatory(cfg, side);
      out.push({
        severity: mandatory ? 'error' : 'warning',
        ...where,
        message: `${name} = ${cfg.get(name)}: cannot read file: ${code}${mandatory ? '' : `; ${side} TLS is disabled`}`,
      });
    }
  }
  return out;
}

/** checkConfig(loaded): every problem of a loaded configuration, in file order. */
export function checkConfig(loaded: LoadedConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [...loaded.problems];
  const cfg = new MainConfig(loaded.params, loaded.dir);
  const mainFile = join(loaded.dir, 'main.cf');
  // Explicit settings first; a default that only repeats an explicit setting's problem
  // (mime_header_checks = $header_checks, smtpd_tls_key_file = $smtpd_tls_cert_file) is not reported again.
  const names = [...loaded.explicit, ...Object.keys(loaded.params).filter((n) => !(n in loaded.origin))];
  const seen = new Set<string>();
  const add = (name: string, p: ConfigProblem): void => {
    const key = p.message.split(name).join('');
    if (!(name in loaded.origin) && seen.has(key)) return;
    seen.add(key);
    problems.push(p);
  };
  for (const name of names) {
    const msg = checkValue(cfg, name);
    if (!msg) continue;
    const o = loaded.origin[name] ?? { file: mainFile, line: 0 };
    add(name, { severity: 'error', file: o.file, line: o.line, message: msg });
  }
  const tlsNames = TLS_FILES.map(([n]) => n).sort((a, b) => Number(b in loaded.origin) - Number(a in loaded.origin));
  for (const name of tlsNames) {
    const o = loaded.origin[name] ?? { file: mainFile, line: 0 };
    for (const p of checkTls(cfg, o, new Set([name]))) add(name, p);
  }
  for (const s of loaded.master) {
    const svc = cfg.with(s.overrides);
    const where = { file: s.file, line: s.line };
    for (const name of Object.keys(s.overrides)) {
      const msg = checkValue(svc, name);
      if (msg) problems.push({ severity: 'error', ...where, message: `service ${s.name}: ${msg}` });
    }
    const changedTls = new Set(TLS_FILES.map(([n]) => n).filter((n) => n in s.overrides || `${n.split('_')[0]}_tls_security_level` in s.overrides));
    if (changedTls.size > 0) {
      for (const p of checkTls(svc, where, changedTls)) problems.push({ ...p, message: `service ${s.name}: ${p.message}` });
    }
    if (s.command === 'smtpd') {
      const main = checkWrapperMode(cfg, where, '').length > 0;
      if (!main) problems.push(...checkWrapperMode(svc, where, `service ${s.name}: `));
    }
  }
  const wrapperOrigin = loaded.origin.smtpd_tls_wrappermode ?? { file: mainFile, line: 0 };
  if (loaded.master.some((s) => s.command === 'smtpd')) problems.push(...checkWrapperMode(cfg, wrapperOrigin, ''));
  // An ARC set carries this host's verification results: without them nothing would be sealed.
  if (cfg.get('arc_signing_table').trim() && !cfg.bool('smtpd_authentication_results') && !loaded.master.some((s) => s.command === 'smtpd' && /^yes$/i.test(s.overrides.smtpd_authentication_results ?? ''))) {
    const o = loaded.origin.arc_signing_table ?? { file: mainFile, line: 0 };
    problems.push({ severity: 'error', file: o.file, line: o.line, message: 'arc_signing_table: ARC sealing needs smtpd_authentication_results = yes (the seal carries its results); nothing would be sealed' });
  }
  problems.push(...checkEffects(loaded.explicit, loaded.params, loaded.origin, mainFile, loaded.master));
  problems.push(...checkRestrictions(loaded, mainFile));
  problems.push(...checkTransports(loaded));
  // main.cf first, then master.cf, each in line order (stable for equal lines).
  const rank = (p: ConfigProblem): number => (p.file === mainFile ? 0 : 1);
  return problems.sort((a, b) => rank(a) - rank(b) || (a.file === b.file ? a.line - b.line : 0));
}

/** formatProblem(p): "postrider: warning: FILE, line N: text" on one line (", line N" omitted when 0). */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}, line ${p.line}` : p.file;
  const text = p.message.replace(/[\r\n\x00-\x1f]+/g, ' ');
  return `postrider: ${p.severity}: ${where}: ${text}`;
}
