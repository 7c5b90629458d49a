/**
 * smtpd-settings: the parameters smtpd uses, read once through MainConfig's
 * getters. The defaults are the parameter table's (Postfix's, and
 * Postrider's own for its extra parameters), which the loaded record already
 * holds; a record that lacks some (a partial configuration, as tests and
 * benchmarks build) gets them from the same table, expanded over the record,
 * so nothing here restates a default. A numeric, boolean or time parameter
 * left empty takes its default too. A malformed value throws MainConfig's
 * ConfigError naming it.
 */
import { ConfigError, type MainConfig } from '../../config/main-config.js';
import { withParameterDefaults } from '../../config/parameter-defaults.js';
import { defaultSessionLimit, openFileLimit } from './smtpd-session-limit.js';
import { tlsVersionRange, type TlsVersionRange } from '../../config/tls-protocols.js';
import { policyServiceDefaults, PolicyServiceError, type PolicyServiceOptions } from '../../config/policy-service.js';
import { parseContentFilter, parseReceiveOverrideOptions, type ReceiveOverrideOptions } from '../../config/content-filter.js';

export type BareNewlineMode = 'normalize' | 'reject' | 'no';
export type TlsLevel = 'none' | 'may' | 'encrypt';

/** The values smtpd acts on, read once per configuration load. */
export interface SmtpdSettings {
  myhostname: string;
  banner: string;
  greetWaitMs: number;
  messageSizeLimit: number;
  /** message_spool_threshold: past this many bytes a message goes to a spool file as it arrives (0: never). */
  spoolThreshold: number;
  recipientLimit: number;
  /** smtpd_recipient_overshoot_limit: 452s past smtpd_recipient_limit that do not count as errors. */
  recipientOvershootLimit: number;
  timeoutMs: number;
  softErrorLimit: number;
  hardErrorLimit: number;
  errorSleepMs: number;
  /** smtpd_junk_command_limit: NOOP, VRFY, ETRN, RSET, HELO, EHLO beyond this count as errors. */
  junkCommandLimit: number;
  connectionCountLimit: number;
  connectionRateLimit: number;
  messageRateLimit: number;
  recipientRateLimit: number;
  authRateLimit: number;
  rateTimeUnitMs: number;
  /** smtpd_session_limit: concurrent sessions of this service (0: no cap). */
  sessionLimit: number;
  forbidUnauthPipelining: boolean;
  eventLimitExceptions: string[];
  mynetworks: string[];
  mydestination: string[];
  relayDomains: string[];
  virtualMailboxDomains: string[];
  virtualAliasDomains: string[];
  virtualMailboxMaps: string[];
  virtualAliasMaps: string[];
  clientRestrictions: string[];
  heloRestrictions: string[];
  senderRestrictions: string[];
  relayRestrictions: string[];
  recipientRestrictions: string[];
  dataRestrictions: string[];
  endOfDataRestrictions: string[];
  rejectUnlistedRecipient: boolean;
  rejectUnlistedSender: boolean;
  /** smtpd_restriction_classes: class name (lower case) -> its restriction list. */
  restrictionClasses: Map<string, string[]>;
  heloRequired: boolean;
  /** soft_bounce: every 5xx reply goes out as 4xx. */
  softBounce: boolean;
  /** queue_minfree, and the queue directory whose file system it is about. */
  queueMinfree: number;
  queueDirectory: string;
  localRecipientMaps: string[];
  /** alias_maps: those of local_recipient_maps' tables that are alias files, read in aliases(5) format. */
  aliasMaps: string[];
  relayRecipientMaps: string[];
  canonicalMaps: string[];
  recipientCanonicalMaps: string[];
  recipientDelimiter: string;
  showUnknownTable: boolean;
  nullAccessKey: string;
  strictRfc821: boolean;
  tlsWrapperMode: boolean;
  /** TLS versions per smtpd_tls_protocols (opportunistic) or smtpd_tls_mandatory_protocols (encrypt, wrapper mode). */
  tlsVersions: TlsVersionRange;
  /** smtpd_tls_received_header, smtpd_sasl_authenticated_header: what the Received: header tells. */
  tlsReceivedHeader: boolean;
  saslAuthenticatedHeader: boolean;
  tlsLevel: TlsLevel;
  tlsCertFile: string;
  tlsKeyFile: string;
  tlsAuthOnly: boolean;
  saslEnable: boolean;
  saslPasswordMaps: string[];
  /** smtpd_sasl_security_options permits PLAIN and LOGIN in sessions without TLS. */
  saslPlaintext: boolean;
  /** smtpd_sasl_tls_security_options permits PLAIN and LOGIN in TLS sessions. */
  saslTlsPlaintext: boolean;
  smtputf8: boolean;
  /** requiretls_enable: EHLO in a TLS session offers REQUIRETLS, and MAIL FROM takes it (RFC 8689). */
  requiretls: boolean;
  /** disable_vrfy_command: VRFY gets 502 and EHLO does not list it. */
  disableVrfy: boolean;
  /** fast_flush_domains: the sites ETRN may flush; whether a parent name matches its subdomains (parent_domain_matches_subdomains). */
  fastFlushDomains: string[];
  fastFlushSubdomains: boolean;
  bareNewline: BareNewlineMode;
  bareNewlineExclusions: string[];
  dnsServers: string[];
  /** The smtpd_policy_service_* parameters (a check_policy_service { ... } may override them). */
  policyDefaults: PolicyServiceOptions;
  /** Some restriction list or class names check_policy_service. */
  usesPolicyService: boolean;
  /** Sent to policy servers as compatibility_level and mail_version. */
  compatibilityLevel: string;
  mailVersion: string;
  /** receive_override_options; noMilters is for the milter code (receive_override_options = no_milters). */
  receiveOverride: ReceiveOverrideOptions;
  /** content_filter of this service ("" : none): written to each message it receives. */
  contentFilter: string;
  /** smtpd_authentication_results: verify and add Authentication-Results. */
  authResults: boolean;
  /** authserv_id. */
  authservId: string;
  /** dmarc_quarantine_action = hold: reject_dmarc_policy holds p=quarantine mail. */
  dmarcQuarantineHold: boolean;
  codes: {
    reject: number;
    defer: number;
    accessReject: number;
    accessDefer: number;
    relayReject: number;
    unknownAddress: number;
    nonFqdn: number;
    invalidHostname: number;
    rbl: number;
    unknownVirtualMailbox: number;
    unknownVirtualAlias: number;
    unknownLocalRecipient: number;
    unknownRelayRecipient: number;
  };
}

