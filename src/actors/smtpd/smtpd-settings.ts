/**
 * smtpd-settings: the parameters smtpd uses, read once from MainConfig with
 * Postfix's defaults (and Postrider's own for its extra parameters:
 * smtpd_greet_wait 0s, smtpd_tls_auth_only yes, smtpd_sasl_password_maps,
 * dns_resolver_servers), so a configuration that lacks a parameter still
 * works. A malformed value throws MainConfig's ConfigError naming it.
 */
import { hostname } from 'node:os';
import { splitList, type MainConfig } from '../../config/main-config.js';

export type BareNewlineMode = 'normalize' | 'reject' | 'no';
export type TlsLevel = 'none' | 'may' | 'encrypt';

export interface SmtpdSettings {
  myhostname: string;
  mailName: string;
  banner: string;
  greetWaitMs: number;
  messageSizeLimit: number;
  recipientLimit: number;
  timeoutMs: number;
  softErrorLimit: number;
  hardErrorLimit: number;
  errorSleepMs: number;
  connectionCountLimit: number;
  connectionRateLimit: number;
  rateTimeUnitMs: number;
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
  heloRequired: boolean;
  tlsLevel: TlsLevel;
  tlsCertFile: string;
  tlsKeyFile: string;
  tlsAuthOnly: boolean;
  saslEnable: boolean;
  saslPasswordMaps: string[];
  smtputf8: boolean;
  bareNewline: BareNewlineMode;
  bareNewlineExclusions: string[];
  dnsServers: string[];
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
  };
}

export function readSmtpdSettings(config: MainConfig): SmtpdSettings {
  const has = (name: string): boolean => config.has(name) && config.get(name).trim() !== '';
  const str = (name: string, def: string): string => (config.has(name) ? config.get(name).trim() : def);
  const int = (name: string, def: number): number => (has(name) ? config.int(name) : def);
  const bool = (name: string, def: boolean): boolean => (has(name) ? config.bool(name) : def);
  const secs = (name: string, def: number): number => (has(name) ? config.time(name) : def);
  const list = (name: string, def: string): string[] => (config.has(name) ? config.list(name) : splitList(def));

  const myhostname = str('myhostname', '') || hostname();
  const mydomain = str('mydomain', '') || myhostname.split('.').slice(1).join('.') || 'localdomain';
  const mailName = str('mail_name', '') || 'Postrider';
  const mynetworks = list('mynetworks', '127.0.0.0/8 [::1]/128');
  const virtualMailboxMaps = list('virtual_mailbox_maps', '');
  const virtualAliasMaps = list('virtual_alias_maps', '');
  const bare = (str('smtpd_forbid_bare_newline', 'normalize') || 'normalize').toLowerCase();
  const level = (str('smtpd_tls_security_level', '') || 'none').toLowerCase();
  return {
    myhostname,
    mailName,
    banner: str('smtpd_banner', '') || `${myhostname} ESMTP ${mailName}`,
    greetWaitMs: secs('smtpd_greet_wait', 0) * 1000,
    messageSizeLimit: int('message_size_limit', 10240000),
    recipientLimit: int('smtpd_recipient_limit', 1000),
    timeoutMs: secs('smtpd_timeout', 300) * 1000,
    softErrorLimit: int('smtpd_soft_error_limit', 10),
    hardErrorLimit: int('smtpd_hard_error_limit', 20),
    errorSleepMs: secs('smtpd_error_sleep_time', 1) * 1000,
    connectionCountLimit: int('smtpd_client_connection_count_limit', 50),
    connectionRateLimit: int('smtpd_client_connection_rate_limit', 0),
    rateTimeUnitMs: secs('anvil_rate_time_unit', 60) * 1000,
    eventLimitExceptions: config.has('smtpd_client_event_limit_exceptions') ? config.list('smtpd_client_event_limit_exceptions') : mynetworks,
    mynetworks,
    mydestination: list('mydestination', `${myhostname}, localhost.${mydomain}, localhost`),
    relayDomains: list('relay_domains', ''),
    virtualMailboxDomains: config.has('virtual_mailbox_domains') ? config.list('virtual_mailbox_domains') : virtualMailboxMaps,
    virtualAliasDomains: config.has('virtual_alias_domains') ? config.list('virtual_alias_domains') : virtualAliasMaps,
    virtualMailboxMaps,
    virtualAliasMaps,
    clientRestrictions: list('smtpd_client_restrictions', ''),
    heloRestrictions: list('smtpd_helo_restrictions', ''),
    senderRestrictions: list('smtpd_sender_restrictions', ''),
    relayRestrictions: list('smtpd_relay_restrictions', 'permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination'),
    recipientRestrictions: list('smtpd_recipient_restrictions', ''),
    dataRestrictions: list('smtpd_data_restrictions', ''),
    heloRequired: bool('smtpd_helo_required', false),
    tlsLevel: level === 'encrypt' || level === 'may' ? level : 'none',
    tlsCertFile: config.path('smtpd_tls_cert_file'),
    tlsKeyFile: config.path('smtpd_tls_key_file'),
    tlsAuthOnly: bool('smtpd_tls_auth_only', true),
    saslEnable: bool('smtpd_sasl_auth_enable', false),
    saslPasswordMaps: list('smtpd_sasl_password_maps', ''),
    smtputf8: bool('smtputf8_enable', true),
    bareNewline: bare === 'reject' || bare === 'yes' ? 'reject' : bare === 'no' ? 'no' : 'normalize',
    bareNewlineExclusions: config.has('smtpd_forbid_bare_newline_exclusions') ? config.list('smtpd_forbid_bare_newline_exclusions') : mynetworks,
    dnsServers: list('dns_resolver_servers', ''),
    codes: {
      reject: int('reject_code', 554),
      defer: int('defer_code', 450),
      accessReject: int('access_map_reject_code', 554),
      accessDefer: int('access_map_defer_code', 450),
      relayReject: int('relay_domains_reject_code', 554),
      unknownAddress: int('unknown_address_reject_code', 450),
      nonFqdn: int('non_fqdn_reject_code', 504),
      invalidHostname: int('invalid_hostname_reject_code', 501),
      rbl: int('maps_rbl_reject_code', 554),
      unknownVirtualMailbox: int('unknown_virtual_mailbox_reject_code', 550),
    },
  };
}
