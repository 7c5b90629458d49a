/**
 * smtp-tls-verify: what the smtp client checks in a server's certificate
 * chain, as Postfix does: the names a certificate is valid for (DNS
 * subjectAltNames, else the subject CN; IP subjectAltNames too, for
 * bracketed address nexthops), name matching by smtp_tls_verify_cert_match /
 * smtp_tls_secure_cert_match strategies (hostname, nexthop, dot-nexthop,
 * ".domain" suffixes, literal names, and MTA-STS "*.domain" patterns),
 * certificate and public-key fingerprints (smtp_tls_fingerprint_digest),
 * TLSA record matching (RFC 6698 selectors and matching types) and the
 * DANE-EE / DANE-TA checks of RFC 7672. Pure functions on node:crypto's
 * X509Certificate; nothing throws (an unreadable certificate matches
 * nothing).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { DetailedPeerCertificate } from 'node:tls';
import type { TlsaRecord } from './smtp-tls-policy-types.js';

function norm(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** The names a certificate is valid for: DNS subjectAltNames (else the CN), and its IP subjectAltNames. */
export function certNames(cert: X509Certificate): { dns: string[]; ips: string[] } {
  const dns: string[] = [];
  const ips: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
    const m = /^(DNS|IP Address):(.+)$/.exec(part.trim());
    if (!m) continue;
    if (m[1] === 'DNS') dns.push(norm(m[2]));
    else ips.push(m[2].toLowerCase());
  }
  if (!dns.length) {
    // Without DNS subjectAltNames the common name is the server's name, as Postfix reads it.
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
    if (cn) dns.push(norm(cn));
  }
  return { dns, ips };
}

/** True when certificate name `id` (possibly "*.domain") covers the host name `name`. */
function covers(id: string, name: string): boolean {
  if (id === name) return true;
  if (id.startsWith('*.')) {
    const dot = name.indexOf('.');
    return dot > 0 && name.slice(dot + 1) === id.slice(2);
  }
  return false;
}

/**
 * The first match strategy or pattern the certificate satisfies, or
 * undefined. Words: "hostname" (the MX host), "nexthop", "dot-nexthop" (any
 * subdomain of the nexthop), ".domain" (any subdomain), "*.domain" (a host
 * one label below domain: an MTA-STS mx pattern), else a literal name.
 */
export function matchCertNames(cert: X509Certificate, match: readonly string[], hostname: string, nexthop: string): string | undefined {
  const { dns, ips } = certNames(cert);
  for (const raw of match) {
    const word = norm(raw);
    let pattern = word;
    if (word === 'hostname') pattern = norm(hostname);
    else if (word === 'nexthop') pattern = norm(nexthop);
    else if (word === 'dot-nexthop') pattern = '.' + norm(nexthop);
    if (!pattern || pattern === '.') continue;
    if (isIP(pattern)) {
      if (ips.includes(pattern)) return raw;
      continue;
    }
    if (pattern.startsWith('*.')) {
      const parent = pattern.slice(2);
      const hit = dns.some((id) => id === pattern || (id.endsWith('.' + parent) && !id.slice(0, -parent.length - 1).includes('.') && !id.startsWith('*')));
      if (hit) return raw;
      continue;
    }
    if (pattern.startsWith('.')) {
      if (dns.some((id) => id.length > pattern.length && id.endsWith(pattern))) return raw;
      continue;
    }
    if (dns.some((id) => covers(id, pattern))) return raw;
  }
  return undefined;
}

/** The DER SubjectPublicKeyInfo of a certificate. */
function spki(cert: X509Certificate): Buffer {
  return cert.publicKey.export({ type: 'spki', format: 'der' });
}

