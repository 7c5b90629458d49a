/**
 * smtp-tls-policy: the TLS policy of one delivery attempt to one MX host,
 * and the check of the server's certificate chain after STARTTLS.
 *
 * resolveTlsPolicy(ctx, nexthopDomain, mxHost, port, opts) decides, in
 * Postfix's and RFC 8461's order: an smtp_tls_policy_maps entry wins; at a
 * dane or dane-only level, usable DNSSEC-validated TLSA records make it a
 * DANE policy (RFC 8461 section 2: DANE wins over MTA-STS); otherwise an
 * MTA-STS policy in enforce or testing mode (opts.sts) is level "secure"
 * matching its mx patterns, with an MX host outside them refused (enforce);
 * otherwise main.cf's smtp_tls_security_level. "dane" without TLSA falls
 * back to "may" ("encrypt" when the records are unusable); "dane-only"
 * without them refuses the host with Postfix's 4.7.5 texts. A policy with
 * `refuse` set means: do not connect; defer with that reason. Never throws.
 *
 * checkPeer(policy, peer, names) says whether a TLS session meets the
 * policy: fingerprint (certificate or public-key digests), verify/secure
 * (a trusted chain and a certificate name per the match strategies), DANE
 * (DANE-EE / DANE-TA), with the RFC 8460 failure type, Postfix's reason
 * ("Server certificate not verified") and the trust word of Postfix's TLS
 * log line (Verified, Trusted, Untrusted).
 */
import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { LookupTable } from '../../config/lookup-table.js';
import type { DaneResolver } from './smtp-dane.js';
import type { StsPolicy, TlsFailureType, TlsLevel, TlsPolicy } from './smtp-tls-policy-types.js';
import { lookupTlsPolicy, parseTlsPolicyEntry } from './smtp-tls-table.js';
import { daneVerify, matchCertNames, matchFingerprint } from './smtp-tls-verify.js';

/** The main.cf settings and lookups a policy is decided with; one per smtp agent. */
export interface TlsPolicyContext {
  level: TlsLevel;
  /** smtp_tls_policy_maps, opened; undefined when empty. */
  table?: LookupTable;
  /** smtp_tls_fingerprint_cert_match, smtp_tls_verify_cert_match, smtp_tls_secure_cert_match. */
  fingerprintMatch: string[];
  verifyMatch: string[];
  secureMatch: string[];
  /** smtp_dns_support_level = dnssec: DANE may apply. */
  dnssec: boolean;
  dane: DaneResolver;
  /** Warnings (an invalid table entry, DANE configured without DNSSEC). */
  warn?: (text: string) => void;
}

/** Where the host being tried came from. */
export interface TlsPolicyOptions {
  /** The smtp_tls_policy_maps key: the nexthop as written ("domain", "[host]:port"; tlsPolicyKey); default the domain. */
  nexthopKey?: string;
  /** The host came from the nexthop's MX records (DANE then needs a secure MX RRset). */
  viaMx?: boolean;
  /** The address family of the address being tried (DANE's secure address check). */
  ipv6?: boolean;
  /** The MTA-STS policy provider. */
  sts?: (domain: string) => Promise<StsPolicy | undefined>;
}

const CONFIG_PROBLEM = 'client TLS configuration problem';

function refused(level: TlsLevel, source: TlsPolicy['source'], dsn: string, reason: string): TlsPolicy {
  return { level, source, match: [], refuse: { dsn, reason } };
}

/** The match words of a level when the table gave none. */
function defaultMatch(ctx: TlsPolicyContext, level: TlsLevel): string[] {
  if (level === 'fingerprint') return ctx.fingerprintMatch;
  if (level === 'verify') return ctx.verifyMatch;
  if (level === 'secure') return ctx.secureMatch;
  return [];
}

/** True when `host` matches an MTA-STS mx pattern ("mx.example.com" or "*.example.com", RFC 8461 4.1). */
export function stsMxMatches(patterns: readonly string[], host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return patterns.some((raw) => {
    const p = raw.toLowerCase().replace(/\.$/, '');
    if (!p.startsWith('*.')) return p === h;
    const dot = h.indexOf('.');
    return dot > 0 && h.slice(dot + 1) === p.slice(2);
  });
}