/**
 * Every parameter readSmtpdSettings reads; stress and virtual_maps through
 * the defaults that name them (smtpd_timeout's ${stress?...},
 * virtual_alias_maps' $virtual_maps).
 */
const SMTPD_PARAMETERS = [
  'stress', 'virtual_maps',
  'myhostname', 'mydomain', 'mail_name', 'smtpd_banner', 'smtpd_greet_wait', 'message_size_limit', 'message_spool_threshold',
  'smtpd_recipient_limit', 'smtpd_recipient_overshoot_limit', 'smtpd_timeout', 'smtpd_soft_error_limit',
  'smtpd_hard_error_limit', 'smtpd_error_sleep_time', 'smtpd_junk_command_limit',
  'smtpd_client_connection_count_limit', 'smtpd_client_connection_rate_limit', 'smtpd_client_message_rate_limit',
  'smtpd_client_recipient_rate_limit', 'smtpd_client_auth_rate_limit', 'smtpd_session_limit',
  'smtpd_forbid_unauth_pipelining', 'anvil_rate_time_unit', 'smtpd_client_event_limit_exceptions', 'mynetworks', 'mydestination',
  'relay_domains', 'virtual_mailbox_domains', 'virtual_alias_domains', 'virtual_mailbox_maps',
  'virtual_alias_maps', 'smtpd_client_restrictions', 'smtpd_helo_restrictions', 'smtpd_sender_restrictions',
  'smtpd_relay_restrictions', 'smtpd_recipient_restrictions', 'smtpd_data_restrictions',
  'smtpd_end_of_data_restrictions', 'smtpd_reject_unlisted_recipient', 'smtpd_reject_unlisted_sender', 'smtpd_helo_required',
  'smtpd_tls_security_level', 'smtpd_tls_cert_file', 'smtpd_tls_key_file', 'smtpd_tls_auth_only',
  'smtpd_sasl_auth_enable', 'smtpd_sasl_password_maps', 'smtpd_sasl_security_options',
  'smtpd_sasl_tls_security_options', 'smtputf8_enable', 'requiretls_enable', 'smtpd_forbid_bare_newline',
  'smtpd_forbid_bare_newline_exclusions', 'dns_resolver_servers', 'smtpd_authentication_results', 'authserv_id', 'dmarc_quarantine_action', 'reject_code', 'defer_code',
  'access_map_reject_code', 'access_map_defer_code', 'relay_domains_reject_code', 'unknown_address_reject_code',
  'non_fqdn_reject_code', 'invalid_hostname_reject_code', 'maps_rbl_reject_code', 'unknown_virtual_mailbox_reject_code',
  'unknown_virtual_alias_reject_code', 'unknown_local_recipient_reject_code', 'unknown_relay_recipient_reject_code',
  'disable_vrfy_command', 'fast_flush_domains', 'parent_domain_matches_subdomains',
  'smtpd_restriction_classes', 'soft_bounce', 'queue_minfree', 'queue_directory', 'alias_maps', 'local_recipient_maps',
  'relay_recipient_maps', 'canonical_maps', 'recipient_canonical_maps', 'recipient_delimiter',
  'show_user_unknown_table_name', 'smtpd_null_access_lookup_key', 'strict_rfc821_envelopes', 'smtpd_tls_wrappermode',
  'smtpd_tls_protocols', 'smtpd_tls_mandatory_protocols', 'smtpd_tls_received_header', 'smtpd_sasl_authenticated_header',
  'smtpd_policy_service_timeout', 'smtpd_policy_service_max_idle', 'smtpd_policy_service_max_ttl',
  'smtpd_policy_service_request_limit', 'smtpd_policy_service_reuse_count_limit', 'smtpd_policy_service_try_limit', 'smtpd_policy_service_retry_delay',
  'smtpd_policy_service_default_action', 'smtpd_policy_service_policy_context', 'compatibility_level', 'mail_version',
  'receive_override_options', 'content_filter',
] as const;

