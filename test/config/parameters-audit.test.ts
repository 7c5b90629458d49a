/**
 * parameters-audit: nothing in the parameter table is marked effective and
 * then ignored. Every parameter Postrider says it acts on is
 *   1. read by code in src/ outside the table and the checker (its quoted
 *      name, a typed property such as params.metrics_listen, or a
 *      $reference in the default of another effective parameter, as
 *      Postfix's own defaults use stress and virtual_maps), and
 *   2. mapped below to a test that sets it and sees the difference; the test
 *      must exist, under that name, in that file.
 * Refused and cosmetic parameters say why. Every restriction the checker
 * accepts is one smtpd's policy evaluates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PARAMETERS } from '../../src/config/parameters.js';
import { IMPLEMENTED_RESTRICTIONS } from '../../src/config/restriction-names.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Each effective parameter -> [test file under test/, name of a test there that proves its effect]. */
const EFFECT_TESTS: Record<string, [string, string]> = {
  smtpd_policy_service_policy_context: ['actors/smtpd/smtpd-policy-service.test.ts', "check_policy_service inet: the request carries Postfix's attributes; one instance per message; one kept connection"],
  smtpd_policy_service_default_action: ['actors/smtpd/smtpd-policy-service.test.ts', "policy server down: the default action (smtpd_policy_service_default_action, or the service's own) and a warning naming it"],
  smtpd_policy_service_retry_delay: ['actors/smtpd/smtpd-policy-service.test.ts', "policy server down: the default action (smtpd_policy_service_default_action, or the service's own) and a warning naming it"],
  smtpd_policy_service_try_limit: ['actors/smtpd/smtpd-policy-service.test.ts', "a policy server answering garbage, or not at all: the default action and a warning"],
  smtpd_policy_service_timeout: ['actors/smtpd/smtpd-policy-service.test.ts', "a policy server answering garbage, or not at all: the default action and a warning"],
  smtpd_policy_service_request_limit: ['actors/smtpd/smtpd-policy-service.test.ts', "policy connections: reused, and closed after smtpd_policy_service_request_limit requests, max_idle and max_ttl"],
  smtpd_policy_service_reuse_count_limit: ['actors/smtpd/smtpd-policy-service.test.ts', "policy connections: reused, and closed after smtpd_policy_service_request_limit requests, max_idle and max_ttl"],
  smtpd_policy_service_max_idle: ['actors/smtpd/smtpd-policy-service.test.ts', "policy connections: reused, and closed after smtpd_policy_service_request_limit requests, max_idle and max_ttl"],
  smtpd_policy_service_max_ttl: ['actors/smtpd/smtpd-policy-service.test.ts', "policy connections: reused, and closed after smtpd_policy_service_request_limit requests, max_idle and max_ttl"],
  content_filter: ['e2e/content-filter.test.ts', "content_filter: mail goes out to the filter, comes back in on the second service, and reaches the sink exactly once"],
  receive_override_options: ['cleanup/cleanup-actions.test.ts', "receive_override_options: no_header_body_checks skips header_checks and body_checks; no_address_mappings keeps the addresses as received"],
  alias_maps: ['actors/local/local-agent.test.ts', "aliases: root reaches the admin through two levels, logged with orig_to; an unknown user bounces 5.1.1"],
  mail_spool_directory: ['actors/local/local-agent.test.ts', "an mbox under mail_spool_directory, byte for byte: From line, Return-Path, X-Original-To, Delivered-To, >From quoting, blank line; owned by the user"],
  home_mailbox: ['actors/local/local-agent.test.ts', "home_mailbox = Maildir/ delivers into the user's Maildir as the user; mailbox_size_limit bounces 5.2.2"],
  mailbox_command: ['actors/local/local-agent.test.ts', "luser_relay takes unknown users; recipient_delimiter finds user+ext; mailbox_command runs as the user"],
  mailbox_size_limit: ['actors/local/local-agent.test.ts', "home_mailbox = Maildir/ delivers into the user's Maildir as the user; mailbox_size_limit bounces 5.2.2"],
  forward_path: ['actors/local/local-agent.test.ts', ".forward: its owner's file is followed (\\user keeps a copy, a file as the user); a group-writable one is skipped"],
  allow_mail_to_commands: ['actors/local/local-agent.test.ts', "alias commands run as default_privs (never root) with local(8)'s environment; exit 75 defers, other failures bounce with the output"],
  allow_mail_to_files: ['actors/local/local-params.test.ts', "allow_mail_to_files: a file in an alias is refused without \"alias\"; as the alias file's owner when that is not root"],
  default_privs: ['actors/local/local-agent.test.ts', "alias commands run as default_privs (never root) with local(8)'s environment; exit 75 defers, other failures bounce with the output"],
  command_time_limit: ['actors/local/local-agent.test.ts', "command_time_limit kills a command that runs too long and bounces it"],
  luser_relay: ['actors/local/local-agent.test.ts', "luser_relay takes unknown users; recipient_delimiter finds user+ext; mailbox_command runs as the user"],
  owner_request_special: ['actors/local/local-params.test.ts', "expand_owner_alias uses the owner alias's value as the sender; owner_request_special = no leaves the sender"],
  expand_owner_alias: ['actors/local/local-params.test.ts', "expand_owner_alias uses the owner alias's value as the sender; owner_request_special = no leaves the sender"],
  deliver_lock_attempts: ['actors/local/local-params.test.ts', "deliver_lock_attempts and deliver_lock_delay: a held dotlock defers; one older than stale_lock_time is removed and the delivery goes on"],
  deliver_lock_delay: ['actors/local/local-params.test.ts', "deliver_lock_attempts and deliver_lock_delay: a held dotlock defers; one older than stale_lock_time is removed and the delivery goes on"],
  stale_lock_time: ['actors/local/local-params.test.ts', "deliver_lock_attempts and deliver_lock_delay: a held dotlock defers; one older than stale_lock_time is removed and the delivery goes on"],
  prepend_delivered_header: ['actors/local/local-params.test.ts', "prepend_delivered_header and export_environment shape what a command gets"],
  require_home_directory: ['actors/local/local-params.test.ts', "require_home_directory = yes defers a user whose home is missing; no delivers"],
  strict_mailbox_ownership: ['actors/local/local-params.test.ts', "strict_mailbox_ownership: an mbox the user does not own defers; no delivers into it"],
  export_environment: ['actors/local/local-params.test.ts', "prepend_delivered_header and export_environment shape what a command gets"],
  local_destination_concurrency_limit: ['actors/local/local-params.test.ts', "local_destination_concurrency_limit and local_destination_recipient_limit default to Postfix's 2 and 1"],
  local_destination_recipient_limit: ['actors/local/local-params.test.ts', "local_destination_concurrency_limit and local_destination_recipient_limit default to Postfix's 2 and 1"],
  mailbox_delivery_lock: ['config/check-config.test.ts', "mailbox_delivery_lock must name dotlock: fcntl alone is refused by check"],
  alias_database: ['cli/newaliases.test.ts', "newaliases checks alias_database and prints what it read; a broken line is one error naming file and line"],
  queue_shard_count: ['e2e/queue-shards.test.ts', "queue_shard_count = 3 runs a journal and a qmgr per shard, and no more than the destination concurrency limit of deliveries across them"],
  supervisor_drain_timeout: ['e2e/reload.test.ts', "at the drain deadline, a message already being queued gets its 250 and only then 421; none is both refused and delivered"],
  supervisor_busy_timeout: ['supervisor/supervisor-watchdog.test.ts', "a thread busy past supervisor_busy_timeout is killed and restarted"],
  max_idle: ['e2e/on-demand-agents.test.ts', 'an agent that waits on demand starts with the first message for its transport and ends after max_idle'],
  service_throttle_time: ['supervisor/restart-policy.test.ts', "once the daemon serves, restarts past the limit are throttled with a doubling delay up to service_throttle_time, per actor"],
  body_checks_time_limit: ['cleanup/cleanup-checks.test.ts', "a body check past body_checks_time_limit defers the message, and the next one is checked"],
  mime_nesting_limit: ['cleanup/cleanup-checks.test.ts', "MIME nesting past mime_nesting_limit is rejected as Postfix does when header checks are in use, and only then"],
  smtpd_client_message_rate_limit: ['actors/smtpd/smtpd-anvil.test.ts', "smtpd_client_message_rate_limit: 450 4.7.1 Error: too much mail from ADDR, across connections"],
  smtpd_client_recipient_rate_limit: ['actors/smtpd/smtpd-anvil.test.ts', "smtpd_client_recipient_rate_limit: 450 4.7.1 Error: too many recipients from ADDR; the accepted ones still get the message"],
  smtpd_client_auth_rate_limit: ['actors/smtpd/smtpd-anvil.test.ts', "smtpd_client_auth_rate_limit: reconnecting does not reset the count; 450 4.7.1 Error: too many AUTH commands from ADDR"],
  smtpd_sasl_security_options: ['global/sasl-passwd.test.ts', "smtpd_sasl_security_options = noplaintext: no AUTH without TLS; smtpd_sasl_tls_security_options brings it back over TLS"],
  smtpd_sasl_tls_security_options: ['global/sasl-passwd.test.ts', "smtpd_sasl_security_options = noplaintext: no AUTH without TLS; smtpd_sasl_tls_security_options brings it back over TLS"],
  smtpd_junk_command_limit: ['actors/smtpd/smtpd-connection.test.ts', "smtpd_junk_command_limit: junk commands past the limit count as errors up to the hard limit"],
  smtpd_forbid_unauth_pipelining: ['actors/smtpd/smtpd-connection.test.ts', "smtpd_forbid_unauth_pipelining: input before the greeting gets 554 5.5.0 instead of the greeting"],
  smtpd_end_of_data_restrictions: ['actors/smtpd/smtpd-policy.test.ts', "smtpd_end_of_data_restrictions refuse after the content, and nothing is queued"],
  smtpd_reject_unlisted_recipient: ['actors/smtpd/smtpd-policy.test.ts', "smtpd_reject_unlisted_recipient (default yes) refuses unknown virtual recipients without a restriction; no turns it off"],
  smtpd_reject_unlisted_sender: ['actors/smtpd/smtpd-policy.test.ts', "smtpd_reject_unlisted_sender = yes (and reject_unlisted_sender): 550 5.1.0 for an unknown sender in a virtual domain"],
  smtpd_recipient_overshoot_limit: ['actors/smtpd/smtpd-limits.test.ts', "smtpd_recipient_overshoot_limit: only the 452s past it count toward the hard error limit"],
  smtpd_session_limit: ['actors/smtpd/smtpd-connection.test.ts', "smtpd_session_limit: a session beyond it gets 421 4.3.2 All server ports are busy; a freed slot serves again"],
  myhostname: ['actors/smtp/smtp-session.test.ts', "smtp_helo_name is the name sent in EHLO; $myhostname by default"],
  mydomain: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "append_dot_mydomain: yes turns user@host into user@host.$mydomain; no (the default) leaves it"],
  myorigin: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "a bare user gets @myorigin unless append_at_myorigin = no; the null sender stays empty"],
  mydestination: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "resolve: local class for mydestination, bare users and [ip] of this host, to local_transport (local:$myhostname)"],
  relay_domains: ['actors/smtpd/smtpd-policy.test.ts', "reject_unauth_destination: 554 5.7.1, relay_domains (and their subdomains) allowed"],
  mynetworks: ['actors/smtpd/smtpd-policy.test.ts', "not an open relay: relaying refused to strangers, allowed to mynetworks and for our domains"],
  mynetworks_style: ['config/parameters.test.ts', "mynetworks_style: host trusts loopback; subnet the networks of every interface; class their class A/B/C networks"],
  relayhost: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "resolve: relayhost in each form becomes the nexthop of the relay and default classes"],
  inet_interfaces: ['actors/smtpd/smtpd-parts.test.ts', "DNSBL query names and listen addresses"],
  proxy_interfaces: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "proxy_interfaces: user@[address] of a proxy in front of this host is local too"],
  inet_protocols: ['actors/smtp/smtp-mx.test.ts', "inet_protocols: ipv4 uses A records only, ipv6 AAAA records only, all both"],
  mail_name: ['config/parameters.test.ts', "$mail_name, $mail_version and $process_name expand: name and version in a banner, the program per master.cf service"],
  mail_version: ['config/parameters.test.ts', "$mail_name, $mail_version and $process_name expand: name and version in a banner, the program per master.cf service"],
  append_dot_mydomain: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "append_dot_mydomain: yes turns user@host into user@host.$mydomain; no (the default) leaves it"],
  recipient_delimiter: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "an unmatched recipient_delimiter extension is carried into the canonical result"],
  append_at_myorigin: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "a bare user gets @myorigin unless append_at_myorigin = no; the null sender stays empty"],
  propagate_unmatched_extensions: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "an unmatched recipient_delimiter extension is carried into the canonical result"],
  parent_domain_matches_subdomains: ['actors/trivial-rewrite/trivial-rewrite-domain-list.test.ts', "parent_domain_matches_subdomains: a plain name also matches its subdomains, in tables too"],
  soft_bounce: ['e2e/soft-bounce.test.ts', "soft_bounce: a hard bounce becomes a deferral; the message stays queued, no bounce is sent, and it goes out once accepted"],
  queue_directory: ['cli/sendmail.test.ts', "drops one complete file with the envelope and CRLF content, no temporary left"],
  maillog_file: ['e2e/relay.test.ts', "logrotate reopens maillog_file"],
  syslog_facility: ['e2e/syslog.test.ts', 'maillog_file empty: postrider start logs to syslog_socket with syslog_facility'],
  syslog_socket: ['e2e/syslog.test.ts', 'maillog_file empty: postrider start logs to syslog_socket with syslog_facility'],
  syslog_name: ['e2e/soft-bounce.test.ts', "soft_bounce: a hard bounce becomes a deferral; the message stays queued, no bounce is sent, and it goes out once accepted"],
  minimal_backoff_time: ['actors/qmgr/qmgr-policy.test.ts', "parameters default to Postfix values and accept units"],
  maximal_backoff_time: ['actors/qmgr/qmgr-policy.test.ts', "backoff is the message age clamped to minimal and maximal backoff time"],
  queue_run_delay: ['actors/qmgr/qmgr-policy.test.ts', "parameters default to Postfix values and accept units"],
  maximal_queue_lifetime: ['actors/qmgr/qmgr-scheduler-retry.test.ts', "expiry: deferred recipients past maximal_queue_lifetime are expired and returned to sender"],
  bounce_queue_lifetime: ['actors/qmgr/qmgr-policy.test.ts', "lifetime: bounce_queue_lifetime for the null sender"],
  delay_warning_time: ['actors/qmgr/qmgr-scheduler-retry.test.ts', "a delay warning is sent once after delay_warning_time, and recorded"],
  qmgr_message_active_limit: ['actors/qmgr/qmgr-scheduler-dispatch.test.ts', "qmgr_message_active_limit caps the active queue; the rest wait their turn"],
  queue_minfree: ['actors/smtpd/smtpd-queue-space.test.ts', "queue_minfree: MAIL FROM gets 452 4.3.1 Insufficient system storage when the queue file system has less free space"],
  hopcount_limit: ['cleanup/cleanup.test.ts', 'hopcount_limit: a message with that many Received headers, its own included, is refused as a mail loop (554 5.4.0)'],
  notify_classes: ['actors/bounce/bounce-notification.test.ts', "notify_classes=bounce adds bounce_notice_recipient to a failure notice"],
  bounce_notice_recipient: ['actors/bounce/bounce-notification.test.ts', "notify_classes=bounce adds bounce_notice_recipient to a failure notice"],
  '2bounce_notice_recipient': ['actors/bounce/bounce-notification.test.ts', "2bounce_notice_recipient gets the double bounce"],
  delay_notice_recipient: ['actors/bounce/bounce-notification.test.ts', "notify_classes=delay adds delay_notice_recipient to a delay notice; without the class it is not copied"],
  bounce_size_limit: ['actors/bounce/bounce-notification.test.ts', "bounce_size_limit: an original larger than the limit is returned as headers only"],
  message_size_limit: ['actors/smtpd/smtpd-extensions.test.ts', "SIZE: a too big SIZE= at MAIL and a too big message are refused with 552 5.3.4"],
  line_length_limit: ['cleanup/cleanup-checks.test.ts', "line_length_limit: body_checks see long lines in pieces of that length"],
  message_spool_threshold: ['e2e/large-message.test.ts', 'a large message by DATA is spooled to a file as it arrives, queued with its body there, and relayed byte for byte'],
  header_size_limit: ['cleanup/cleanup-content.test.ts', "splitMessage: a folded header crossing header_size_limit goes to the body whole"],
  debug_fault_injection: ['cli/cli-daemon.test.ts', "fault over the control socket is refused without debug_fault_injection"],
  http_api_listen: ['admin/http-api.test.ts', 'every API request needs a token of http_api_token_file; a wrong or missing one gets 401 and JSON'],
  http_api_token_file: ['admin/http-api.test.ts', 'every API request needs a token of http_api_token_file; a wrong or missing one gets 401 and JSON'],
  http_api_public_health: ['admin/http-api.test.ts', 'reload follows the settings: HTTPS with the test certificate, and /healthz public with http_api_public_health'],
  http_api_tls_cert_file: ['admin/http-api.test.ts', 'reload follows the settings: HTTPS with the test certificate, and /healthz public with http_api_public_health'],
  http_api_tls_key_file: ['admin/http-api.test.ts', 'reload follows the settings: HTTPS with the test certificate, and /healthz public with http_api_public_health'],
  metrics_listen: ['admin/metrics.test.ts', "metrics_listen: host:port, [v6]:port and a bare port are read; bad values are one-line errors"],
  supervisor_restart_limit: ['supervisor/restart-policy.test.ts', "before the daemon serves, more restarts than the limit are fatal"],
  supervisor_restart_window: ['supervisor/restart-policy.test.ts', "RestartIntensity counts restarts inside the window only"],
  dkim_key_table: ['cleanup/cleanup-sign.test.ts', "an RSA 2048 signature over the message as queued verifies with python3-dkim and with mailauth; one signature per message"],
  dkim_signing_table: ['cleanup/cleanup-sign.test.ts', "the SigningTable is looked up by the From: address, then its domain; an unlisted author is not signed"],
  dkim_sign_local_only: ['cleanup/cleanup-sign.test.ts', "dkim_sign_local_only = yes signs mail from mynetworks, SASL clients and sendmail only"],
  dkim_canonicalization: ['cleanup/cleanup-sign.test.ts', "dkim_canonicalization and dkim_signed_headers shape the signature, which still verifies"],
  dkim_signed_headers: ['cleanup/cleanup-sign.test.ts', "dkim_canonicalization and dkim_signed_headers shape the signature, which still verifies"],
  arc_key_table: ['actors/smtpd/smtpd-auth.test.ts', "mail for a domain in arc_signing_table is ARC-sealed after verifying: i=1 on mail without a chain, i=2 with cv=pass on a valid chain, i=2 with cv=fail on a broken one, and none after a cv=fail seal; mailauth validates each"],
  arc_signing_table: ['actors/smtpd/smtpd-auth.test.ts', "mail for a domain in arc_signing_table is ARC-sealed after verifying: i=1 on mail without a chain, i=2 with cv=pass on a valid chain, i=2 with cv=fail on a broken one, and none after a cv=fail seal; mailauth validates each"],
  smtpd_authentication_results: ['actors/smtpd/smtpd-auth.test.ts', "SPF pass, softfail and permerror are accepted and recorded; reject_spf_fail and defer_spf_temperror refuse fail and temperror with Postfix-style reject lines"],
  authserv_id: ['actors/smtpd/smtpd-auth.test.ts', "a message signed outside by python3-dkim gets dkim=pass and DMARC pass; tampered, dkim=fail; forged Authentication-Results claiming our id are removed"],
  dmarc_quarantine_action: ['actors/smtpd/smtpd-auth.test.ts', "reject_dmarc_policy: p=reject is refused 550 5.7.1 at the end of DATA; p=quarantine goes on hold, or is accepted with dmarc_quarantine_action = accept; a DNS failure of an aligned identifier defers 451 4.7.1"],
  dns_resolver_servers: ['actors/smtp/smtp-agent.test.ts', "smtp_mx_address_limit: only that many MX addresses are tried"],
  smtputf8_enable: ['actors/smtpd/smtpd-extensions.test.ts', "smtputf8_enable = no: SMTPUTF8 not offered and refused at MAIL"],
  requiretls_enable: ['actors/smtpd/smtpd-requiretls.test.ts', "requiretls_enable = no: REQUIRETLS not offered over TLS and refused at MAIL"],
  smtp_requiretls_policy: ['actors/smtp/smtp-requiretls.test.ts', "smtp_requiretls_policy = opportunistic+starttls and opportunistic; requiretls_enable = no"],
  requiretls_redact_dsn: ['actors/bounce/bounce-requiretls.test.ts', "requiretls_redact_dsn = no: the whole message, and the notice keeps REQUIRETLS"],
  tls_required_enable: ['actors/smtp/smtp-requiretls.test.ts', "\"TLS-Required: No\": delivered without TLS or with an untrusted certificate where the TLS level would defer"],
  service_name: ['config/load-config.test.ts', "-o overrides are expanded in the service context, with $service_name and derived values"],
  process_name: ['config/parameters.test.ts', "$mail_name, $mail_version and $process_name expand: name and version in a banner, the program per master.cf service"],
  stress: ['actors/smtpd/smtpd-settings.test.ts', "defaults follow the parameters they name: virtual domains, the TLS key, stress"],
  header_checks: ['cleanup/cleanup-checks.test.ts', "header_checks REJECT: default text, given text, given status code; logged as Postfix"],
  mime_header_checks: ['cleanup/cleanup-actions.test.ts', "mime_header_checks REPLACE and PREPEND edit the part headers and keep every other byte"],
  nested_header_checks: ['cleanup/cleanup-checks.test.ts', "nested_header_checks see the headers of an attached message; its MIME headers go to mime_header_checks"],
  body_checks: ['cleanup/cleanup-actions.test.ts', "body_checks PREPEND inserts a line before the matched body line, through the pool"],
  body_checks_size_limit: ['cleanup/cleanup-checks.test.ts', "body_checks see each MIME part up to body_checks_size_limit; mime_header_checks see part headers"],
  local_header_rewrite_clients: ['cleanup/cleanup.test.ts', "network mail from a client outside local_header_rewrite_clients gets no headers added, and logs message-id"],
  canonical_classes: ['cleanup/cleanup-header-rewrite.test.ts', "canonical_classes, sender_canonical_classes and recipient_canonical_classes limit the maps to the classes named"],
  sender_canonical_classes: ['cleanup/cleanup-header-rewrite.test.ts', "canonical_classes, sender_canonical_classes and recipient_canonical_classes limit the maps to the classes named"],
  recipient_canonical_classes: ['cleanup/cleanup-header-rewrite.test.ts', "canonical_classes, sender_canonical_classes and recipient_canonical_classes limit the maps to the classes named"],
  masquerade_domains: ['cleanup/cleanup-header-rewrite.test.ts', "local clients: canonical_maps and masquerade_domains rewrite header addresses; bare names get @$myorigin, host names .$mydomain"],
  masquerade_exceptions: ['cleanup/cleanup-header-rewrite.test.ts', "local clients: canonical_maps and masquerade_domains rewrite header addresses; bare names get @$myorigin, host names .$mydomain"],
  masquerade_classes: ['cleanup/cleanup-header-rewrite.test.ts', "masquerade_classes with envelope_recipient masquerades the envelope recipient too; \"!domain\" excludes"],
  remote_header_rewrite_domain: ['cleanup/cleanup-header-rewrite.test.ts', "remote clients: headers untouched without remote_header_rewrite_domain; with it bare names get that domain"],
  smtp_discard_ehlo_keywords: ['actors/smtp/smtp-bdat.test.ts', "a sink without CHUNKING gets DATA; smtp_discard_ehlo_keywords = chunking sends DATA to one that offers it, and is logged"],
  disable_mime_output_conversion: ['actors/smtp/smtp-mime-downgrade.test.ts', "disable_mime_output_conversion = yes sends 8-bit as is; a server with 8BITMIME gets it as is with BODY=8BITMIME"],
  smtp_line_length_limit: ['actors/smtp/smtp-line-limit.test.ts', "a 3,000-octet header and body line reach the next hop in pieces of at most smtp_line_length_limit"],
  disable_dns_lookups: ['actors/smtp/smtp-host-lookup.test.ts', "disable_dns_lookups and smtp_dns_support_level = disabled: no MX lookup, the domain\'s address from the system resolver"],
  smtp_dns_support_level: ['actors/smtp/smtp-host-lookup.test.ts', "disable_dns_lookups and smtp_dns_support_level = disabled: no MX lookup, the domain\'s address from the system resolver"],
  smtp_host_lookup: ['actors/smtp/smtp-host-lookup.test.ts', "smtp_host_lookup: dns asks the DNS; native asks the system resolver only; \"native, dns\" falls back in order"],
  virtual_uid_maps: ['actors/virtual/virtual-agent.test.ts', "virtual_uid_maps and virtual_gid_maps: files and the directories made for them belong to the mapped owner; bad or missing entries defer 4.3.0"],
  virtual_gid_maps: ['actors/virtual/virtual-agent.test.ts', "virtual_uid_maps and virtual_gid_maps: files and the directories made for them belong to the mapped owner; bad or missing entries defer 4.3.0"],
  virtual_minimum_uid: ['actors/virtual/virtual-agent.test.ts', "virtual_uid_maps and virtual_gid_maps: files and the directories made for them belong to the mapped owner; bad or missing entries defer 4.3.0"],
  enable_original_recipient: ['actors/virtual/virtual-agent.test.ts', 'enable_original_recipient = no: no X-Original-To; with it, X-Original-To names the recipient as received, not the ORCPT'],
  always_add_missing_headers: ['cleanup/cleanup.test.ts', "network mail from this host (permit_inet_interfaces) or with always_add_missing_headers gets Message-ID and Date"],
  canonical_maps: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "canonical_maps applies to both roles, compares domains case-insensitively, and requalifies a bare result"],
  sender_canonical_maps: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "sender_canonical_maps rewrites full addresses and @domain keeps the local part"],
  recipient_canonical_maps: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "recipient_canonical_maps rewrite recipients only; virtual_maps is the legacy name of virtual_alias_maps"],
  virtual_maps: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "recipient_canonical_maps rewrite recipients only; virtual_maps is the legacy name of virtual_alias_maps"],
  virtual_alias_maps: ['cleanup/cleanup.test.ts', 'envelope: canonical and virtual alias expansion keep ORCPT and NOTIFY and record the original recipient; duplicates go as in Postfix'],
  virtual_alias_domains: ['actors/smtpd/smtpd-policy.test.ts', "relay_recipient_maps refuse unknown relay recipients (unknown_relay_recipient_reject_code); virtual alias domains use unknown_virtual_alias_reject_code"],
  virtual_alias_recursion_limit: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "an alias loop is an expansion error after virtual_alias_recursion_limit"],
  virtual_alias_expansion_limit: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "an expansion over virtual_alias_expansion_limit is an error, at the limit it is not"],
  virtual_mailbox_domains: ['actors/smtpd/smtpd-policy.test.ts', "reject_unlisted_recipient for a virtual mailbox domain: 550 5.1.1 User unknown"],
  virtual_mailbox_maps: ['actors/smtpd/smtpd-policy.test.ts', "reject_unlisted_recipient for a virtual mailbox domain: 550 5.1.1 User unknown"],
  virtual_mailbox_base: ['actors/virtual/virtual-agent.test.ts', "virtual_mailbox_limit: a Maildir message, or an mbox file grown, past the limit bounces 5.2.2; soft_bounce defers it"],
  virtual_mailbox_limit: ['actors/virtual/virtual-agent.test.ts', "virtual_mailbox_limit: a Maildir message, or an mbox file grown, past the limit bounces 5.2.2; soft_bounce defers it"],
  transport_maps: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "resolve: transport_maps by address, domain, parent domain and \"*\""],
  default_transport: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "resolve: relayhost in each form becomes the nexthop of the relay and default classes"],
  relay_transport: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "relay_transport and virtual_transport name the transport (and nexthop) of their classes"],
  local_transport: ['e2e/local-delivery.test.ts', "sendmail root with the daemon running ends in the admin's mailbox through the aliases"],
  virtual_transport: ['actors/trivial-rewrite/trivial-rewrite.test.ts', "relay_transport and virtual_transport name the transport (and nexthop) of their classes"],
  show_user_unknown_table_name: ['actors/smtpd/smtpd-policy.test.ts', "local_recipient_maps (Postfix's default: the passwd database and alias_maps) refuses unknown local users at RCPT; users, aliases and rewritten addresses pass"],
  default_destination_concurrency_limit: ['actors/qmgr/qmgr-policy.test.ts', "the stock transports' named limits apply: relay_destination_concurrency_limit, smtp_destination_recipient_limit"],
  default_destination_concurrency_failed_cohort_limit: ['actors/qmgr/qmgr-scheduler-dispatch.test.ts', "cuts the window after site failures, then grows it again"],
  initial_destination_concurrency: ['actors/qmgr/qmgr-scheduler-dispatch.test.ts', "per-destination concurrency: slow start from initial to the limit, never above"],
  default_destination_recipient_limit: ['actors/qmgr/qmgr-scheduler-dispatch.test.ts', "groups recipients by (transport, nexthop) and splits at the recipient limit"],
  default_process_limit: ['actors/qmgr/qmgr-policy.test.ts', "per-transport limits override the defaults; a malformed one falls back"],
  smtpd_banner: ['config/load-config.test.ts', "-o overrides are expanded in the service context, with $service_name and derived values"],
  smtpd_client_restrictions: ['actors/smtpd/smtpd-policy.test.ts', "check_client_access: REJECT text refuses, OK permits the list"],
  smtpd_helo_restrictions: ['actors/smtpd/smtpd-policy.test.ts', "check_helo_access, reject_non_fqdn_helo_hostname, reject_invalid_helo_hostname"],
  smtpd_sender_restrictions: ['actors/smtpd/smtpd-policy.test.ts', "check_sender_access (evaluated at RCPT): numeric reply, DEFER, OK; reject_non_fqdn_sender"],
  smtpd_relay_restrictions: ['actors/smtpd/smtpd-policy.test.ts', "reject_unauth_destination: 554 5.7.1, relay_domains (and their subdomains) allowed"],
  smtpd_recipient_restrictions: ['actors/smtpd/smtpd-policy.test.ts', "check_recipient_access with a restriction name as result; reject_non_fqdn_recipient"],
  smtpd_data_restrictions: ['actors/smtpd/smtpd-policy.test.ts', "smtpd_data_restrictions refuse DATA before the 354"],
  smtpd_restriction_classes: ['actors/smtpd/smtpd-policy.test.ts', "restriction classes (also named by an access table), a bare table for check_*_access, permit_auth_destination"],
  smtpd_helo_required: ['actors/smtpd/smtpd-session.test.ts', "smtpd_helo_required: no (default) lets MAIL come first; yes asks for HELO/EHLO"],
  smtpd_null_access_lookup_key: ['actors/smtpd/smtpd-policy.test.ts', "smtpd_null_access_lookup_key: the null sender is looked up by that key"],
  local_recipient_maps: ['actors/smtpd/smtpd-policy.test.ts', "local_recipient_maps (Postfix's default: the passwd database and alias_maps) refuses unknown local users at RCPT; users, aliases and rewritten addresses pass"],
  relay_recipient_maps: ['actors/smtpd/smtpd-policy.test.ts', "relay_recipient_maps refuse unknown relay recipients (unknown_relay_recipient_reject_code); virtual alias domains use unknown_virtual_alias_reject_code"],
  compatibility_level: ['config/compatibility-level.test.ts', 'compatibility_level below 1 and 2 switches the defaults of unset parameters as Postfix 3.7, each named in a warning'],
  disable_vrfy_command: ['actors/smtpd/smtpd-envelope-syntax.test.ts', 'disable_vrfy_command = yes: VRFY gets 502 5.5.1 and EHLO does not list it; by default EHLO lists VRFY and ETRN after SIZE'],
  fast_flush_domains: ['e2e/smtpd-postfix-replies.test.ts', "ETRN: 459 for a site outside fast_flush_domains; within it, the site's deferred mail goes out at once"],
  strict_rfc821_envelopes: ['actors/smtpd/smtpd-envelope-syntax.test.ts', "strict_rfc821_envelopes: MAIL FROM and RCPT TO need <address>; off (the default) a bare address is taken, as Postfix does"],
  smtpd_recipient_limit: ['actors/smtpd/smtpd-limits.test.ts', "smtpd_recipient_limit: 452 4.5.3 Error: too many recipients"],
  smtpd_timeout: ['actors/smtpd/smtpd-limits.test.ts', "smtpd_timeout: an idle client gets 421 4.4.2 Error: timeout exceeded and is disconnected"],
  smtpd_soft_error_limit: ['actors/smtpd/smtpd-limits.test.ts', "smtpd_hard_error_limit: 421 4.7.0 Error: too many errors; the tarpit delays replies past the soft limit"],
  smtpd_hard_error_limit: ['actors/smtpd/smtpd-limits.test.ts', "smtpd_hard_error_limit: 421 4.7.0 Error: too many errors; the tarpit delays replies past the soft limit"],
  smtpd_error_sleep_time: ['actors/smtpd/smtpd-limits.test.ts', "smtpd_hard_error_limit: 421 4.7.0 Error: too many errors; the tarpit delays replies past the soft limit"],
  smtpd_client_connection_count_limit: ['actors/smtpd/smtpd-limits.test.ts', "smtpd_client_connection_count_limit: the next connection gets 421 4.7.0; mynetworks are exempt"],
  smtpd_client_connection_rate_limit: ['actors/smtpd/smtpd-limits.test.ts', "smtpd_client_connection_rate_limit: over the rate in the time unit gets 421 4.7.0"],
  smtpd_client_event_limit_exceptions: ['actors/smtpd/smtpd-limits.test.ts', "smtpd_client_event_limit_exceptions: listed clients are not counted, whatever mynetworks says"],
  anvil_rate_time_unit: ['actors/smtpd/smtpd-limits.test.ts', "smtpd_client_connection_rate_limit: over the rate in the time unit gets 421 4.7.0"],
  smtpd_sasl_auth_enable: ['actors/smtpd/smtpd-extensions.test.ts', "AUTH PLAIN and LOGIN over TLS with good and bad secrets; AUTH not offered nor accepted before TLS"],
  smtpd_sasl_password_maps: ['actors/smtpd/smtpd-extensions.test.ts', "AUTH PLAIN and LOGIN over TLS with good and bad secrets; AUTH not offered nor accepted before TLS"],
  smtpd_sasl_authenticated_header: ['actors/smtpd/smtpd-extensions.test.ts', "the Received header tells TLS (smtpd_tls_received_header) and the AUTH user (smtpd_sasl_authenticated_header) only when asked"],
  smtpd_greet_wait: ['actors/smtpd/smtpd-session.test.ts', "smtpd_greet_wait: the greeting waits; a client that talks before it is refused as improper pipelining"],
  smtpd_forbid_bare_newline: ['actors/smtpd/smtpd-bare-newline.test.ts', "normalize (default): no variant ends DATA early; one message, bare LF turned into CRLF"],
  smtpd_forbid_bare_newline_exclusions: ['actors/smtpd/smtpd-bare-newline.test.ts', "reject: clients in smtpd_forbid_bare_newline_exclusions ($mynetworks by default) are normalised instead"],
  smtpd_tls_cert_file: ['actors/smtpd/smtpd-extensions.test.ts', "STARTTLS with a certificate, then mail over TLS (protocol ESMTPS); encrypt level refuses plain MAIL"],
  smtpd_tls_key_file: ['actors/smtpd/smtpd-extensions.test.ts', "STARTTLS with a certificate, then mail over TLS (protocol ESMTPS); encrypt level refuses plain MAIL"],
  smtpd_tls_security_level: ['actors/smtpd/smtpd-extensions.test.ts', "STARTTLS with a certificate, then mail over TLS (protocol ESMTPS); encrypt level refuses plain MAIL"],
  smtpd_tls_auth_only: ['actors/smtpd/smtpd-extensions.test.ts', "smtpd_tls_auth_only = no offers AUTH before STARTTLS; yes (Postrider's default) only after"],
  smtpd_tls_wrappermode: ['actors/smtpd/smtpd-extensions.test.ts', "smtpd_tls_wrappermode: TLS from the first byte, no STARTTLS offered"],
  smtpd_tls_received_header: ['actors/smtpd/smtpd-extensions.test.ts', "the Received header tells TLS (smtpd_tls_received_header) and the AUTH user (smtpd_sasl_authenticated_header) only when asked"],
  smtpd_tls_protocols: ['actors/smtpd/smtpd-extensions.test.ts', "smtpd_tls_protocols and smtpd_tls_mandatory_protocols bound the TLS versions a client may use"],
  smtpd_tls_mandatory_protocols: ['actors/smtpd/smtpd-extensions.test.ts', "smtpd_tls_protocols and smtpd_tls_mandatory_protocols bound the TLS versions a client may use"],
  smtp_connect_timeout: ['actors/smtp/smtp-params.test.ts', "smtp_connect_timeout is the TCP connect timeout"],
  smtp_helo_timeout: ['actors/smtp/smtp-session.test.ts', "smtp_helo_timeout: a server that never greets is given up on with Postfix's reason"],
  smtp_mail_timeout: ['actors/smtp/smtp-params.test.ts', "per-command timeouts: nodemailer has one inactivity timer, so the longest of them governs every command"],
  smtp_rcpt_timeout: ['actors/smtp/smtp-params.test.ts', "per-command timeouts: nodemailer has one inactivity timer, so the longest of them governs every command"],
  smtp_data_init_timeout: ['actors/smtp/smtp-params.test.ts', "per-command timeouts: nodemailer has one inactivity timer, so the longest of them governs every command"],
  smtp_data_xfer_timeout: ['actors/smtp/smtp-params.test.ts', "per-command timeouts: nodemailer has one inactivity timer, so the longest of them governs every command"],
  smtp_data_done_timeout: ['actors/smtp/smtp-params.test.ts', "per-command timeouts: nodemailer has one inactivity timer, so the longest of them governs every command"],
  smtp_rset_timeout: ['actors/smtp/smtp-params.test.ts', "per-command timeouts: nodemailer has one inactivity timer, so the longest of them governs every command"],
  smtp_helo_name: ['actors/smtp/smtp-session.test.ts', "smtp_helo_name is the name sent in EHLO; $myhostname by default"],
  smtp_connection_cache_time_limit: ['actors/smtp/smtp-transaction.test.ts', "two requests to one next hop share one connection"],
  smtp_connection_reuse_count_limit: ['actors/smtp/smtp-transaction.test.ts', "smtp_connection_reuse_count_limit closes a connection after that many uses"],
  smtp_connection_reuse_time_limit: ['actors/smtp/smtp-transaction.test.ts', "smtp_connection_reuse_time_limit: a connection older than the limit is not reused"],
  smtp_tls_security_level: ['actors/smtp/smtp-session.test.ts', "smtp_tls_cert_file and smtp_tls_key_file: the client certificate a server that asks for one gets"],
  smtp_tls_cert_file: ['actors/smtp/smtp-session.test.ts', "smtp_tls_cert_file and smtp_tls_key_file: the client certificate a server that asks for one gets"],
  smtp_tls_key_file: ['actors/smtp/smtp-session.test.ts', "smtp_tls_cert_file and smtp_tls_key_file: the client certificate a server that asks for one gets"],
  smtp_tls_CAfile: ['actors/smtp/smtp-transaction.test.ts', "verify: refuses a certificate not signed by smtp_tls_CAfile, accepts one that is"],
  smtp_tls_policy_maps: ['actors/smtp/smtp-tls-levels.test.ts', "an entry for the nexthop (with its :port) overrides smtp_tls_security_level; others keep the main.cf level"],
  smtp_tls_fingerprint_digest: ['actors/smtp/smtp-tls-levels.test.ts', "fingerprint: the certificate or public-key digest (smtp_tls_fingerprint_cert_match, sha256) delivers with no CA; another defers"],
  smtp_tls_fingerprint_cert_match: ['actors/smtp/smtp-tls-levels.test.ts', "fingerprint: the certificate or public-key digest (smtp_tls_fingerprint_cert_match, sha256) delivers with no CA; another defers"],
  smtp_tls_verify_cert_match: ['actors/smtp/smtp-tls-levels.test.ts', "verify: a CA-signed certificate naming the MX host delivers (Verified); another CA, another name or no STARTTLS defer"],
  smtp_tls_secure_cert_match: ['actors/smtp/smtp-tls-levels.test.ts', "secure: the certificate must name the nexthop or a subdomain of it (smtp_tls_secure_cert_match), never just any MX name"],
  smtp_tls_loglevel: ['actors/smtp/smtp-tls-levels.test.ts', "may: TLS with any certificate, logged as Untrusted or Trusted per smtp_tls_CAfile at smtp_tls_loglevel 1"],
  smtp_tls_CApath: ['actors/smtp/smtp-tls-levels.test.ts', "smtp_tls_CApath: the CA certificates of a directory are trusted at verify"],
  smtp_tls_protocols: ['actors/smtp/smtp-tls-levels.test.ts', "smtp_tls_mandatory_protocols and smtp_tls_protocols bound the versions; smtp_tls_mandatory_ciphers and smtp_tls_ciphers pick the grade"],
  smtp_tls_mandatory_protocols: ['actors/smtp/smtp-tls-levels.test.ts', "smtp_tls_mandatory_protocols and smtp_tls_protocols bound the versions; smtp_tls_mandatory_ciphers and smtp_tls_ciphers pick the grade"],
  smtp_tls_ciphers: ['actors/smtp/smtp-tls-levels.test.ts', "smtp_tls_mandatory_protocols and smtp_tls_protocols bound the versions; smtp_tls_mandatory_ciphers and smtp_tls_ciphers pick the grade"],
  smtp_tls_mandatory_ciphers: ['actors/smtp/smtp-tls-levels.test.ts', "smtp_tls_mandatory_protocols and smtp_tls_protocols bound the versions; smtp_tls_mandatory_ciphers and smtp_tls_ciphers pick the grade"],
  smtp_mta_sts_enable: ['actors/smtp/smtp-mta-sts.test.ts', "smtp_mta_sts_enable = no and smtp_tlsrpt_enable = no: no policy lookup, nothing counted"],
  smtp_mta_sts_cache_directory: ['actors/smtp/smtp-mta-sts.test.ts', "the policy cache on disk outlives the agent: a new one does not fetch while the TXT id stays, and fetches when it changes"],
  smtp_mta_sts_CAfile: ['actors/smtp/smtp-mta-sts.test.ts', "the policy fetch: not text/plain and larger than 64 KiB are invalid; a policy host certificate from another CA is sts-webpki-invalid"],
  smtp_mta_sts_fetch_timeout: ['actors/smtp/smtp-mta-sts.test.ts', "smtp_mta_sts_fetch_timeout: a policy host that never answers is given up on; without a policy the mail goes as main.cf says, and the fetch error is counted"],
  smtp_tlsrpt_enable: ['actors/smtp/smtp-mta-sts.test.ts', "smtp_mta_sts_enable = no and smtp_tlsrpt_enable = no: no policy lookup, nothing counted"],
  smtp_tlsrpt_organization_name: ['e2e/mta-sts-tlsrpt.test.ts', "MTA-STS enforce delivers over verified TLS, testing delivers and counts the failure; the cache outlives a restart; the TLSRPT reports reach the mailto: and https: rua"],
  smtp_tlsrpt_contact_info: ['e2e/mta-sts-tlsrpt.test.ts', "MTA-STS enforce delivers over verified TLS, testing delivers and counts the failure; the cache outlives a restart; the TLSRPT reports reach the mailto: and https: rua"],
  smtp_tlsrpt_send_time: ['global/tlsrpt.test.ts', "smtp_tlsrpt_send_time and smtp_tlsrpt_CAfile: a finished day is sent when the time has come, over https verified against the file, and by mail through the maildrop"],
  smtp_tlsrpt_CAfile: ['global/tlsrpt.test.ts', "smtp_tlsrpt_send_time and smtp_tlsrpt_CAfile: a finished day is sent when the time has come, over https verified against the file, and by mail through the maildrop"],
  smtp_bind_address: ['actors/smtp/smtp-session.test.ts', "smtp_bind_address is the source address of IPv4 connections; smtp_bind_address6 of IPv6 ones only"],
  smtp_bind_address6: ['actors/smtp/smtp-session.test.ts', "smtp_bind_address is the source address of IPv4 connections; smtp_bind_address6 of IPv6 ones only"],
  smtp_skip_5xx_greeting: ['actors/smtp/smtp-session.test.ts', "smtp_skip_5xx_greeting: yes (default) defers a 5xx greeting so the next MX is tried; no bounces it"],
  smtp_mx_address_limit: ['actors/smtp/smtp-agent.test.ts', "smtp_mx_address_limit: only that many MX addresses are tried"],
  smtp_mx_session_limit: ['actors/smtp/smtp-agent.test.ts', "smtp_mx_session_limit: MX hosts that answered count; past the limit no further host is tried"],
  relay_destination_concurrency_limit: ['actors/qmgr/qmgr-policy.test.ts', "the stock transports' named limits apply: relay_destination_concurrency_limit, smtp_destination_recipient_limit"],
  smtp_destination_concurrency_limit: ['actors/qmgr/qmgr-policy.test.ts', "per-transport limits override the defaults; a malformed one falls back"],
  smtp_destination_recipient_limit: ['actors/qmgr/qmgr-policy.test.ts', "the stock transports' named limits apply: relay_destination_concurrency_limit, smtp_destination_recipient_limit"],
  reject_code: ['actors/smtpd/smtpd-policy.test.ts', "reply codes follow their parameters: reject_code, defer_code, relay_domains_reject_code, the access map codes, non_fqdn, invalid_hostname, unknown_address, maps_rbl, unknown_virtual_mailbox"],
  defer_code: ['actors/smtpd/smtpd-policy.test.ts', "reply codes follow their parameters: reject_code, defer_code, relay_domains_reject_code, the access map codes, non_fqdn, invalid_hostname, unknown_address, maps_rbl, unknown_virtual_mailbox"],
  relay_domains_reject_code: ['actors/smtpd/smtpd-policy.test.ts', "reply codes follow their parameters: reject_code, defer_code, relay_domains_reject_code, the access map codes, non_fqdn, invalid_hostname, unknown_address, maps_rbl, unknown_virtual_mailbox"],
  access_map_reject_code: ['actors/smtpd/smtpd-policy.test.ts', "reply codes follow their parameters: reject_code, defer_code, relay_domains_reject_code, the access map codes, non_fqdn, invalid_hostname, unknown_address, maps_rbl, unknown_virtual_mailbox"],
  maps_rbl_reject_code: ['actors/smtpd/smtpd-policy.test.ts', "reply codes follow their parameters: reject_code, defer_code, relay_domains_reject_code, the access map codes, non_fqdn, invalid_hostname, unknown_address, maps_rbl, unknown_virtual_mailbox"],
  access_map_defer_code: ['actors/smtpd/smtpd-policy.test.ts', "reply codes follow their parameters: reject_code, defer_code, relay_domains_reject_code, the access map codes, non_fqdn, invalid_hostname, unknown_address, maps_rbl, unknown_virtual_mailbox"],
  unknown_address_reject_code: ['actors/smtpd/smtpd-policy.test.ts', "reply codes follow their parameters: reject_code, defer_code, relay_domains_reject_code, the access map codes, non_fqdn, invalid_hostname, unknown_address, maps_rbl, unknown_virtual_mailbox"],
  unknown_virtual_alias_reject_code: ['actors/smtpd/smtpd-policy.test.ts', "relay_recipient_maps refuse unknown relay recipients (unknown_relay_recipient_reject_code); virtual alias domains use unknown_virtual_alias_reject_code"],
  unknown_local_recipient_reject_code: ['actors/smtpd/smtpd-policy.test.ts', "local_recipient_maps (Postfix's default: the passwd database and alias_maps) refuses unknown local users at RCPT; users, aliases and rewritten addresses pass"],
  unknown_virtual_mailbox_reject_code: ['actors/smtpd/smtpd-policy.test.ts', "reply codes follow their parameters: reject_code, defer_code, relay_domains_reject_code, the access map codes, non_fqdn, invalid_hostname, unknown_address, maps_rbl, unknown_virtual_mailbox"],
  unknown_relay_recipient_reject_code: ['actors/smtpd/smtpd-policy.test.ts', "relay_recipient_maps refuse unknown relay recipients (unknown_relay_recipient_reject_code); virtual alias domains use unknown_virtual_alias_reject_code"],
  invalid_hostname_reject_code: ['actors/smtpd/smtpd-policy.test.ts', "reply codes follow their parameters: reject_code, defer_code, relay_domains_reject_code, the access map codes, non_fqdn, invalid_hostname, unknown_address, maps_rbl, unknown_virtual_mailbox"],
  non_fqdn_reject_code: ['actors/smtpd/smtpd-policy.test.ts', "reply codes follow their parameters: reject_code, defer_code, relay_domains_reject_code, the access map codes, non_fqdn, invalid_hostname, unknown_address, maps_rbl, unknown_virtual_mailbox"],
  smtpd_milters: ['e2e/milters.test.ts', 'every end-of-message modification reaches the sink: headers added, inserted, changed and deleted, body replaced, recipients added (with NOTIFY) and deleted, sender changed'],
  non_smtpd_milters: ['e2e/milters.test.ts', 'non_smtpd_milters inspect mail from sendmail: the milter sees localhost and edits the message on its way through pickup'],
  milter_protocol: ['global/milter-session.test.ts', 'milter_protocol sets the version and the steps offered at negotiation; a version 2 milter is never sent DATA'],
  milter_default_action: ['global/milter-session.test.ts', 'milter_connect_timeout and milter_command_timeout: a milter that does not answer gets milter_default_action (tempfail, reject, accept, quarantine)'],
  milter_connect_timeout: ['global/milter-session.test.ts', 'milter_connect_timeout and milter_command_timeout: a milter that does not answer gets milter_default_action (tempfail, reject, accept, quarantine)'],
  milter_command_timeout: ['global/milter-session.test.ts', 'milter_connect_timeout and milter_command_timeout: a milter that does not answer gets milter_default_action (tempfail, reject, accept, quarantine)'],
  milter_content_timeout: ['e2e/milters.test.ts', 'a milter that stops answering in the middle of the body: milter_content_timeout, then the default action (451), and the message is not queued'],
  milter_connect_macros: ['global/milter-session.test.ts', 'the milter_*_macros lists decide the macros of each stage (milter_macro_daemon_name and milter_macro_v included)'],
  milter_helo_macros: ['global/milter-session.test.ts', 'the milter_*_macros lists decide the macros of each stage (milter_macro_daemon_name and milter_macro_v included)'],
  milter_mail_macros: ['global/milter-session.test.ts', 'the milter_*_macros lists decide the macros of each stage (milter_macro_daemon_name and milter_macro_v included)'],
  milter_rcpt_macros: ['global/milter-session.test.ts', 'the milter_*_macros lists decide the macros of each stage (milter_macro_daemon_name and milter_macro_v included)'],
  milter_data_macros: ['global/milter-session.test.ts', 'the milter_*_macros lists decide the macros of each stage (milter_macro_daemon_name and milter_macro_v included)'],
  milter_end_of_header_macros: ['global/milter-session.test.ts', 'the milter_*_macros lists decide the macros of each stage (milter_macro_daemon_name and milter_macro_v included)'],
  milter_end_of_data_macros: ['global/milter-session.test.ts', 'the milter_*_macros lists decide the macros of each stage (milter_macro_daemon_name and milter_macro_v included)'],
  milter_unknown_command_macros: ['global/milter-session.test.ts', 'SMFIP_RCPT_REJ: a refused recipient goes only to the milters that asked for refused recipients; SMFIC_UNKNOWN carries milter_unknown_command_macros, and a milter that asked not to see unknown commands (or speaks version 2) gets none'],
  milter_macro_daemon_name: ['global/milter-session.test.ts', 'the milter_*_macros lists decide the macros of each stage (milter_macro_daemon_name and milter_macro_v included)'],
  milter_macro_v: ['global/milter-session.test.ts', 'the milter_*_macros lists decide the macros of each stage (milter_macro_daemon_name and milter_macro_v included)'],
};

