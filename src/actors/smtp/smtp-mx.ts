/**
 * smtp-mx: turns a nexthop into the ordered list of addresses to try, as
 * RFC 5321 section 5 and Postfix's smtp_addr.c: MX records by preference
 * (equal preferences shuffled), else the A/AAAA fallback; a null MX (RFC
 * 7505) and a non-existent domain are permanent failures, any other DNS
 * trouble is temporary. Host addresses come from the DNS or from the
 * system's resolver (getaddrinfo: /etc/hosts, nsswitch), per
 * smtp_host_lookup ("dns", "native", or both in the order given); with DNS
 * disabled (smtp_dns_support_level = disabled, or disable_dns_lookups) there
 * is no MX lookup and hosts are looked up natively, as in Postfix. Names
 * under "localhost" always go to the system resolver: RFC 6761 keeps them
 * out of the DNS, and a DNS server need not know them. Never throws:
 * failures come back as a DnsFailure.
 */
import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import type { Nexthop } from './smtp-nexthop.js';

/** One address to connect to, with the name it was found under. */
export interface SmtpTarget {
  hostname: string;
  address: string;
  port: number;
  /** The nexthop it was found for, and whether through its MX records (the TLS policy needs both). */
  nexthop?: Nexthop;
  viaMx?: boolean;
}

/** A lookup that ends the delivery attempt. */
export interface DnsFailure {
  state: 'deferred' | 'bounced';
  dsn: string;
  reason: string;
}

export type TargetResult = { ok: true; targets: SmtpTarget[] } | { ok: false; failure: DnsFailure };

/** Makes the resolver for `dns_resolver_servers` ("127.0.0.1:5353, ..."; empty = the system's). */
export function makeResolver(servers: string[]): dnsPromises.Resolver {
  const resolver = new dnsPromises.Resolver({ timeout: 5000, tries: 2 });
  if (servers.length) resolver.setServers(servers);
  return resolver;
}

const NOT_FOUND = new Set(['ENOTFOUND']);
const NO_DATA = new Set(['ENODATA']);

function errCode(err: unknown): string {
  return (err as { code?: string })?.code ?? 'EUNKNOWN';
}

