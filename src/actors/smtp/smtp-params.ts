/**
 * smtp-params: the smtp client's main.cf parameters, read once per agent with
 * Postfix's defaults for any the configuration record does not carry.
 * Throws ConfigError (from MainConfig) when a value is malformed.
 */
import type { MainConfig } from '../../config/main-config.js';
import { withParameterDefaults } from '../../config/parameter-defaults.js';
import type { TlsLevel } from './smtp-tls-policy-types.js';

export type { TlsLevel } from './smtp-tls-policy-types.js';

const TLS_LEVELS: readonly TlsLevel[] = ['none', 'may', 'encrypt', 'dane', 'dane-only', 'fingerprint', 'verify', 'secure'];

/** Everything the smtp client reads from main.cf; times in milliseconds. */
export interface SmtpParams {
  heloName: string;
  tlsLevel: TlsLevel;
  tlsCAfile: string;
  /** smtp_tls_CApath: a directory of CA certificates ('' = none). */
  tlsCApath: string;
  /** smtp_tls_policy_maps, as written ('' = none). */
  tlsPolicyMaps: string;
  /** smtp_tls_fingerprint_digest and smtp_tls_fingerprint_cert_match. */
  tlsFingerprintDigest: string;
  tlsFingerprintMatch: string[];
  /** smtp_tls_verify_cert_match and smtp_tls_secure_cert_match: name strategies and patterns. */
  tlsVerifyMatch: string[];
  tlsSecureMatch: string[];
  /** smtp_tls_protocols / smtp_tls_mandatory_protocols, smtp_tls_ciphers / smtp_tls_mandatory_ciphers. */
  tlsProtocols: string[];
  tlsMandatoryProtocols: string[];
  tlsCiphers: string;
  tlsMandatoryCiphers: string;
  /** smtp_tls_loglevel: 1 and above log "... TLS connection established" and certificate failures. */
  tlsLoglevel: number;
  /** smtp_dns_support_level = dnssec: the resolver's AD bit is trusted, DANE may apply. */
  dnssec: boolean;
  connectTimeout: number;
  heloTimeout: number;
  /** The longest of the per-command timeouts: nodemailer has one inactivity timer. */
  commandTimeout: number;
  mxAddressLimit: number;
  mxSessionLimit: number;
  reuseCountLimit: number;
  cacheTimeLimit: number;
  /** smtp_connection_reuse_time_limit: the oldest a cached session may be and still be reused. */
  reuseTimeLimit: number;
  dnsServers: string[];
  defaultPort: number;
  /** soft_bounce: a bounce is reported as a deferral (status=SOFTBOUNCE). */
  softBounce: boolean;
  /** smtp_bind_address and smtp_bind_address6: the local address of outgoing connections ('' = any). */
  bindAddress: string;
  bindAddress6: string;
  /** inet_protocols: the address families the client connects over. */
  ipv4: boolean;
  ipv6: boolean;
  /** smtp_tls_cert_file and smtp_tls_key_file: the client certificate offered when a server asks ('' = none). */
  tlsCertFile: string;
  tlsKeyFile: string;
  /** smtp_skip_5xx_greeting: a 5xx greeting defers (next MX) rather than bounces. */
  skip5xxGreeting: boolean;
  /** smtp_dns_support_level / disable_dns_lookups: false = no MX lookups, hosts from the system resolver. */
  dnsEnabled: boolean;
  /** smtp_host_lookup: how host addresses are found, in order. */
  hostLookup: Array<'dns' | 'native'>;
  /** smtp_line_length_limit: longer lines are broken with CRLF SPACE (0: no limit). */
  lineLengthLimit: number;
  /** smtp_discard_ehlo_keywords: EHLO keywords ignored in a server's reply, lower case ("silent-discard" removed). */
  discardEhloKeywords: string[];
  /** smtp_discard_ehlo_keywords holds "silent-discard": the discarded keywords are not logged. */
  silentDiscard: boolean;
  /** disable_mime_output_conversion = no: 8-bit MIME parts go to a peer without 8BITMIME as quoted-printable. */
  mimeOutputConversion: boolean;
  /** mime_nesting_limit: deeper multipart nesting cannot be converted (5.6.0). */
  mimeNestingLimit: number;
}

/** The parameters read here; their defaults come from the parameter table. */
const SMTP_PARAMETERS = [
  'smtp_helo_name', 'smtp_tls_security_level', 'smtp_tls_CAfile', 'smtp_connect_timeout', 'smtp_helo_timeout',
  'smtp_mail_timeout', 'smtp_rcpt_timeout', 'smtp_data_init_timeout', 'smtp_data_xfer_timeout', 'smtp_data_done_timeout',
  'smtp_mx_address_limit', 'smtp_mx_session_limit', 'smtp_connection_reuse_count_limit',
  'smtp_connection_cache_time_limit', 'smtp_connection_reuse_time_limit', 'dns_resolver_servers', 'smtp_rset_timeout',
  'soft_bounce', 'smtp_bind_address', 'smtp_bind_address6', 'inet_protocols', 'smtp_tls_cert_file', 'smtp_tls_key_file',
  'smtp_skip_5xx_greeting', 'smtp_line_length_limit', 'smtp_dns_support_level', 'disable_dns_lookups', 'smtp_host_lookup',
  'smtp_discard_ehlo_keywords', 'disable_mime_output_conversion', 'mime_nesting_limit',
  'smtp_tls_CApath', 'smtp_tls_policy_maps', 'smtp_tls_fingerprint_digest', 'smtp_tls_fingerprint_cert_match',
  'smtp_tls_verify_cert_match', 'smtp_tls_secure_cert_match', 'smtp_tls_protocols', 'smtp_tls_mandatory_protocols',
  'smtp_tls_ciphers', 'smtp_tls_mandatory_ciphers', 'smtp_tls_loglevel',
] as const;

