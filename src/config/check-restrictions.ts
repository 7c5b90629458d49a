/**
 * check-restrictions: the restriction lists as `postrider check` and start
 * see them. Every element must be a restriction smtpd implements, its
 * argument, a restriction class, or a bare "type:table" where the stage has
 * a default access check; a refused restriction (check_policy_service,
 * reject_unverified_recipient, ...) or an unknown one is an error naming
 * it, as is a restriction class without a definition. And, as Postfix's
 * smtpd refuses to run so, every smtpd service must have one of
 * reject_unauth_destination, defer_unauth_destination, reject, defer,
 * defer_if_permit or check_relay_domains in its smtpd_relay_restrictions or
 * smtpd_recipient_restrictions (-o values included): an empty list or
 * permit_mynetworks alone relays for anyone. An entry of
 * local_header_rewrite_clients that cleanup does not evaluate is a warning
 * (it only decides which clients get missing headers added). Never throws.
 */
import type { ConfigProblem, MasterService } from './config-types.js';
import { parameterInfo } from './parameters.js';
import { parsePolicyService, policyServiceDefaults, type PolicyServiceOptions } from './policy-service.js';
import { splitList } from './main-config.js';
import {
  IMPLEMENTED_RESTRICTIONS,
  REFUSED_RESTRICTIONS,
  RELAY_REQUIRED_TEXT,
  RESTRICTION_LISTS,
  RESTRICTIONS_WITH_ARGUMENT,
  STAGE_DEFAULT_ACCESS,
  hasRelayRequired,
  isRestrictionTable,
} from './restriction-names.js';

/** What checkRestrictions reads of a loaded configuration. */
export interface RestrictionSource {
  params: Record<string, string>;
  explicit: readonly string[];
  origin: Record<string, { file: string; line: number }>;
  master: readonly MasterService[];
}

/** The lists smtpd evaluates (ETRN is not offered: its list is cosmetic). */
const CHECKED_LISTS = RESTRICTION_LISTS.filter((n) => n !== 'smtpd_etrn_restrictions');

/** The restriction class names and their lists, in one parameter view. */
function classesOf(view: Record<string, string>): Map<string, string[]> {
  const classes = new Map<string, string[]>();
  for (const name of splitList(view.smtpd_restriction_classes ?? '')) classes.set(name.toLowerCase(), splitList(view[name] ?? ''));
  return classes;
}

/** The problems of one list's elements; `param` names the list for messages. */
function listProblems(param: string, list: string[], classes: Map<string, string[]>, stageAccess: string | undefined, policy?: PolicyServiceOptions): string[] {
  const out: string[] = [];
  let warnOnly = false;
  for (let i = 0; i < list.length; i++) {
    const el = list[i];
    const name = el.toLowerCase();
    const underWarn = warnOnly;
    warnOnly = name === 'warn_if_reject';
    if (IMPLEMENTED_RESTRICTIONS.has(name) || classes.has(name)) {
      // The DMARC verdict needs the whole message: anywhere else it could never fire.
      if (name === 'reject_dmarc_policy' && param !== 'smtpd_end_of_data_restrictions') {
        out.push(`error:${param}: reject_dmarc_policy belongs in smtpd_end_of_data_restrictions (DMARC needs the whole message); here it would never reject`);
      }
      if (RESTRICTIONS_WITH_ARGUMENT.has(name) && ++i >= list.length) out.push(`error:${param}: ${el} requires an argument`);
      else if (name === 'check_policy_service' && policy) {
        try {
          parsePolicyService(list[i], policy, '/');
        } catch (err) {
          out.push(`error:${param}: check_policy_service ${list[i]}: ${(err as Error).message}`);
        }
      }
      continue;
    }
    if (isRestrictionTable(el)) {
      if (!stageAccess) {
        out.push(`error:${param}: specify one of check_client_access, check_helo_access, check_sender_access or check_recipient_access before the table ${el}`);
      }
      continue;
    }
    const why = REFUSED_RESTRICTIONS[name];
    if (RESTRICTIONS_WITH_ARGUMENT.has(name)) i++;
    if (why !== undefined) {
      out.push(
        underWarn
          ? `warning:${param}: ${el} is not supported by this version of Postrider; its warn_if_reject warning would not be logged`
          : `error:${param}: ${el} is not supported by this version of Postrider; ${why}`,
      );
    } else if (RESTRICTIONS_WITH_ARGUMENT.has(name)) {
      out.push(`${underWarn ? 'warning' : 'error'}:${param}: ${el} is not supported by this version of Postrider`);
    } else {
      out.push(`error:${param}: unknown restriction "${el}"`);
    }
  }
  return [...new Set(out)];
}

