/**
 * smtpd-auth-dns: the DNS function mailauth asks for SPF, DKIM keys, DMARC
 * and ARC records: node:dns's Resolver on dns_resolver_servers (the system
 * resolver when empty), as every other lookup of smtpd, with a bounded
 * answer cache per thread. Every answer is kept for its own TTL: A and AAAA
 * as node:dns reports it; TXT, MX, PTR and CNAME, whose TTL node:dns does
 * not report, are asked of the name servers directly (global/dns-query),
 * so a record changed in DNS is seen once its TTL has passed, as with any
 * caching resolver. "No such name" and "no data" are kept for
 * NEGATIVE_TTL_MS; a temporary failure (SERVFAIL, timeout, refused) is not
 * kept and reaches mailauth as such, which reports temperror. The function
 * rejects with node:dns's errors (their `code`), never throws otherwise.
 */
import { promises as dnsPromises, getServers } from 'node:dns';
import type { TtlRecordType } from '../../global/dns-query.js';

const TTL_TYPES = new Set<string>(['TXT', 'MX', 'PTR', 'CNAME']);
/** How long "no such name" / "no data" is kept. */
const NEGATIVE_TTL_MS = 60_000;
/** The most answers kept; the oldest go first. */
const CACHE_LIMIT = 20_000;
const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA']);

type Answer = { expires: number; value?: unknown; error?: NodeJS.ErrnoException };

/** mailauth's resolver signature: dns.promises.resolve's. */
export type AuthResolve = (name: string, type: string) => Promise<unknown>;

export class AuthDns {
  private readonly resolver: dnsPromises.Resolver;
  private readonly cache = new Map<string, Answer>();
  /** The name servers asked directly: dns_resolver_servers, else the system's. */
  private readonly servers: string[];

  constructor(
    servers: string[],
    private readonly timeoutMs = 2000,
  ) {
    this.resolver = new dnsPromises.Resolver({ timeout: timeoutMs, tries: 2 });
    if (servers.length > 0) this.resolver.setServers(servers);
    this.servers = servers.length > 0 ? servers : getServers();
  }

  /** The function to hand to mailauth. */
  readonly resolve: AuthResolve = async (name, type) => {
    const key = `${type} ${name.toLowerCase()}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.expires > now) {
      if (hit.error) throw hit.error;
      return hit.value;
    }
    let answer: Answer;
    try {
      answer = await this.ask(name, type, now);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (!NOT_FOUND.has(e.code ?? '')) throw e;
      answer = { expires: now + NEGATIVE_TTL_MS, error: e };
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
    this.cache.delete(key);
    this.cache.set(key, answer);
    if (answer.error) throw answer.error;
    return answer.value;
  };

  private async ask(name: string, type: string, now: number): Promise<Answer> {
    if (type === 'A' || type === 'AAAA') {
      const records = type === 'A' ? await this.resolver.resolve4(name, { ttl: true }) : await this.resolver.resolve6(name, { ttl: true });
      const ttl = records.reduce((min, r) => Math.min(min, r.ttl), 86_400);
      return { expires: now + ttl * 1000, value: records.map((r) => r.address) };
    }
    if (TTL_TYPES.has(type)) {
      // dns-query (and dns-packet under it) loads with the first such question: a thread that verifies nothing does not carry it.
      const { resolveWithTtl } = await import('../../global/dns-query.js');
      const a = await resolveWithTtl(this.servers, name, type as TtlRecordType, this.timeoutMs);
      return { expires: now + a.ttl * 1000, value: a.records };
    }
    return { expires: now, value: await this.resolver.resolve(name, type as 'TXT') };
  }
}