/** The policy for one attempt to `mxHost` (port `port`) for the nexthop `nexthopDomain`. */
export async function resolveTlsPolicy(ctx: TlsPolicyContext, nexthopDomain: string, mxHost: string, port: number, opts: TlsPolicyOptions = {}): Promise<TlsPolicy> {
  const viaMx = opts.viaMx ?? false;
  // An IP literal has no name: no table key beyond itself, no DANE, no MTA-STS.
  const named = !isIP(nexthopDomain);
  let level = ctx.level;
  let source: TlsPolicy['source'] = 'main.cf';
  let match: string[] | undefined;
  let ciphers: string | undefined;
  let protocols: string | undefined;
  if (ctx.table) {
    const key = opts.nexthopKey ?? nexthopDomain.toLowerCase();
    const value = lookupTlsPolicy(ctx.table, key);
    if (value !== undefined) {
      const entry = parseTlsPolicyEntry(value);
      if (typeof entry === 'string') {
        ctx.warn?.(`${ctx.table.spec}: TLS policy lookup for ${key}: ${entry}`);
        return refused(ctx.level, 'policy-table', '4.7.5', CONFIG_PROBLEM);
      }
      ({ level, ciphers, protocols } = entry);
      if (entry.match.length) match = entry.match;
      source = 'policy-table';
    }
  }
  const extra = { ...(ciphers ? { ciphers } : {}), ...(protocols ? { protocols } : {}) };
  if (level === 'dane' || level === 'dane-only') {
    const dane = await daneFor(ctx, level, source, nexthopDomain, mxHost, port, viaMx, opts.ipv6 ?? false);
    if ('policy' in dane) return { ...dane.policy, ...extra };
    // "dane" without usable TLSA: MTA-STS may still apply below, else the fallback level.
    if (source === 'main.cf' && named && opts.sts) {
      const sts = await stsPolicy(opts.sts, nexthopDomain, mxHost);
      if (sts) return sts;
    }
    return { level: dane.fallback, source, match: [], ...extra };
  }
  if (source === 'main.cf' && named && opts.sts) {
    const sts = await stsPolicy(opts.sts, nexthopDomain, mxHost);
    if (sts) return sts;
  }
  if (level === 'fingerprint' && !(match ?? ctx.fingerprintMatch).length) {
    ctx.warn?.(`nexthop domain ${nexthopDomain}: configured at fingerprint security level, but with no fingerprints to match.`);
    return refused(level, source, '4.7.5', CONFIG_PROBLEM);
  }
  return { level, source, match: match ?? defaultMatch(ctx, level), ...extra };
}

/** A DANE policy, or the level "dane" falls back to; dane-only without TLSA is a refusing policy. */
async function daneFor(
  ctx: TlsPolicyContext, level: 'dane' | 'dane-only', source: TlsPolicy['source'],
  domain: string, host: string, port: number, viaMx: boolean, ipv6: boolean,
): Promise<{ policy: TlsPolicy } | { fallback: TlsLevel }> {
  if (!ctx.dnssec) {
    ctx.warn?.(`${domain}: ${level} configured with dnssec lookups disabled`);
    if (level === 'dane') return { fallback: 'may' };
    return { policy: refused(level, source, '4.7.5', CONFIG_PROBLEM) };
  }
  if (isIP(host)) {
    if (level === 'dane') return { fallback: 'may' };
    return { policy: refused(level, source, '4.7.5', 'non DNSSEC destination') };
  }
  const found = await ctx.dane.lookup(domain, host, port, viaMx, ipv6);
  if (found.kind === 'usable') return { policy: { level, source: 'dane', match: [], tlsa: found.tlsa } };
  if (found.kind === 'error') return { policy: refused(level, source, '4.7.5', found.why) };
  if (level === 'dane') return { fallback: found.kind === 'unusable' ? 'encrypt' : 'may' };
  return { policy: refused(level, source, '4.7.5', found.why) };
}