function problem(tagged: string, file: string, line: number, prefix = ''): ConfigProblem {
  const colon = tagged.indexOf(':');
  return { severity: tagged.slice(0, colon) as 'error' | 'warning', file, line, message: prefix + tagged.slice(colon + 1) };
}

/** The smtpd_policy_service_* values of a parameter view; the built-in ones when one is bad (that is reported on its own). */
function policyOptions(view: Record<string, string>): PolicyServiceOptions | undefined {
  const builtIn = (n: string): string => parameterInfo(n)?.default ?? '';
  try {
    return policyServiceDefaults((n) => view[n] ?? builtIn(n));
  } catch {
    return policyServiceDefaults(builtIn);
  }
}

/** The local_header_rewrite_clients entries cleanup evaluates (cleanup-rewrite-clients). */
const REWRITE_CLIENT_ENTRIES = new Set(['permit_inet_interfaces', 'permit_mynetworks', 'permit_sasl_authenticated', 'static:all']);

/** Every restriction problem of a loaded configuration; see the file comment. */
export function checkRestrictions(src: RestrictionSource, mainFile: string): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const where = (name: string): { file: string; line: number } => src.origin[name] ?? { file: mainFile, line: 0 };

  for (const entry of splitList(src.params.local_header_rewrite_clients ?? '')) {
    if (REWRITE_CLIENT_ENTRIES.has(entry.toLowerCase())) continue;
    out.push({
      severity: 'warning',
      ...where('local_header_rewrite_clients'),
      message: `local_header_rewrite_clients: ${entry} is not supported by this version of Postrider; it matches no client`,
    });
  }

  // main.cf: its lists and its restriction classes.
  const mainClasses = classesOf(src.params);
  const mainPolicy = policyOptions(src.params);
  for (const cls of splitList(src.params.smtpd_restriction_classes ?? '')) {
    const o = where(cls in src.origin ? cls : 'smtpd_restriction_classes');
    if (splitList(src.params[cls] ?? '').length === 0) {
      out.push({ severity: 'error', ...o, message: `restriction class "${cls}" needs a definition` });
      continue;
    }
    for (const t of listProblems(cls, splitList(src.params[cls]), mainClasses, 'check_recipient_access', mainPolicy)) out.push(problem(t, o.file, o.line));
  }
  for (const param of CHECKED_LISTS) {
    const o = where(param);
    for (const t of listProblems(param, splitList(src.params[param] ?? ''), mainClasses, STAGE_DEFAULT_ACCESS[param], mainPolicy)) out.push(problem(t, o.file, o.line));
  }

  // master.cf: lists set by -o, and the relay safety net of every smtpd service.
  const seen = new Set<string>();
  for (const s of src.master) {
    if (s.command !== 'smtpd') continue;
    const view: Record<string, string> = { ...src.params, ...s.overrides };
    const classes = classesOf(view);
    const set = new Set(s.optionNames ?? Object.keys(s.overrides));
    for (const param of CHECKED_LISTS) {
      if (!set.has(param)) continue;
      for (const t of listProblems(param, splitList(view[param] ?? ''), classes, STAGE_DEFAULT_ACCESS[param], policyOptions(view))) out.push(problem(t, s.file, s.line, `service ${s.name}: `));
    }
    const classOf = (name: string): string[] | undefined => classes.get(name.toLowerCase());
    const relay = splitList(view.smtpd_relay_restrictions ?? '');
    const rcpt = splitList(view.smtpd_recipient_restrictions ?? '');
    if (hasRelayRequired(relay, classOf) || hasRelayRequired(rcpt, classOf)) continue;
    const byOption = set.has('smtpd_relay_restrictions') || set.has('smtpd_recipient_restrictions');
    const o = byOption
      ? { file: s.file, line: s.line }
      : src.explicit.includes('smtpd_relay_restrictions') || !src.explicit.includes('smtpd_recipient_restrictions')
        ? where('smtpd_relay_restrictions')
        : where('smtpd_recipient_restrictions');
    const message = byOption ? `service ${s.name}: ${RELAY_REQUIRED_TEXT}` : RELAY_REQUIRED_TEXT;
    const key = `${o.file}\u0000${o.line}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ severity: 'error', ...o, message });
  }
  return out;
}