function nameServiceError(name: string, type: string, code: string): DnsFailure {
  if (NOT_FOUND.has(code)) {
    return { state: 'bounced', dsn: '5.4.4', reason: `Host or domain name not found. Name service error for name=${name} type=${type}: Host not found` };
  }
  if (NO_DATA.has(code)) {
    return { state: 'bounced', dsn: '5.4.4', reason: `Host or domain name not found. Name service error for name=${name} type=${type}: Host found but no data record of requested type` };
  }
  return { state: 'deferred', dsn: '4.4.3', reason: `Host or domain name not found. Name service error for name=${name} type=${type}: Host not found, try again` };
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** The address families to look up and connect over (inet_protocols), and how hosts are looked up. */
export interface Families {
  ipv4: boolean;
  ipv6: boolean;
  /** False with smtp_dns_support_level = disabled or disable_dns_lookups: no MX, hosts looked up natively. Default true. */
  dnsEnabled?: boolean;
  /** smtp_host_lookup, in order; default ['dns']. */
  hostLookup?: Array<'dns' | 'native'>;
}

const BOTH: Families = { ipv4: true, ipv6: true };

/** Names RFC 6761 reserves for this host: answered by the system resolver, never the DNS. */
function isLocalhostName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

/** The lookups to use for a host name, in order. */
function hostMethods(host: string, families: Families): Array<'dns' | 'native'> {
  if (families.dnsEnabled === false || isLocalhostName(host)) return ['native'];
  return families.hostLookup?.length ? families.hostLookup : ['dns'];
}

/** getaddrinfo's addresses of a host, in the families allowed. */
async function nativeAddresses(host: string, families: Families): Promise<{ addresses: string[]; failure?: DnsFailure }> {
  try {
    const found = await dnsPromises.lookup(host, { all: true, family: 0 });
    const addresses = found.filter((a) => (a.family === 4 ? families.ipv4 : families.ipv6)).map((a) => a.address);
    if (addresses.length) return { addresses };
    return { addresses, failure: nameServiceError(host, families.ipv4 ? 'A' : 'AAAA', 'ENODATA') };
  } catch (err) {
    const code = errCode(err);
    return { addresses: [], failure: nameServiceError(host, 'A', code === 'EAI_NODATA' ? 'ENODATA' : code) };
  }
}
const NONE = Promise.resolve([] as string[]);

/**
 * A and AAAA records of one host (only the families inet_protocols allows);
 * ENODATA on one type is not an error when the other has data.
 */
async function hostAddresses(resolver: dnsPromises.Resolver, host: string, families: Families): Promise<{ addresses: string[]; failure?: DnsFailure }> {
  let first: DnsFailure | undefined;
  for (const method of hostMethods(host, families)) {
    const r = method === 'native' ? await nativeAddresses(host, families) : await dnsAddresses(resolver, host, families);
    if (r.addresses.length) return r;
    first ??= r.failure;
  }
  return { addresses: [], failure: first };
}

/** A and AAAA records of one host from the DNS. */
async function dnsAddresses(resolver: dnsPromises.Resolver, host: string, families: Families): Promise<{ addresses: string[]; failure?: DnsFailure }> {
  const [v4, v6] = await Promise.allSettled([families.ipv4 ? resolver.resolve4(host) : NONE, families.ipv6 ? resolver.resolve6(host) : NONE]);
  const addresses = [
    ...(v4.status === 'fulfilled' ? v4.value : []),
    ...(v6.status === 'fulfilled' ? v6.value : []),
  ];
  if (addresses.length) return { addresses };
  const code4 = v4.status === 'rejected' ? errCode(v4.reason) : 'ENODATA';
  const code6 = v6.status === 'rejected' ? errCode(v6.reason) : 'ENODATA';
  // A temporary failure on either type means we cannot know the host has no address.
  const temp = [code4, code6].find((c) => !NOT_FOUND.has(c) && !NO_DATA.has(c));
  if (temp) return { addresses, failure: nameServiceError(host, 'A', temp) };
  if (NOT_FOUND.has(code4)) return { addresses, failure: nameServiceError(host, 'A', code4) };
  return { addresses, failure: nameServiceError(host, 'AAAA', code6) };
}

/**
 * Resolves a parsed nexthop to at most `addressLimit` targets (0 = no limit),
 * in the order they are to be tried.
 */
export async function resolveTargets(resolver: dnsPromises.Resolver, nexthop: Nexthop, addressLimit: number, families: Families = BOTH): Promise<TargetResult> {
  const limit = (targets: SmtpTarget[]) => (addressLimit > 0 ? targets.slice(0, addressLimit) : targets);
  if (isIP(nexthop.host)) {
    return { ok: true, targets: [{ hostname: nexthop.host, address: nexthop.host, port: nexthop.port, nexthop, viaMx: false }] };
  }
  let exchanges: string[] | undefined;
  if (nexthop.mxLookup && families.dnsEnabled !== false) {
    try {
      const records = await resolver.resolveMx(nexthop.host);
      if (records.length === 1 && (records[0].exchange === '' || records[0].exchange === '.')) {
        return { ok: false, failure: { state: 'bounced', dsn: '5.1.10', reason: `Domain ${nexthop.host} does not accept mail (nullMX)` } };
      }
      const byPref = new Map<number, string[]>();
      for (const r of records) {
        if (!r.exchange || r.exchange === '.') continue;
        const list = byPref.get(r.priority) ?? [];
        list.push(r.exchange.replace(/\.$/, ''));
        byPref.set(r.priority, list);
      }
      exchanges = [...byPref.keys()].sort((a, b) => a - b).flatMap((p) => shuffle(byPref.get(p)!));
      if (!exchanges.length) exchanges = undefined;
    } catch (err) {
      const code = errCode(err);
      if (!NO_DATA.has(code)) return { ok: false, failure: nameServiceError(nexthop.host, 'MX', code) };
    }
  }
  if (!exchanges) {
    // No MX: the domain itself is the one host (RFC 5321 5.1 implicit MX).
    const { addresses, failure } = await hostAddresses(resolver, nexthop.host, families);
    if (!addresses.length) return { ok: false, failure: failure! };
    return { ok: true, targets: limit(addresses.map((address) => ({ hostname: nexthop.host, address, port: nexthop.port, nexthop, viaMx: false }))) };
  }
  const targets: SmtpTarget[] = [];
  let firstFailure: DnsFailure | undefined;
  for (const exchange of exchanges) {
    if (addressLimit > 0 && targets.length >= addressLimit) break;
    if (isIP(exchange)) {
      targets.push({ hostname: exchange, address: exchange, port: nexthop.port, nexthop, viaMx: true });
      continue;
    }
    const { addresses, failure } = await hostAddresses(resolver, exchange, families);
    if (failure && (!firstFailure || failure.state === 'deferred')) firstFailure = failure;
    for (const address of addresses) targets.push({ hostname: exchange, address, port: nexthop.port, nexthop, viaMx: true });
  }
  if (!targets.length) return { ok: false, failure: firstFailure! };
  return { ok: true, targets: limit(targets) };
}

/**
 * Resolves a list of nexthops (a relayhost list) to targets: each in turn,
 * their hosts in order, at most `addressLimit` in all. A nexthop that does
 * not resolve is skipped; when none resolves, the first temporary failure
 * (else the first failure) is the answer.
 */
export async function resolveTargetList(resolver: dnsPromises.Resolver, nexthops: Nexthop[], addressLimit: number, families: Families = BOTH): Promise<TargetResult> {
  const targets: SmtpTarget[] = [];
  let failure: DnsFailure | undefined;
  for (const n of nexthops) {
    if (addressLimit > 0 && targets.length >= addressLimit) break;
    const r = await resolveTargets(resolver, n, addressLimit, families);
    if (r.ok) targets.push(...r.targets);
    else if (!failure || (failure.state !== 'deferred' && r.failure.state === 'deferred')) failure = r.failure;
  }
  if (!targets.length) return { ok: false, failure: failure! };
  return { ok: true, targets: addressLimit > 0 ? targets.slice(0, addressLimit) : targets };
}
