/**
 * smtp-tls-policy-types: how the smtp client protects one session, whichever
 * source decided it (main.cf, smtp_tls_policy_maps, DANE TLSA records, an
 * MTA-STS policy, a REQUIRETLS message), and what it reports afterwards. The
 * level names and match words are Postfix's; the result types are RFC 8460's.
 */

/** Postfix's smtp_tls_security_level values. */
export type TlsLevel = 'none' | 'may' | 'encrypt' | 'dane' | 'dane-only' | 'fingerprint' | 'verify' | 'secure';

/** Where a policy came from: it decides precedence and the TLSRPT policy type a result is counted under. */
export type TlsPolicySource = 'main.cf' | 'policy-table' | 'dane' | 'mta-sts' | 'requiretls';

/** One TLSA record (RFC 6698): usage 2 = DANE-TA, 3 = DANE-EE; selector 0 = certificate, 1 = public key; matching 0 = full, 1 = SHA-256, 2 = SHA-512. */
export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: Buffer;
}

/** An MTA-STS policy (RFC 8461) as fetched and cached. */
export interface StsPolicy {
  domain: string;
  /** The id= of the _mta-sts TXT record the policy was fetched under. */
  id: string;
  mode: 'enforce' | 'testing' | 'none';
  /** mx: patterns, "mail.example.com" or "*.example.com". */
  mx: string[];
  maxAge: number;
  /** The policy text as served, for TLSRPT's policy-string. */
  text: string;
}

/** The policy one delivery attempt follows. */
export interface TlsPolicy {
  level: TlsLevel;
  source: TlsPolicySource;
  /** match= words: digests for fingerprint; names for verify/secure (hostname, nexthop, dot-nexthop, .domain, names; MTA-STS mx patterns). */
  match: string[];
  /** ciphers= and protocols= of a policy table entry, when given. */
  ciphers?: string;
  protocols?: string;
  /** DNSSEC-validated TLSA records of the host being tried (dane levels). */
  tlsa?: TlsaRecord[];
  /** Set when MTA-STS decided the policy: testing mode delivers on failure and only reports it. */
  sts?: StsPolicy;
  /** Do not connect to this host: defer with this status and reason (dane-only without TLSA, an invalid table entry, an MX outside an enforced MTA-STS policy). */
  refuse?: { dsn: string; reason: string };
}

// The RFC 8460 result shapes live with the TLSRPT recorder, which the command line reads too.
export type { TlsFailureType, TlsSessionResult } from '../../global/tlsrpt-record.js';