/** Files that name parameters without acting on them: the table, its README generator and the checker. */
const NOT_READERS = new Set([
  'src/config/parameters.ts',
  'src/config/parameters-doc.ts',
  'src/config/check-config.ts',
  'src/config/check-effects.ts',
  'src/config/check-restrictions.ts',
  'src/config/check-transports.ts',
  'src/config/restriction-names.ts',
]);

function sources(dir: string, out: string[] = []): string[] {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The text of every src/ file that reads parameters. */
const READER_TEXT = sources(join(ROOT, 'src'))
  .filter((p) => !NOT_READERS.has(relative(ROOT, p).split('\\').join('/')))
  .map((p) => readFileSync(p, 'utf8'))
  .join('\n');

/** The names of the tests in a test file (quoted first argument of test(), escapes undone). */
function testNames(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  const names = new Set<string>();
  for (const m of text.matchAll(/\btest\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/g)) names.add(m[2].replace(/\\(.)/g, '$1'));
  return names;
}

const effective = Object.entries(PARAMETERS).filter(([, info]) => info.effect === 'effective');

test('every parameter marked effective is read by code in src/, outside the table and the checker', () => {
  const referencedByDefaults = new Set<string>();
  for (const [, info] of effective) for (const m of info.default.matchAll(/\$\{?([A-Za-z0-9_]+)/g)) referencedByDefaults.add(m[1]);
  const unread = effective
    .map(([name]) => name)
    // Read by its quoted name, as a typed property (params.metrics_listen), or set as a key (service_name: s.name).
    .filter((name) => !new RegExp(`['"\`]${name}['"\`]|\\.${name}\\b|\\b${name}:`).test(READER_TEXT) && !referencedByDefaults.has(name));
  assert.deepEqual(unread, []);
});

test('every parameter marked effective has a test that proves its effect, and that test exists', () => {
  const missing = effective.map(([name]) => name).filter((name) => !EFFECT_TESTS[name]);
  assert.deepEqual(missing, [], 'effective parameters without an effect test');
  const cache = new Map<string, Set<string>>();
  for (const [name, [file, title]] of Object.entries(EFFECT_TESTS)) {
    const path = join(ROOT, 'test', file);
    assert.ok(existsSync(path), `${name}: test/${file} does not exist`);
    if (!cache.has(path)) cache.set(path, testNames(path));
    assert.ok(cache.get(path)!.has(title), `${name}: test/${file} has no test named "${title}"`);
  }
});

test('the mapping names only effective parameters', () => {
  const stale = Object.keys(EFFECT_TESTS).filter((name) => PARAMETERS[name]?.effect !== 'effective');
  assert.deepEqual(stale, []);
});

test('refused and cosmetic parameters say what a value other than the default would not do', () => {
  const silent = Object.entries(PARAMETERS)
    .filter(([, info]) => info.effect !== 'effective' && !info.why)
    .map(([name]) => name);
  assert.deepEqual(silent, []);
});

test('every restriction the checker accepts is evaluated by smtpd\'s policy', () => {
  const policy = readFileSync(join(ROOT, 'src/actors/smtpd/smtpd-policy.ts'), 'utf8');
  const unhandled = [...IMPLEMENTED_RESTRICTIONS].filter((name) => name !== 'warn_if_reject' && !policy.includes(`case '${name}':`));
  assert.deepEqual(unhandled, []);
  assert.ok(policy.includes(`=== 'warn_if_reject'`), 'warn_if_reject is handled by the list walk');
});