function withDefaults(config: MainConfig): MainConfig {
  return withParameterDefaults(config, SMTP_PARAMETERS);
}

/** Reads the smtp client's parameters from a MainConfig. */
export function readSmtpParams(input: MainConfig): SmtpParams {
  const config = withDefaults(input);
  let heloName = config.get('smtp_helo_name').trim();
  if (!heloName || heloName.includes('$')) heloName = config.get('myhostname').trim() || 'localhost';
  const level = (config.get('smtp_tls_security_level').trim().toLowerCase() || 'none') as string;
  // An unknown level never gets this far: check and start refuse it (Postfix stops on it too).
  const tlsLevel: TlsLevel = TLS_LEVELS.includes(level as TlsLevel) ? level as TlsLevel : 'none';
  const ms = (name: string) => Math.round(config.time(name) * 1000);
  return {
    heloName,
    tlsLevel,
    tlsCAfile: config.path('smtp_tls_CAfile'),
    tlsCApath: config.path('smtp_tls_CApath'),
    tlsPolicyMaps: config.get('smtp_tls_policy_maps').trim(),
    tlsFingerprintDigest: config.get('smtp_tls_fingerprint_digest').trim().toLowerCase() || 'sha256',
    tlsFingerprintMatch: config.list('smtp_tls_fingerprint_cert_match'),
    // Postfix splits these on ":" too.
    tlsVerifyMatch: config.list('smtp_tls_verify_cert_match').flatMap((w) => w.split(':')).filter(Boolean),
    tlsSecureMatch: config.list('smtp_tls_secure_cert_match').flatMap((w) => w.split(':')).filter(Boolean),
    tlsProtocols: config.list('smtp_tls_protocols').flatMap((w) => w.split(':')).filter(Boolean),
    tlsMandatoryProtocols: config.list('smtp_tls_mandatory_protocols').flatMap((w) => w.split(':')).filter(Boolean),
    tlsCiphers: config.get('smtp_tls_ciphers').trim().toLowerCase() || 'medium',
    tlsMandatoryCiphers: config.get('smtp_tls_mandatory_ciphers').trim().toLowerCase() || 'medium',
    tlsLoglevel: config.int('smtp_tls_loglevel'),
    dnssec: config.get('smtp_dns_support_level').trim().toLowerCase() === 'dnssec',
    connectTimeout: ms('smtp_connect_timeout'),
    heloTimeout: ms('smtp_helo_timeout'),
    commandTimeout: Math.max(
      ms('smtp_mail_timeout'), ms('smtp_rcpt_timeout'), ms('smtp_data_init_timeout'),
      ms('smtp_data_xfer_timeout'), ms('smtp_data_done_timeout'), ms('smtp_rset_timeout'),
    ),
    mxAddressLimit: config.int('smtp_mx_address_limit'),
    mxSessionLimit: config.int('smtp_mx_session_limit'),
    reuseCountLimit: config.int('smtp_connection_reuse_count_limit'),
    cacheTimeLimit: ms('smtp_connection_cache_time_limit'),
    reuseTimeLimit: ms('smtp_connection_reuse_time_limit'),
    dnsServers: config.list('dns_resolver_servers'),
    defaultPort: 25,
    softBounce: config.bool('soft_bounce'),
    bindAddress: config.get('smtp_bind_address').trim(),
    bindAddress6: config.get('smtp_bind_address6').trim(),
    ...families(config.list('inet_protocols')),
    tlsCertFile: config.path('smtp_tls_cert_file'),
    tlsKeyFile: config.path('smtp_tls_key_file'),
    skip5xxGreeting: config.bool('smtp_skip_5xx_greeting'),
    lineLengthLimit: config.int('smtp_line_length_limit'),
    dnsEnabled: dnsEnabled(config.get('smtp_dns_support_level').trim().toLowerCase(), config.bool('disable_dns_lookups')),
    hostLookup: hostLookup(config.list('smtp_host_lookup')),
    ...discardKeywords(config.list('smtp_discard_ehlo_keywords')),
    mimeOutputConversion: !config.bool('disable_mime_output_conversion'),
    mimeNestingLimit: config.int('mime_nesting_limit'),
  };
}

/** inet_protocols: "all" (or empty) is both families, else the ones named (ipv4, ipv6). */
function families(list: string[]): { ipv4: boolean; ipv6: boolean } {
  const words = list.map((w) => w.toLowerCase());
  if (words.length === 0 || words.includes('all')) return { ipv4: true, ipv6: true };
  return { ipv4: words.includes('ipv4'), ipv6: words.includes('ipv6') };
}

/** Postfix: smtp_dns_support_level decides when set; empty, disable_dns_lookups does. */
function dnsEnabled(level: string, disabled: boolean): boolean {
  if (level === 'disabled') return false;
  if (level !== '') return true;
  return !disabled;
}

/** smtp_host_lookup: "dns", "native", or both in the order given (unknown words are the checker's to refuse). */
function hostLookup(list: string[]): Array<'dns' | 'native'> {
  const out = list.map((w) => w.toLowerCase()).filter((w): w is 'dns' | 'native' => w === 'dns' || w === 'native');
  return out.length ? out : ['dns'];
}

/** smtp_discard_ehlo_keywords: the keywords, case-folded, and whether "silent-discard" asks not to log them. */
function discardKeywords(list: string[]): { discardEhloKeywords: string[]; silentDiscard: boolean } {
  const words = list.map((w) => w.toLowerCase());
  return { discardEhloKeywords: words.filter((w) => w !== 'silent-discard'), silentDiscard: words.includes('silent-discard') };
}