/** Reads smtpd's settings; throws ConfigError naming a malformed parameter. */
export function readSmtpdSettings(config: MainConfig): SmtpdSettings {
  const c = withParameterDefaults(config, SMTPD_PARAMETERS);
  const str = (name: string): string => c.get(name).trim();
  const secs = (name: string): number => c.time(name);

  const myhostname = str('myhostname');
  const mynetworks = c.list('mynetworks');
  const bare = str('smtpd_forbid_bare_newline').toLowerCase();
  const level = str('smtpd_tls_security_level').toLowerCase();
  const wrapper = c.bool('smtpd_tls_wrappermode');
  const classes = new Map<string, string[]>();
  for (const name of c.list('smtpd_restriction_classes')) classes.set(name.toLowerCase(), c.list(name));
  return {
    myhostname,
    banner: str('smtpd_banner'),
    greetWaitMs: secs('smtpd_greet_wait') * 1000,
    messageSizeLimit: c.int('message_size_limit'),
    spoolThreshold: c.int('message_spool_threshold'),
    recipientLimit: c.int('smtpd_recipient_limit'),
    recipientOvershootLimit: c.int('smtpd_recipient_overshoot_limit'),
    timeoutMs: secs('smtpd_timeout') * 1000,
    softErrorLimit: c.int('smtpd_soft_error_limit'),
    hardErrorLimit: c.int('smtpd_hard_error_limit'),
    errorSleepMs: secs('smtpd_error_sleep_time') * 1000,
    junkCommandLimit: c.int('smtpd_junk_command_limit'),
    connectionCountLimit: c.int('smtpd_client_connection_count_limit'),
    connectionRateLimit: c.int('smtpd_client_connection_rate_limit'),
    messageRateLimit: c.int('smtpd_client_message_rate_limit'),
    recipientRateLimit: c.int('smtpd_client_recipient_rate_limit'),
    authRateLimit: c.int('smtpd_client_auth_rate_limit'),
    rateTimeUnitMs: secs('anvil_rate_time_unit') * 1000,
    sessionLimit: str('smtpd_session_limit') === '' ? defaultSessionLimit(openFileLimit()) : c.int('smtpd_session_limit'),
    forbidUnauthPipelining: c.bool('smtpd_forbid_unauth_pipelining'),
    eventLimitExceptions: c.list('smtpd_client_event_limit_exceptions'),
    mynetworks,
    mydestination: c.list('mydestination'),
    relayDomains: c.list('relay_domains'),
    virtualMailboxDomains: c.list('virtual_mailbox_domains'),
    virtualAliasDomains: c.list('virtual_alias_domains'),
    virtualMailboxMaps: c.list('virtual_mailbox_maps'),
    virtualAliasMaps: c.list('virtual_alias_maps'),
    clientRestrictions: c.list('smtpd_client_restrictions'),
    heloRestrictions: c.list('smtpd_helo_restrictions'),
    senderRestrictions: c.list('smtpd_sender_restrictions'),
    relayRestrictions: c.list('smtpd_relay_restrictions'),
    recipientRestrictions: c.list('smtpd_recipient_restrictions'),
    dataRestrictions: c.list('smtpd_data_restrictions'),
    endOfDataRestrictions: c.list('smtpd_end_of_data_restrictions'),
    rejectUnlistedRecipient: c.bool('smtpd_reject_unlisted_recipient'),
    rejectUnlistedSender: c.bool('smtpd_reject_unlisted_sender'),
    restrictionClasses: classes,
    heloRequired: c.bool('smtpd_helo_required'),
    softBounce: c.bool('soft_bounce'),
    queueMinfree: c.int('queue_minfree'),
    queueDirectory: c.path('queue_directory'),
    localRecipientMaps: c.list('local_recipient_maps'),
    aliasMaps: c.list('alias_maps'),
    relayRecipientMaps: c.list('relay_recipient_maps'),
    canonicalMaps: c.list('canonical_maps'),
    recipientCanonicalMaps: c.list('recipient_canonical_maps'),
    recipientDelimiter: c.get('recipient_delimiter'),
    showUnknownTable: c.bool('show_user_unknown_table_name'),
    nullAccessKey: str('smtpd_null_access_lookup_key'),
    strictRfc821: c.bool('strict_rfc821_envelopes'),
    tlsWrapperMode: wrapper,
    tlsVersions: tlsProtocols(c, level === 'encrypt' || wrapper ? 'smtpd_tls_mandatory_protocols' : 'smtpd_tls_protocols'),
    tlsReceivedHeader: c.bool('smtpd_tls_received_header'),
    saslAuthenticatedHeader: c.bool('smtpd_sasl_authenticated_header'),
    tlsLevel: level === 'encrypt' || level === 'may' ? level : 'none',
    tlsCertFile: c.path('smtpd_tls_cert_file'),
    tlsKeyFile: c.path('smtpd_tls_key_file'),
    tlsAuthOnly: c.bool('smtpd_tls_auth_only'),
    saslEnable: c.bool('smtpd_sasl_auth_enable'),
    saslPasswordMaps: c.list('smtpd_sasl_password_maps'),
    saslPlaintext: plaintextPermitted(c, 'smtpd_sasl_security_options'),
    saslTlsPlaintext: plaintextPermitted(c, 'smtpd_sasl_tls_security_options'),
    smtputf8: c.bool('smtputf8_enable'),
    requiretls: c.bool('requiretls_enable'),
    disableVrfy: c.bool('disable_vrfy_command'),
    fastFlushDomains: c.list('fast_flush_domains'),
    fastFlushSubdomains: c.list('parent_domain_matches_subdomains').some((n) => n.toLowerCase() === 'fast_flush_domains'),
    bareNewline: bare === 'reject' || bare === 'yes' ? 'reject' : bare === 'no' ? 'no' : 'normalize',
    bareNewlineExclusions: c.list('smtpd_forbid_bare_newline_exclusions'),
    dnsServers: c.list('dns_resolver_servers'),
    policyDefaults: policyDefaults(c),
    usesPolicyService: [
      'smtpd_client_restrictions', 'smtpd_helo_restrictions', 'smtpd_sender_restrictions', 'smtpd_relay_restrictions',
      'smtpd_recipient_restrictions', 'smtpd_data_restrictions', 'smtpd_end_of_data_restrictions',
    ].some((n) => /check_policy_service/i.test(c.get(n))) || [...classes.values()].some((l) => l.some((e) => e.toLowerCase() === 'check_policy_service')),
    compatibilityLevel: str('compatibility_level'),
    mailVersion: str('mail_version'),
    receiveOverride: receiveOverrideOptions(c),
    contentFilter: contentFilterOf(c),
    authResults: c.bool('smtpd_authentication_results'),
    authservId: c.get('authserv_id').trim() || c.get('myhostname').trim(),
    dmarcQuarantineHold: c.get('dmarc_quarantine_action').trim().toLowerCase() !== 'accept',
    codes: {
      reject: c.int('reject_code'),
      defer: c.int('defer_code'),
      accessReject: c.int('access_map_reject_code'),
      accessDefer: c.int('access_map_defer_code'),
      relayReject: c.int('relay_domains_reject_code'),
      unknownAddress: c.int('unknown_address_reject_code'),
      nonFqdn: c.int('non_fqdn_reject_code'),
      invalidHostname: c.int('invalid_hostname_reject_code'),
      rbl: c.int('maps_rbl_reject_code'),
      unknownVirtualMailbox: c.int('unknown_virtual_mailbox_reject_code'),
      unknownVirtualAlias: c.int('unknown_virtual_alias_reject_code'),
      unknownLocalRecipient: c.int('unknown_local_recipient_reject_code'),
      unknownRelayRecipient: c.int('unknown_relay_recipient_reject_code'),
    },
  };
}

