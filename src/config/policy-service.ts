/**
 * policy-service: reads the argument of check_policy_service, as Postfix's
 * smtpd does: "inet:host:port" (also "inet:[::1]:port"), "unix:pathname"
 * (relative to the queue directory), or Postfix 3.0's per-service form
 * "{ inet:host:port, timeout=10s, default_action=DUNNO, ... }" whose
 * attributes override the smtpd_policy_service_* parameters for that
 * service alone (default_action, max_idle, max_ttl, policy_context,
 * request_limit, retry_delay, timeout, try_limit, and Postrider's
 * reuse_count_limit).
 *
 * parsePolicyService() throws PolicyServiceError naming the problem for a
 * value it cannot read (no type, a bad port, an unknown attribute, a bad
 * time or count); `check` reports it and smtpd answers the restriction
 * with "451 4.3.5 Server configuration error".
 */
import { isAbsolute, join } from 'node:path';

/** Where a policy server listens. */
export type PolicyEndpoint = { kind: 'inet'; host: string; port: number } | { kind: 'unix'; path: string };

/** The per-service settings (the parameters, or the service's own attributes). */
export interface PolicyServiceOptions {
  /** smtpd_policy_service_timeout: connect, write and read, each (ms). */
  timeoutMs: number;
  /** smtpd_policy_service_max_idle: an unused connection is closed after this (ms). */
  maxIdleMs: number;
  /** smtpd_policy_service_max_ttl: a connection is not reused past this age (ms). */
  maxTtlMs: number;
  /** smtpd_policy_service_request_limit: requests per connection (0: no limit). */
  requestLimit: number;
  /** smtpd_policy_service_reuse_count_limit (Postrider's): SMTP sessions per connection (0: no limit). */
  reuseCountLimit: number;
  /** smtpd_policy_service_try_limit: attempts per request. */
  tryLimit: number;
  /** smtpd_policy_service_retry_delay (ms). */
  retryDelayMs: number;
  /** smtpd_policy_service_default_action: the access(5) result used when the service fails. */
  defaultAction: string;
  /** smtpd_policy_service_policy_context: sent as policy_context. */
  policyContext: string;
}

/** One check_policy_service argument, read. */
export interface PolicyService {
  /** The name the log and the pool use: the argument as written, without the braces' attributes. */
  name: string;
  endpoint: PolicyEndpoint;
  options: PolicyServiceOptions;
}

export class PolicyServiceError extends Error {
  readonly code = 'ERR_POLICY_SERVICE';
}

const TIME_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** A Postfix time value in ms ("10s", "2m", "100" = seconds); throws on anything else. */
function timeMs(what: string, value: string): number {
  const m = /^(\d+)([smhdw])?$/.exec(value.trim());
  if (!m) throw new PolicyServiceError(`${what}: "${value}" is not a time value`);
  const ms = Number(m[1]) * TIME_UNITS[m[2] ?? 's'] * 1000;
  if (ms <= 0) throw new PolicyServiceError(`${what}: specify a non-zero time value`);
  return ms;
}

function count(what: string, value: string, min: number): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < min) throw new PolicyServiceError(`${what}: "${value}" is not a number of at least ${min}`);
  return Number(value);
}

/** The smtpd_policy_service_* parameters as options; throws PolicyServiceError naming a bad one. */
export function policyServiceDefaults(get: (name: string) => string): PolicyServiceOptions {
  return {
    timeoutMs: timeMs('smtpd_policy_service_timeout', get('smtpd_policy_service_timeout')),
    maxIdleMs: timeMs('smtpd_policy_service_max_idle', get('smtpd_policy_service_max_idle')),
    maxTtlMs: timeMs('smtpd_policy_service_max_ttl', get('smtpd_policy_service_max_ttl')),
    requestLimit: count('smtpd_policy_service_request_limit', get('smtpd_policy_service_request_limit'), 0),
    reuseCountLimit: count('smtpd_policy_service_reuse_count_limit', get('smtpd_policy_service_reuse_count_limit'), 0),
    tryLimit: count('smtpd_policy_service_try_limit', get('smtpd_policy_service_try_limit'), 1),
    retryDelayMs: timeMs('smtpd_policy_service_retry_delay', get('smtpd_policy_service_retry_delay')),
    defaultAction: get('smtpd_policy_service_default_action').trim(),
    policyContext: get('smtpd_policy_service_policy_context').trim(),
  };
}

