/**
 * smtp-mta-sts: the MTA-STS policy of a destination domain (RFC 8461
 * section 5.1), as the smtp client asks for it once per delivery. The
 * `_mta-sts.DOMAIN` TXT record's id says whether the cached policy is still
 * current; a new id, or no unexpired cached policy, fetches the policy
 * again (smtp-mta-sts-fetch.ts). Policies are cached in memory and on disk
 * in smtp_mta_sts_cache_directory (one JSON file per domain, replaced
 * atomically, so several smtp threads and a restarted daemon share them)
 * for their max_age. A failed lookup or fetch keeps an unexpired cached
 * policy (section 3.3); without one the domain has no policy, the failure is
 * kept for TLSRPT (failureFor) and not retried for a minute.
 *
 * mailauth (its TXT record lookup and policy parser) is imported with a
 * thread's first policy lookup: its shared tools bring joi, libmime, tldts
 * and an HTTP client, which made an smtp thread's start about 150-200 ms
 * longer and its heap 9 MiB larger where no destination has MTA-STS.
 *
 * Public: StsProvider (policyFor, failureFor), stsMxMatches.
 * policyFor never rejects: DNS and HTTPS trouble is a missing policy.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { promises as dnsPromises } from 'node:dns';
import { stsMxMatches as mxPatternsMatch } from './smtp-tls-policy.js';
import type { StsPolicy } from './smtp-tls-policy-types.js';
import { fetchStsPolicy, StsFetchError, type StsFetchFailure } from './smtp-mta-sts-fetch.js';

/** How long a thread trusts its last TXT lookup of a domain before asking again. */
const TXT_RECHECK_MS = 60_000;
/** How long a failed fetch (without a cached policy) is not tried again. */
const FAILURE_RETRY_MS = 60_000;

interface CachedPolicy extends StsPolicy {
  /** Milliseconds since the epoch when max_age runs out. */
  expires: number;
}

interface Entry {
  policy?: CachedPolicy;
  checkedAt: number;
  failure?: { type: StsFetchFailure; detail: string };
}

export interface StsProviderOptions {
  resolver: dnsPromises.Resolver;
  /** smtp_mta_sts_cache_directory. */
  cacheDir: string;
  /** smtp_mta_sts_CAfile contents; undefined: Node's public roots. */
  ca?: Buffer;
  /** smtp_mta_sts_fetch_timeout in milliseconds. */
  timeoutMs: number;
  /** Counts every policy fetch (for logs and tests). */
  onFetch?: (domain: string, outcome: 'ok' | StsFetchFailure, detail: string) => void;
}

/** True when `mxHost` matches one of the policy's mx patterns (section 4.1: "*." is one whole left-most label); mode none asks nothing of it. */
export function stsMxMatches(policy: StsPolicy, mxHost: string): boolean {
  return policy.mode === 'none' || mxPatternsMatch(policy.mx, mxHost);
}

/** MTA-STS policies of destination domains, for one thread. */
export class StsProvider {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<StsPolicy | undefined>>();

  constructor(private readonly opts: StsProviderOptions) {}

  /** The domain's current policy (mode none included), or undefined when it has none. */
  policyFor(domain: string): Promise<StsPolicy | undefined> {
    const name = domain.toLowerCase().replace(/\.$/, '');
    // Only plain host names (A-labels) name a policy host and a cache file.
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(name)) return Promise.resolve(undefined);
    const entry = this.entries.get(name);
    const now = Date.now();
    if (entry) {
      const fresh = entry.policy && entry.policy.expires > now;
      const wait = entry.failure && !fresh ? FAILURE_RETRY_MS : TXT_RECHECK_MS;
      if (now - entry.checkedAt < wait) return Promise.resolve(fresh ? entry.policy : undefined);
    }
    let p = this.inflight.get(name);
    if (!p) {
      p = this.refresh(name).finally(() => this.inflight.delete(name));
      this.inflight.set(name, p);
    }
    return p;
  }

  /** The last fetch failure of a domain that has no usable policy, for TLSRPT. */
  failureFor(domain: string): { type: StsFetchFailure; detail: string } | undefined {
    const e = this.entries.get(domain.toLowerCase().replace(/\.$/, ''));
    return e?.failure && !(e.policy && e.policy.expires > Date.now()) ? e.failure : undefined;
  }

  private async refresh(domain: string): Promise<StsPolicy | undefined> {
    const now = Date.now();
    let cached = this.entries.get(domain)?.policy ?? this.readDisk(domain);
    if (cached && cached.expires <= now) cached = undefined;
    const keep = (failure?: Entry['failure']): StsPolicy | undefined => {
      this.entries.set(domain, { policy: cached, checkedAt: Date.now(), failure });
      return cached;
    };
    let id: string | false;
    try {
      const { resolvePolicy } = await import('mailauth/lib/mta-sts.js');
      id = await resolvePolicy(domain, { resolver: (name: string, type: string) => this.opts.resolver.resolve(name, type as 'TXT') as Promise<string[][]> });
    } catch (err) {
      // A DNS failure is no news: the cached policy, if any, still holds.
      return keep({ type: 'sts-policy-fetch-error', detail: `_mta-sts.${domain} TXT: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    }
    // No record: section 5.1 keeps applying an unexpired cached policy.
    if (!id) return keep();
    if (cached && cached.id === id) return keep();
    try {
      const policy = await fetchStsPolicy(domain, id, { ca: this.opts.ca, timeoutMs: this.opts.timeoutMs, lookup: (h) => this.addresses(h) });
      const stored: CachedPolicy = { ...policy, expires: Date.now() + policy.maxAge * 1000 };
      this.writeDisk(stored);
      this.opts.onFetch?.(domain, 'ok', `id=${id} mode=${policy.mode}`);
      cached = stored;
      return keep();
    } catch (err) {
      const failure = err instanceof StsFetchError ? { type: err.failure, detail: err.message } : { type: 'sts-policy-fetch-error' as const, detail: String(err) };
      this.opts.onFetch?.(domain, failure.type, failure.detail);
      return keep(failure);
    }
  }

  private async addresses(host: string): Promise<string[]> {
    try {
      return await this.opts.resolver.resolve4(host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENODATA' && code !== 'ENOTFOUND') throw err;
      return this.opts.resolver.resolve6(host);
    }
  }

  private file(domain: string): string {
    return join(this.opts.cacheDir, `${domain}.json`);
  }

  private readDisk(domain: string): CachedPolicy | undefined {
    try {
      const p = JSON.parse(readFileSync(this.file(domain), 'utf8')) as CachedPolicy;
      if (p.domain !== domain || typeof p.id !== 'string' || typeof p.expires !== 'number' || !Array.isArray(p.mx)) return undefined;
      return p;
    } catch {
      // Missing or damaged: as if never fetched.
      return undefined;
    }
  }

  private writeDisk(policy: CachedPolicy): void {
    try {
      mkdirSync(this.opts.cacheDir, { recursive: true, mode: 0o700 });
      const tmp = `${this.file(policy.domain)}.${process.pid}.${Math.random().toString(16).slice(2)}.tmp`;
      writeFileSync(tmp, JSON.stringify(policy) + '\n', { mode: 0o600 });
      renameSync(tmp, this.file(policy.domain));
    } catch {
      // An unwritable cache costs a fetch per thread and restart, never a delivery.
    }
  }
}
