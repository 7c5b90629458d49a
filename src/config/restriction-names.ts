/**
 * restriction-names: the smtpd access restrictions Postrider implements, the
 * ones it refuses, and how a restriction list is read (which elements take
 * an argument, a bare "type:table" standing for the stage's check_*_access).
 * smtpd's policy evaluates exactly the IMPLEMENTED names, and `check` and
 * `start` refuse every other name, so a list never holds a restriction that
 * is silently skipped or that answers "Server configuration error" to every
 * client. Pure data and pure functions; nothing throws.
 */

/** Restrictions smtpd evaluates with Postfix's behaviour. */
export const IMPLEMENTED_RESTRICTIONS: ReadonlySet<string> = new Set([
  'permit',
  'dunno',
  'reject',
  'defer',
  'warn_if_reject',
  'permit_mynetworks',
  'permit_sasl_authenticated',
  'permit_auth_destination',
  'reject_unauth_destination',
  'defer_unauth_destination',
  'check_client_access',
  'check_helo_access',
  'check_sender_access',
  'check_recipient_access',
  'reject_non_fqdn_sender',
  'reject_non_fqdn_recipient',
  'reject_non_fqdn_helo_hostname',
  'reject_non_fqdn_hostname',
  'reject_invalid_helo_hostname',
  'reject_invalid_hostname',
  'reject_unknown_sender_domain',
  'reject_unknown_recipient_domain',
  'reject_rbl_client',
  'reject_unlisted_recipient',
  'reject_unlisted_sender',
  'check_policy_service',
  'reject_spf_fail',
  'defer_spf_temperror',
  'reject_dmarc_policy',
]);

/** Restrictions whose next list element is their argument (a table, a DNSBL, a socket). */
export const RESTRICTIONS_WITH_ARGUMENT: ReadonlySet<string> = new Set([
  'check_client_access',
  'check_helo_access',
  'check_sender_access',
  'check_recipient_access',
  'reject_rbl_client',
  'check_policy_service',
  // Refused, but their argument must not be read as a restriction name.
  'check_reverse_client_hostname_access',
  'check_client_a_access',
  'check_client_mx_access',
  'check_client_ns_access',
  'check_reverse_client_hostname_a_access',
  'check_reverse_client_hostname_mx_access',
  'check_reverse_client_hostname_ns_access',
  'check_helo_a_access',
  'check_helo_mx_access',
  'check_helo_ns_access',
  'check_sender_a_access',
  'check_sender_mx_access',
  'check_sender_ns_access',
  'check_recipient_a_access',
  'check_recipient_mx_access',
  'check_recipient_ns_access',
  'check_ccert_access',
  'check_sasl_access',
  'check_etrn_access',
  'reject_rhsbl_client',
  'reject_rhsbl_sender',
  'reject_rhsbl_recipient',
  'reject_rhsbl_helo',
  'reject_rhsbl_reverse_client',
  'permit_dnswl_client',
  'permit_rhswl_client',
  'sleep',
]);

/** What a refused restriction would have done: the end of the check's error line. */
export const REFUSED_RESTRICTIONS: Readonly<Record<string, string>> = {
  reject_unverified_recipient: 'recipients would not be verified',
  reject_unverified_sender: 'senders would not be verified',
  reject_unknown_client_hostname: 'clients without a name would not be refused',
  reject_unknown_client: 'clients without a name would not be refused',
  reject_unknown_reverse_client_hostname: 'clients without a name would not be refused',
  reject_unknown_helo_hostname: 'HELO names without DNS would not be refused',
  reject_unknown_hostname: 'HELO names without DNS would not be refused',
  reject_unauth_pipelining: 'pipelining without PIPELINING would not be refused',
  reject_plaintext_session: 'sessions without TLS would not be refused',
  reject_multi_recipient_bounce: 'bounces to several recipients would not be refused',
  reject_sender_login_mismatch: 'senders would not be matched to their login',
  reject_authenticated_sender_login_mismatch: 'senders would not be matched to their login',
  reject_known_sender_login_mismatch: 'senders would not be matched to their login',
  reject_unauthenticated_sender_login_mismatch: 'senders would not be matched to their login',
  permit_mx_backup: 'mail for backup MX domains would not be accepted',
  permit_tls_clientcerts: 'clients with certificates would not be permitted',
  permit_tls_all_clientcerts: 'clients with certificates would not be permitted',
  permit_inet_interfaces: 'clients on our own addresses would not be permitted',
  defer_if_permit: 'the deferral would not happen',
  defer_if_reject: 'the deferral would not happen',
  check_relay_domains: 'it was removed from Postfix',
  permit_naked_ip_address: 'it was removed from Postfix',
  reject_maps_rbl: 'it was removed from Postfix',
};

/** The check_*_access a bare "type:table" stands for in each stage's list (Postfix's default ACL). */
export const STAGE_DEFAULT_ACCESS: Readonly<Record<string, string | undefined>> = {
  smtpd_client_restrictions: 'check_client_access',
  smtpd_helo_restrictions: 'check_helo_access',
  smtpd_sender_restrictions: 'check_sender_access',
  smtpd_relay_restrictions: 'check_recipient_access',
  smtpd_recipient_restrictions: 'check_recipient_access',
};

/** Every main.cf parameter that holds a restriction list. */
export const RESTRICTION_LISTS = [
  'smtpd_client_restrictions',
  'smtpd_helo_restrictions',
  'smtpd_sender_restrictions',
  'smtpd_relay_restrictions',
  'smtpd_recipient_restrictions',
  'smtpd_data_restrictions',
  'smtpd_end_of_data_restrictions',
  'smtpd_etrn_restrictions',
] as const;

/** True for a list element that names a lookup table ("hash:/etc/postfix/access"). */
export function isRestrictionTable(element: string): boolean {
  return /^[a-z0-9_-]+:/i.test(element) && !element.startsWith('[');
}

/**
 * Postfix's required relay safety net: smtpd refuses to run unless
 * smtpd_relay_restrictions or smtpd_recipient_restrictions holds one of
 * these before any unconditional permit (smtpd_check.c, has_required).
 */
export const RELAY_REQUIRED = [
  'reject_unauth_destination',
  'defer_unauth_destination',
  'reject',
  'defer',
  'defer_if_permit',
  'check_relay_domains',
] as const;

/** Postfix's fatal text when neither list holds a RELAY_REQUIRED restriction. */
export const RELAY_REQUIRED_TEXT =
  'in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one working instance of: ' +
  'reject_unauth_destination, defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains';

/**
 * True when `list` (or a restriction class it names, looked up with
 * `classOf`) holds a RELAY_REQUIRED restriction before any "permit"; the
 * element after warn_if_reject does not count.
 */
export function hasRelayRequired(list: readonly string[], classOf: (name: string) => readonly string[] | undefined, seen = new Set<string>()): boolean {
  for (let i = 0; i < list.length; i++) {
    const name = list[i].toLowerCase();
    if (name === 'warn_if_reject') {
      i++;
      continue;
    }
    if (name === 'permit') return false;
    if ((RELAY_REQUIRED as readonly string[]).includes(name)) return true;
    if (RESTRICTIONS_WITH_ARGUMENT.has(name)) {
      i++;
      continue;
    }
    const cls = seen.has(name) ? undefined : classOf(list[i]);
    if (cls) {
      seen.add(name);
      if (hasRelayRequired(cls, classOf, seen)) return true;
    }
  }
  return false;
}