/** Postfix's SASL security options (Cyrus's names); unknown words are a configuration error, as in Postfix. */
const SASL_SECURITY_OPTIONS = new Set(['noplaintext', 'noactive', 'nodictionary', 'noanonymous', 'mutual_auth', 'forward_secrecy']);

/**
 * Whether a SASL security option list leaves PLAIN and LOGIN, the only
 * mechanisms Postrider has: they send the secret in the clear, fall to
 * active and dictionary attacks and authenticate one side only, so any
 * option but noanonymous rules them out (as Cyrus filters them).
 */
function plaintextPermitted(c: MainConfig, name: string): boolean {
  let permitted = true;
  for (const word of c.list(name)) {
    const w = word.toLowerCase();
    if (!SASL_SECURITY_OPTIONS.has(w)) throw new ConfigError(`${name} = ${c.get(name)}: unknown SASL security option "${word}"`);
    if (w !== 'noanonymous') permitted = false;
  }
  return permitted;
}

/** The TLS version range of a protocol list parameter; throws ConfigError naming it. */
function tlsProtocols(c: MainConfig, name: string): TlsVersionRange {
  return tlsVersionRange(c.list(name), name);
}

/** The smtpd_policy_service_* parameters; throws ConfigError naming a bad one. */
function policyDefaults(c: MainConfig): PolicyServiceOptions {
  try {
    return policyServiceDefaults((name) => c.get(name));
  } catch (err) {
    if (err instanceof PolicyServiceError) throw new ConfigError(err.message);
    throw err;
  }
}

/** receive_override_options; throws ConfigError naming an unknown option. */
function receiveOverrideOptions(c: MainConfig): ReceiveOverrideOptions {
  try {
    return parseReceiveOverrideOptions(c.get('receive_override_options'));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** content_filter, checked; throws ConfigError when it is not transport:destination. */
function contentFilterOf(c: MainConfig): string {
  const v = c.get('content_filter').trim();
  try {
    if (v) parseContentFilter(v);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return v;
}
