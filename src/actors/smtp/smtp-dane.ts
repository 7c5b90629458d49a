/**
 * smtp-dane: finds the DANE TLSA records (RFC 7672) of one MX host, asking
 * the resolver of dns_resolver_servers (or the system's) with DO and AD
 * set and trusting its AD bit, as Postfix does with
 * smtp_dns_support_level = dnssec. DANE applies only when the MX RRset of
 * the nexthop domain (when the host came from an MX lookup) and the host's
 * address records are secure; then _port._tcp.host TLSA is looked up and
 * only a secure, non-empty answer counts. Outcomes carry Postfix's texts
 * ("non DNSSEC destination", "no TLSA records found", "TLSA records
 * unusable", "TLSA lookup error for host:port"). Answers are cached per
 * (domain, host, port) for the smallest TTL seen. daneLookup never throws.
 */
import { promises as dnsPromises } from 'node:dns';
import type { SecureAnswer, SecureRecordType } from '../../global/dns-query.js';
import type { TlsaRecord } from './smtp-tls-policy-types.js';
import { tlsaUsable } from './smtp-tls-verify.js';

/** What DANE says for one host. */
export type DaneOutcome =
  | { kind: 'usable'; tlsa: TlsaRecord[] }
  /** Some records, none usable for SMTP: Postfix's "dane" falls back to encrypt. */
  | { kind: 'unusable'; why: string }
  /** DANE does not apply (insecure MX or host, no secure TLSA): "dane" falls back to may. */
  | { kind: 'none'; why: string }
  /** A lookup failed: the mail is deferred at either DANE level. */
  | { kind: 'error'; why: string };

/** One secure lookup outcome: the answer, or a failure code. */
type Looked = { answer: SecureAnswer } | { code: string; secure: boolean };

/** The DANE lookups of one smtp agent, with their cache. */
export class DaneResolver {
  private readonly cache = new Map<string, { until: number; outcome: DaneOutcome }>();
  private readonly servers: string[];

  /** `servers`: dns_resolver_servers; empty: the system's name servers. */
  constructor(servers: string[]) {
    this.servers = servers.length ? servers : dnsPromises.getServers();
  }

  private async ask(name: string, type: SecureRecordType): Promise<Looked> {
    try {
      // dns-query (and dns-packet under it) loads with the first DNSSEC question: a relayhost given by address asks none.
      const { resolveSecure } = await import('../../global/dns-query.js');
      return { answer: await resolveSecure(this.servers, name, type) };
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { secure?: boolean };
      return { code: e.code ?? 'EUNKNOWN', secure: e.secure === true };
    }
  }

  /**
   * DANE for `host` reached for `domain` on `port`; `viaMx` when the host
   * came from the domain's MX records; `ipv6` for the address type looked at.
   */
  async lookup(domain: string, host: string, port: number, viaMx: boolean, ipv6 = false): Promise<DaneOutcome> {
    const key = `${domain.toLowerCase()} ${host.toLowerCase()} ${port} ${viaMx ? 'mx' : 'host'} ${ipv6 ? 6 : 4}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.outcome;
    const { outcome, ttl } = await this.fresh(domain, host, port, viaMx, ipv6);
    // Failures are not kept: the next delivery asks again.
    if (outcome.kind !== 'error') this.cache.set(key, { until: Date.now() + Math.max(1, ttl) * 1000, outcome });
    return outcome;
  }

  private async fresh(domain: string, host: string, port: number, viaMx: boolean, ipv6: boolean): Promise<{ outcome: DaneOutcome; ttl: number }> {
    let ttl = 3600;
    if (viaMx) {
      const mx = await this.ask(domain, 'MX');
      if ('code' in mx) return { outcome: { kind: 'error', why: `MX lookup error for ${domain}` }, ttl };
      if (!mx.answer.secure) return { outcome: { kind: 'none', why: 'non DNSSEC destination' }, ttl: mx.answer.ttl };
      ttl = Math.min(ttl, mx.answer.ttl);
    }
    const addr = await this.ask(host, ipv6 ? 'AAAA' : 'A');
    if ('code' in addr) {
      if (addr.code !== 'ENOTFOUND' && addr.code !== 'ENODATA') return { outcome: { kind: 'error', why: `address lookup error for ${host}` }, ttl };
      // A host found only through the other family, or the system's resolver: its addresses are not known to be secure.
      return { outcome: { kind: 'none', why: 'no TLSA records found' }, ttl: 60 };
    }
    if (!addr.answer.secure || !addr.answer.records.length) return { outcome: { kind: 'none', why: 'no TLSA records found' }, ttl: Math.min(ttl, addr.answer.ttl) };
    ttl = Math.min(ttl, addr.answer.ttl);
    const tlsa = await this.ask(`_${port}._tcp.${host}`, 'TLSA');
    if ('code' in tlsa) {
      if (tlsa.code === 'ENOTFOUND') return { outcome: { kind: 'none', why: 'no TLSA records found' }, ttl: 60 };
      return { outcome: { kind: 'error', why: `TLSA lookup error for ${host}:${port}` }, ttl };
    }
    if (!tlsa.answer.secure || !tlsa.answer.records.length) return { outcome: { kind: 'none', why: 'no TLSA records found' }, ttl: Math.min(ttl, tlsa.answer.ttl) };
    ttl = Math.min(ttl, tlsa.answer.ttl);
    const records: TlsaRecord[] = tlsa.answer.records.map((r) => {
      const d = r as { usage: number; selector: number; matchingType: number; certificate: Buffer };
      return { usage: d.usage, selector: d.selector, matchingType: d.matchingType, data: Buffer.from(d.certificate) };
    });
    const usable = records.filter(tlsaUsable);
    if (!usable.length) return { outcome: { kind: 'unusable', why: 'TLSA records unusable' }, ttl };
    return { outcome: { kind: 'usable', tlsa: usable }, ttl };
  }
}