/** An MTA-STS policy in force for `domain` as a TLS policy for `host`; undefined for none (or mode none). */
async function stsPolicy(provider: (domain: string) => Promise<StsPolicy | undefined>, domain: string, host: string): Promise<TlsPolicy | undefined> {
  let sts: StsPolicy | undefined;
  try {
    sts = await provider(domain);
  } catch {
    sts = undefined;
  }
  if (!sts || sts.mode === 'none') return undefined;
  const policy: TlsPolicy = { level: 'secure', source: 'mta-sts', match: [...sts.mx], sts };
  if (sts.mode === 'enforce' && !stsMxMatches(sts.mx, host)) {
    policy.refuse = { dsn: '4.7.5', reason: `MX host ${host} does not match the MTA-STS policy of ${domain}` };
  }
  return policy;
}

/** What checkPeer looks at: the chain the server presented and whether it chains to a trusted CA. */
export interface PeerInfo {
  /** Leaf first. */
  chain: X509Certificate[];
  /** The chain verified against smtp_tls_CAfile / smtp_tls_CApath (else the system's roots). */
  authorized: boolean;
  /** OpenSSL's reason when not authorized (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...). */
  authorizationError?: string;
}

/** The outcome of checkPeer. */
export interface PeerCheck {
  ok: boolean;
  failure?: TlsFailureType;
  /** Postfix's deferral reason when not ok; a short note of what matched when ok. */
  reason: string;
  /** The first word of Postfix's "... TLS connection established" line. */
  trust: 'Verified' | 'Trusted' | 'Untrusted' | 'Anonymous';
}

const NOT_VERIFIED = 'Server certificate not verified';

function chainFailure(peer: PeerInfo): TlsFailureType {
  return peer.authorizationError === 'CERT_HAS_EXPIRED' ? 'certificate-expired' : 'certificate-not-trusted';
}

/**
 * Checks a TLS session against `policy`; `names.hostname` is the MX host,
 * `names.nexthop` the nexthop domain. A failed check is always 4.7.5.
 */
export function checkPeer(policy: TlsPolicy, peer: PeerInfo, names: { hostname: string; nexthop: string }, digest = 'sha256'): PeerCheck {
  const leaf = peer.chain[0];
  if (!leaf) {
    const mustMatch = !['none', 'may', 'encrypt'].includes(policy.level);
    return mustMatch
      ? { ok: false, failure: 'validation-failure', reason: NOT_VERIFIED, trust: 'Anonymous' }
      : { ok: true, reason: 'no certificate', trust: 'Anonymous' };
  }
  const chainTrust = peer.authorized ? 'Trusted' : 'Untrusted';
  if (policy.tlsa?.length) {
    const m = daneVerify(policy.tlsa, peer.chain, names.hostname);
    return m.ok
      ? { ok: true, reason: m.detail, trust: 'Verified' }
      : { ok: false, failure: 'tlsa-invalid', reason: NOT_VERIFIED, trust: chainTrust };
  }
  switch (policy.level) {
    case 'fingerprint':
      return matchFingerprint(leaf, policy.match, digest)
        ? { ok: true, reason: 'fingerprint', trust: 'Verified' }
        : { ok: false, failure: 'validation-failure', reason: NOT_VERIFIED, trust: chainTrust };
    case 'verify':
    case 'secure': {
      if (!peer.authorized) return { ok: false, failure: chainFailure(peer), reason: NOT_VERIFIED, trust: 'Untrusted' };
      const matched = matchCertNames(leaf, policy.match, names.hostname, names.nexthop);
      return matched
        ? { ok: true, reason: matched, trust: 'Verified' }
        : { ok: false, failure: 'certificate-host-mismatch', reason: NOT_VERIFIED, trust: 'Trusted' };
    }
    default:
      return { ok: true, reason: 'not checked', trust: chainTrust };
  }
}