/** "inet:host:port" or "unix:path" as an endpoint; `queueDir` anchors a relative unix path. */
export function parsePolicyEndpoint(server: string, queueDir: string): PolicyEndpoint {
  const colon = server.indexOf(':');
  const type = colon < 0 ? '' : server.slice(0, colon).toLowerCase();
  const rest = colon < 0 ? '' : server.slice(colon + 1);
  if (type === 'unix') {
    if (!rest) throw new PolicyServiceError(`${server}: a unix: service needs a pathname`);
    return { kind: 'unix', path: isAbsolute(rest) ? rest : join(queueDir, rest) };
  }
  if (type === 'inet') {
    const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(rest);
    if (!m) throw new PolicyServiceError(`${server}: need inet:host:port`);
    const port = Number(m[3]);
    if (port < 1 || port > 65535) throw new PolicyServiceError(`${server}: bad port ${m[3]}`);
    return { kind: 'inet', host: m[1] ?? (m[2] || '127.0.0.1'), port };
  }
  throw new PolicyServiceError(`${server}: need inet:host:port or unix:pathname`);
}

/** Attribute names of the per-service form, with the option each sets. */
const ATTRIBUTES: Record<string, (o: PolicyServiceOptions, v: string, what: string) => void> = {
  timeout: (o, v, w) => (o.timeoutMs = timeMs(w, v)),
  max_idle: (o, v, w) => (o.maxIdleMs = timeMs(w, v)),
  max_ttl: (o, v, w) => (o.maxTtlMs = timeMs(w, v)),
  retry_delay: (o, v, w) => (o.retryDelayMs = timeMs(w, v)),
  request_limit: (o, v, w) => (o.requestLimit = count(w, v, 0)),
  reuse_count_limit: (o, v, w) => (o.reuseCountLimit = count(w, v, 0)),
  try_limit: (o, v, w) => (o.tryLimit = count(w, v, 1)),
  default_action: (o, v) => (o.defaultAction = v.trim()),
  policy_context: (o, v) => (o.policyContext = v.trim()),
};

/** Reads one check_policy_service argument over the parameters' `defaults`; throws PolicyServiceError. */
export function parsePolicyService(arg: string, defaults: PolicyServiceOptions, queueDir: string): PolicyService {
  const options = { ...defaults };
  const text = arg.trim();
  if (!text.startsWith('{')) return { name: text, endpoint: parsePolicyEndpoint(text, queueDir), options };
  if (!text.endsWith('}')) throw new PolicyServiceError(`${text}: missing "}"`);
  const parts = splitAttributes(text.slice(1, -1));
  const server = parts.shift();
  if (!server || server.includes('=')) throw new PolicyServiceError(`${text}: the first element must be inet:host:port or unix:pathname`);
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq).trim();
    const set = ATTRIBUTES[key.toLowerCase()];
    if (eq < 0 || !set) throw new PolicyServiceError(`${server}: unknown attribute "${key}" (known: ${Object.keys(ATTRIBUTES).join(', ')})`);
    set(options, part.slice(eq + 1).trim(), `${server} ${key}`);
  }
  return { name: server, endpoint: parsePolicyEndpoint(server, queueDir), options };
}

/**
 * The elements of "{ a, b=c d, e={x, y} }": separated by commas (a value
 * may hold spaces, as default_action's reply text does); a value in
 * braces keeps its commas.
 */
function splitAttributes(inner: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of inner) {
    if (ch === '{') depth++;
    if (ch === '}') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (cur.trim()) out.push(cur.trim());
  return out.map((p) => p.replace(/=\s*\{\s*(.*?)\s*\}$/s, '=$1'));
}