/** A digest as Postfix prints fingerprints: upper-case hex pairs joined by ":". */
function colonHex(data: Buffer): string {
  return data.toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

/** The certificate and public-key fingerprints of `cert` with `digest` (sha256, sha1, md5, ...). */
export function fingerprints(cert: X509Certificate, digest: string): { cert: string; pkey: string } {
  return {
    cert: colonHex(createHash(digest).update(cert.raw).digest()),
    pkey: colonHex(createHash(digest).update(spki(cert)).digest()),
  };
}

/** True when one of the `match` fingerprints (colons optional, any case) is the certificate's or its public key's. */
export function matchFingerprint(cert: X509Certificate, match: readonly string[], digest: string): boolean {
  let fp: { cert: string; pkey: string };
  try {
    fp = fingerprints(cert, digest);
  } catch {
    return false;
  }
  const flat = (s: string) => s.replace(/:/g, '').toLowerCase();
  const mine = [flat(fp.cert), flat(fp.pkey)];
  return match.some((m) => mine.includes(flat(m)));
}

/** True when a TLSA record's association data is this certificate's (selector 0/1, matching 0/1/2). */
export function tlsaMatches(record: TlsaRecord, cert: X509Certificate): boolean {
  let data: Buffer;
  try {
    data = record.selector === 0 ? cert.raw : spki(cert);
  } catch {
    return false;
  }
  if (record.matchingType === 1) data = createHash('sha256').update(data).digest();
  else if (record.matchingType === 2) data = createHash('sha512').update(data).digest();
  return data.equals(record.data);
}

/** Usable for SMTP (RFC 7672 3.1): DANE-TA(2) or DANE-EE(3), selector 0/1, matching 0/1/2 with the digest's length. */
export function tlsaUsable(r: TlsaRecord): boolean {
  if (r.usage !== 2 && r.usage !== 3) return false;
  if (r.selector !== 0 && r.selector !== 1) return false;
  if (r.matchingType === 1) return r.data.length === 32;
  if (r.matchingType === 2) return r.data.length === 64;
  return r.matchingType === 0 && r.data.length > 0;
}

/** The result of checking a chain against TLSA records. */
export interface DaneMatch {
  ok: boolean;
  /** "DANE-EE" or "DANE-TA" when matched; else why not. */
  detail: string;
}

/**
 * RFC 7672 authentication: a DANE-EE(3) record matching the leaf
 * authenticates it whatever its names and dates (3.1.1); a DANE-TA(2)
 * record matching a certificate of the presented chain makes it the trust
 * anchor: every certificate below it must be issued and signed by the
 * next, the leaf must be within its dates and carry `hostname`, the TLSA
 * base domain (3.1.2, 3.2.2).
 */
export function daneVerify(records: readonly TlsaRecord[], chain: readonly X509Certificate[], hostname: string): DaneMatch {
  const leaf = chain[0];
  if (!leaf) return { ok: false, detail: 'no server certificate' };
  if (records.some((r) => r.usage === 3 && tlsaMatches(r, leaf))) return { ok: true, detail: 'DANE-EE' };
  const ta = records.filter((r) => r.usage === 2);
  if (!ta.length) return { ok: false, detail: 'no DANE-EE record matches the server certificate' };
  const anchor = chain.findIndex((c) => ta.some((r) => tlsaMatches(r, c)));
  if (anchor < 0) return { ok: false, detail: 'no DANE-TA record matches a certificate of the chain' };
  for (let i = 0; i < anchor; i++) {
    if (!chain[i].checkIssued(chain[i + 1]) || !chain[i].verify(chain[i + 1].publicKey)) {
      return { ok: false, detail: `certificate ${i} is not signed by the next in the chain` };
    }
  }
  const now = Date.now();
  if (Date.parse(leaf.validFrom) > now || Date.parse(leaf.validTo) < now) return { ok: false, detail: 'the server certificate is expired or not yet valid' };
  if (!matchCertNames(leaf, ['hostname'], hostname, hostname)) return { ok: false, detail: `the server certificate does not name ${hostname}` };
  return { ok: true, detail: 'DANE-TA' };
}

/** The chain a TLS peer presented, leaf first, from getPeerCertificate(true). */
export function peerChain(peer: DetailedPeerCertificate | undefined): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let cur: DetailedPeerCertificate | undefined = peer;
  while (cur && cur.raw && cur.raw.length) {
    const key = cur.raw.toString('base64');
    if (seen.has(key)) break;
    seen.add(key);
    try {
      out.push(new X509Certificate(cur.raw));
    } catch {
      break;
    }
    cur = cur.issuerCertificate;
  }
  return out;
}
