/**
 * parameters: the table of main.cf parameters Postrider knows. Each entry has
 * Postfix's default text (with $name references as Postfix writes them), a
 * kind used by the checker, a one-line summary, and what Postrider does with
 * it, one of three:
 *   effective  implemented with Postfix's behaviour;
 *   refused    not implemented, and a value other than the default would
 *              change what happens to mail (filters, milters, relay and
 *              safety settings): `check` and `start` stop with an error
 *              naming it;
 *   cosmetic   not implemented, and nothing happens differently to mail
 *              (paths, logging detail, tuning, local delivery that does not
 *              exist): a value other than the default draws a warning.
 * Pure data and pure functions; nothing throws.
 */
import { hostname as osHostname, networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { formatIp, parseIp } from './ip-address.js';

/** How a parameter's value is read. */
export type ParameterKind =
  | 'string'
  | 'int'
  | 'size'
  | 'bool'
  | 'time'
  | 'list'
  | 'path'
  | 'table-list'
  | 'host-list'
  | 'domain-list'
  | 'restrictions';

/** What Postrider does with a parameter (see the file comment). */
export type ParameterEffect = 'effective' | 'refused' | 'cosmetic';

/** One known parameter. */
export interface ParameterInfo {
  /** Postfix's default text; computed defaults (myhostname, ...) hold ''. */
  default: string;
  kind: ParameterKind;
  summary: string;
  effect: ParameterEffect;
  /** Refused and cosmetic parameters: what a non-default value means here, the end of the check's line. */
  why?: string;
  /** Default unit of a bare number, for 'time' parameters ('s' unless told). */
  timeUnit?: string;
  /** The default is computed from the host (see computedDefaults). */
  computed?: boolean;
  /**
   * Set when the default deliberately differs from Postfix 3.7's (as it
   * applies at compatibility_level 3.6): Postfix's value and why Postrider
   * chose otherwise. The README lists these in "Coming from Postfix".
   */
  differs?: { postfix: string; why: string };
}

const T: Record<string, ParameterInfo> = {};

/** Effective: implemented with Postfix's behaviour. */
function p(name: string, def: string, kind: ParameterKind, summary: string, extra: Partial<ParameterInfo> = {}): void {
  T[name] = { default: def, kind, summary, effect: 'effective', ...extra };
}

/** Cosmetic: accepted without effect; a non-default value draws a warning ending with `why`. */
function na(name: string, def: string, kind: ParameterKind, summary: string, why = 'Postrider does not act on it'): void {
  p(name, def, kind, summary, { effect: 'cosmetic', why });
}

/** Refused: a non-default value is an error ending with `why` (what would happen to mail). */
function refuse(name: string, def: string, kind: ParameterKind, summary: string, why: string): void {
  p(name, def, kind, summary, { effect: 'refused', why });
}

// Identity and addresses.
p('myhostname', '', 'string', 'the internet hostname of this mail system', { computed: true });
p('mydomain', '', 'string', 'the internet domain name of this mail system', { computed: true });
p('myorigin', '$myhostname', 'string', 'the domain that locally-posted mail appears to come from');
p('mydestination', '$myhostname, localhost.$mydomain, localhost', 'domain-list', 'domains delivered locally');
p('relay_domains', '', 'domain-list', 'destination domains this system relays mail to');
p('mynetworks', '', 'host-list', 'trusted remote SMTP clients', {
  computed: true,
  differs: {
    postfix: 'the host\'s own addresses, each as /32 or /128 (mynetworks_style = host)',
    why: 'the loopback networks (127.0.0.0/8, [::1]/128 and the IPv4-mapped loopback that a dual-stack socket reports): every client on this host, and no address another host can reach',
  },
});
p('mynetworks_style', 'host', 'string', 'how mynetworks is computed when not set (host, subnet, class)');
p('relayhost', '', 'string', 'the next-hop destination of non-local mail ([host]:port form)');
p('inet_interfaces', 'all', 'list', 'network interface addresses this mail system receives mail on');
p('proxy_interfaces', '', 'list', 'addresses this mail system receives mail on through a proxy or NAT');
p('inet_protocols', 'all', 'list', 'the internet protocols to use (ipv4, ipv6, all): the smtp client\'s lookups and connections, smtpd\'s wildcard listener');
p('mail_name', 'Postrider', 'string', 'the mail system name shown in the SMTP greeting', {
  differs: { postfix: 'Postfix', why: 'the greeting names the software that answers' },
});
p('mail_version', '0.1.0', 'string', 'the version of the mail system', {
  differs: { postfix: '3.7.11', why: 'Postrider\'s own version' },
});
p('append_dot_mydomain', 'no', 'bool', 'append .$mydomain to addresses that have no .domain');
p('recipient_delimiter', '', 'string', 'the separator between user names and address extensions');
p('append_at_myorigin', 'yes', 'bool', 'append @$myorigin to addresses that have no domain');
p('propagate_unmatched_extensions', 'canonical, virtual', 'list', 'address mappings that keep an unmatched address extension');
p('parent_domain_matches_subdomains',
  'debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps',
  'list', 'features where a domain name also matches its subdomains');
p('compatibility_level', '3.6', 'string', 'backwards-compatible default settings level: below 1 and 2 the unset append_dot_mydomain, smtputf8_enable, relay_domains and mynetworks_style take their older defaults, as in Postfix', {
  differs: {
    postfix: '0',
    why: 'a main.cf without the line gets current defaults, as the shipped main.cf (and Postfix\'s own since 3.0) says 3.6; a main.cf that sets a lower level switches the defaults as Postfix does',
  },
});
p('soft_bounce', 'no', 'bool', 'turn hard rejects and bounces into soft ones (safety net)');

// Queue, files, logging.
p('queue_directory', '/var/spool/postrider', 'path', 'the queue directory (relative to the configuration directory when not absolute)', {
  differs: { postfix: '/var/spool/postfix', why: 'a journal, not Postfix\'s queue files: the two must never share a spool, so both can run side by side' },
});
p('queue_shard_count', '-', 'string', 'Postrider: queue shards, each a journal writer and a qmgr of its own (- : one per four cores); shard directories found on disk are served too');
p('maillog_file', '', 'path', 'log file; empty logs to syslog (postrider start) or standard output (start-fg)');
p('syslog_facility', 'mail', 'string', 'the syslog facility of log lines sent to syslog');
p('syslog_socket', '/dev/log', 'path', 'Postrider: the local syslog socket (a unix datagram socket) log lines go to when maillog_file is empty');
p('syslog_name', 'postrider', 'string', 'the prefix of every log line', {
  differs: { postfix: 'postfix', why: 'log lines name the software that wrote them (give pflogsumm --syslog-name=postrider)' },
});
p('minimal_backoff_time', '300s', 'time', 'the shortest time between delivery attempts of a deferred message');
p('maximal_backoff_time', '4000s', 'time', 'the longest time between delivery attempts of a deferred message');
p('queue_run_delay', '300s', 'time', 'how often the deferred queue is scanned');
p('maximal_queue_lifetime', '5d', 'time', 'how long a message may stay queued before it is bounced', { timeUnit: 'd' });
p('bounce_queue_lifetime', '5d', 'time', 'how long a bounce message may stay queued', { timeUnit: 'd' });
p('delay_warning_time', '0h', 'time', 'when to warn the sender about delayed mail (0 = never)', { timeUnit: 'h' });
p('qmgr_message_active_limit', '20000', 'int', 'the most messages in the active queue');
na('qmgr_message_recipient_limit', '20000', 'int', 'the most recipients held in memory by the queue manager', 'the queue manager keeps every recipient of an active message');
p('queue_minfree', '0', 'size', 'the least free space in bytes in the queue file system to accept mail (at least 1.5 x message_size_limit applies)');
p('hopcount_limit', '50', 'int', 'Received: headers (the one added on arrival included) at which a message is refused as a mail loop: 554 5.4.0, or a failure notice for sendmail mail');
p('notify_classes', 'resource, software', 'list', 'the problem classes reported to the postmaster (Postrider sends the bounce and delay copies; other classes send nothing)');
p('bounce_notice_recipient', 'postmaster', 'string', 'who gets postmaster copies of bounce notices');
p('2bounce_notice_recipient', 'postmaster', 'string', 'who gets undeliverable bounce notices');
p('delay_notice_recipient', 'postmaster', 'string', 'who gets postmaster copies of delay notices (notify_classes delay)');
na('error_notice_recipient', 'postmaster', 'string', 'who gets notices of software and resource problems', 'Postrider sends no resource, software, protocol or policy notices');
na('double_bounce_sender', 'double-bounce', 'string', 'the sender of postmaster notifications; mail to it is discarded', 'Postrider marks a notice to the postmaster with a header instead and never returns it');
na('empty_address_recipient', 'MAILER-DAEMON', 'string', 'the recipient of mail addressed to the null address', 'smtpd and sendmail refuse the null recipient');
p('bounce_size_limit', '50000', 'size', 'the most original message text returned in a bounce');
p('message_size_limit', '10240000', 'size', 'the largest message in bytes (envelope and header included)');
p('line_length_limit', '2048', 'int', 'the longest line kept whole; longer lines are broken');
p('header_size_limit', '102400', 'size', 'the largest message header kept');
// Postfix has no such parameter: it always writes a queue file as the message arrives.
p('message_spool_threshold', '1048576', 'size', 'Postrider: a message received over SMTP that grows past this many bytes is written to its own file as it arrives instead of being held in memory (0: never)');
p('debug_fault_injection', 'no', 'bool', 'Postrider: enable fault-injection hooks for tests');
p('http_api_listen', '', 'string', 'Postrider: address:port of the HTTP API and dashboard (a bare port binds 127.0.0.1); empty = off');
p('http_api_token_file', '', 'path', 'Postrider: file of bearer tokens for the HTTP API, one a line; required for a non-loopback http_api_listen');
p('http_api_public_health', 'no', 'bool', 'Postrider: /healthz on the HTTP API answers without a token');
p('http_api_tls_cert_file', '', 'path', 'Postrider: certificate (PEM) of the HTTP API; with http_api_tls_key_file it serves HTTPS');
p('http_api_tls_key_file', '', 'path', 'Postrider: private key (PEM) of the HTTP API');
p('metrics_listen', '', 'string', 'Postrider: address:port of the Prometheus metrics listener; empty = off');
p('supervisor_restart_limit', '10', 'int', 'Postrider: restarts of one actor within supervisor_restart_window before its restarts are throttled (before the daemon serves: before start fails)');
p('supervisor_drain_timeout', '30s', 'time', 'Postrider: how long actors taken out of service by reload or stop may finish their work; then idle sessions get 421');
p('supervisor_restart_window', '60s', 'time', 'Postrider: the window of the restart intensity limit');
p('supervisor_busy_timeout', '60s', 'time', 'Postrider: how long an actor thread whose CPU time advances may go without answering heartbeats before the watchdog ends it');
p('max_idle', '100s', 'time', 'how long an on-demand thread (delivery agents, bounce, pickup, anvil) waits for work before it ends; the next request starts it again');
p('service_throttle_time', '60s', 'time', 'how long a service that failed at startup waits before it is started again; the longest throttled restart delay');
// Built-in message authentication (no Postfix equivalents: Postfix hands this to milters such as OpenDKIM, OpenDMARC, OpenARC).
p('dkim_key_table', '', 'table-list', 'Postrider: OpenDKIM KeyTable: key name -> domain:selector:keyfile (RSA or Ed25519 private key); keys are read at start and reload');
p('dkim_signing_table', '', 'table-list', 'Postrider: OpenDKIM SigningTable: the From: address, then its domain -> key name(s); empty = no DKIM signing');
p('dkim_sign_local_only', 'yes', 'bool', 'Postrider: sign only mail from mynetworks, SASL-authenticated clients and sendmail; no = whatever the signing table matches');
p('dkim_signed_headers', 'From, Reply-To, Subject, Date, To, Cc, Resent-Date, Resent-From, Resent-Sender, Resent-To, Resent-Cc, In-Reply-To, References, List-Id, List-Help, List-Unsubscribe, List-Subscribe, List-Post, List-Owner, List-Archive, Message-ID, MIME-Version, Content-Type, Content-Transfer-Encoding', 'list', 'Postrider: the header fields DKIM signatures cover (OpenDKIM\'s default list, with Message-ID and the MIME fields)');
p('dkim_canonicalization', 'relaxed/relaxed', 'string', 'Postrider: DKIM canonicalization, header/body: simple or relaxed each');
p('arc_key_table', '', 'table-list', 'Postrider: ARC sealing keys, in dkim_key_table\'s KeyTable format');
p('arc_signing_table', '', 'table-list', 'Postrider: ARC SigningTable: a recipient address, then its domain -> key name; matching mail received over SMTP is ARC-sealed');
p('smtpd_authentication_results', 'no', 'bool', 'Postrider: verify SPF, DKIM, DMARC and ARC of mail received over SMTP and add one Authentication-Results: header');
p('authserv_id', '$myhostname', 'string', 'Postrider: the authserv-id of the Authentication-Results: header; received ones that claim it are removed');
p('dmarc_quarantine_action', 'hold', 'string', 'Postrider: what reject_dmarc_policy does for p=quarantine: hold (the hold queue) or accept');
p('dns_resolver_servers', '', 'list', 'Postrider: DNS servers (address[:port]) smtpd and smtp ask; empty = system resolver');
p('disable_dns_lookups', 'no', 'bool', 'disable DNS lookups by the SMTP client: no MX lookups, hosts from the system resolver (when smtp_dns_support_level is empty)');
p('smtp_dns_support_level', '', 'string', 'the smtp client\'s DNS use: disabled (no MX, hosts from the system resolver), enabled, or dnssec (the resolver\'s AD bit is trusted: DANE); empty: per disable_dns_lookups');
p('smtputf8_enable', 'yes', 'bool', 'enable SMTPUTF8 support');
p('service_name', '', 'string', 'the master.cf service name of the running process (set per service)');
p('process_name', '', 'string', 'the program name of the running process (set per service)', {
  differs: { postfix: 'the name of the program that asks (postconf for postconf -d)', why: 'set per service in the daemon; the configuration command shows it empty' },
});
p('stress', '', 'string', 'set to yes when the system is overloaded');
p('content_filter', '', 'string', 'after-queue content filter transport:destination: the queue manager hands mail received with it to that service');
p('receive_override_options', '', 'list', 'what a service leaves out for mail back from a content filter (no_unknown_recipient_checks, no_address_mappings, no_header_body_checks, no_milters)');
p('smtpd_policy_service_default_action', '451 4.3.5 Server configuration problem', 'string', 'the access action when a policy server cannot be asked or answers garbage');
p('smtpd_policy_service_max_idle', '300s', 'time', 'an idle policy server connection is closed after this time');
p('smtpd_policy_service_max_ttl', '1000s', 'time', 'a policy server connection is not reused past this age');
p('smtpd_policy_service_policy_context', '', 'string', 'the policy_context attribute of each policy request');
p('smtpd_policy_service_request_limit', '0', 'int', 'requests per policy server connection (0: no limit)');
p('smtpd_policy_service_reuse_count_limit', '0', 'int', 'Postrider: the most SMTP sessions one policy server connection serves before it is closed (0: no limit)');
p('smtpd_policy_service_retry_delay', '1s', 'time', 'the delay before a failed policy request is sent again');
p('smtpd_policy_service_timeout', '100s', 'time', 'the time limit to connect to, write to and read from a policy server');
p('smtpd_policy_service_try_limit', '2', 'int', 'attempts to send a policy request before the default action applies');

// Content checks and address rewriting.
p('header_checks', '', 'table-list', 'header lookup tables (Postfix header_checks(5))');
p('mime_header_checks', '$header_checks', 'table-list', 'MIME header lookup tables');
p('nested_header_checks', '$header_checks', 'table-list', 'attached message header lookup tables');
p('body_checks', '', 'table-list', 'body line lookup tables');
p('body_checks_size_limit', '51200', 'int', 'bytes of each message part that body_checks see');
p('body_checks_time_limit', '30s', 'time', 'Postrider: the longest body_checks and mime_header_checks may take over one message; then 451 4.3.0 and the check thread is replaced');
p('mime_nesting_limit', '100', 'int', 'the most multipart levels cleanup follows; deeper nesting is rejected when header checks are in use');
p('local_header_rewrite_clients', 'permit_inet_interfaces', 'list', 'clients whose header addresses are rewritten as local mail\'s and whose missing From, Date and Message-ID headers are added');
p('always_add_missing_headers', 'no', 'bool', 'add missing From, Date and Message-ID headers for every client');
p('canonical_maps', '', 'table-list', 'canonical address mapping for sender and recipient');
p('sender_canonical_maps', '', 'table-list', 'canonical address mapping for senders');
p('recipient_canonical_maps', '', 'table-list', 'canonical address mapping for recipients');
p('canonical_classes', 'envelope_sender, envelope_recipient, header_sender, header_recipient', 'list', 'the addresses canonical_maps rewrites');
p('sender_canonical_classes', 'envelope_sender, header_sender', 'list', 'the addresses sender_canonical_maps rewrites');
p('recipient_canonical_classes', 'envelope_recipient, header_recipient', 'list', 'the addresses recipient_canonical_maps rewrites');
p('masquerade_domains', '', 'list', 'domains whose subdomains are stripped from addresses ("!domain": not masqueraded)');
p('masquerade_exceptions', '', 'list', 'user names (or type:table) whose addresses are not masqueraded');
p('masquerade_classes', 'envelope_sender, header_sender, header_recipient', 'list', 'the addresses masquerade_domains applies to');
p('remote_header_rewrite_domain', '', 'string', 'the domain appended to incomplete header addresses from remote clients; empty: their headers are not rewritten');
p('virtual_maps', '', 'table-list', 'legacy name of virtual_alias_maps');
p('virtual_alias_maps', '$virtual_maps', 'table-list', 'virtual alias tables: address -> addresses');
p('virtual_alias_domains', '$virtual_alias_maps', 'domain-list', 'virtual alias domains');
p('virtual_alias_recursion_limit', '1000', 'int', 'the deepest virtual alias expansion');
p('virtual_alias_expansion_limit', '1000', 'int', 'the most addresses one virtual alias expands to');
p('virtual_mailbox_domains', '$virtual_mailbox_maps', 'domain-list', 'domains delivered by the virtual transport');
p('virtual_mailbox_maps', '', 'table-list', 'virtual mailbox tables: address -> mailbox path');
p('virtual_mailbox_base', '', 'path', 'the directory prefix of every virtual mailbox path');
p('virtual_mailbox_limit', '51200000', 'size', 'the largest virtual mailbox file or Maildir message (0 = no limit)');
p('virtual_minimum_uid', '100', 'int', 'the smallest uid virtual_uid_maps may give');
p('virtual_uid_maps', '', 'table-list', 'virtual mailbox owner uids (static:N or a table); empty with virtual_gid_maps: the user Postrider runs as');
p('virtual_gid_maps', '', 'table-list', 'virtual mailbox owner gids (static:N or a table)');
p('enable_original_recipient', 'yes', 'bool', 'record the recipient as received (orig_to=, X-Original-To:, Original-Recipient:)');
p('transport_maps', '', 'table-list', 'tables: recipient or domain -> transport:nexthop');
p('default_transport', 'smtp', 'string', 'the transport for domains that are not local, virtual or relay');
p('relay_transport', 'relay', 'string', 'the transport for relay_domains');
p('local_transport', 'local:$myhostname', 'string', 'the transport for mydestination (local: the local delivery agent)');
p('virtual_transport', 'virtual', 'string', 'the transport for virtual_mailbox_domains');
p('show_user_unknown_table_name', 'yes', 'bool', 'name the table in "user unknown" replies');

// Delivery scheduling.
p('default_destination_concurrency_limit', '20', 'int', 'the most parallel deliveries to one destination');
p('default_destination_concurrency_failed_cohort_limit', '1', 'int', 'failed connection cohorts before a destination is declared dead');
p('initial_destination_concurrency', '5', 'int', 'the initial parallel deliveries to one destination');
p('default_destination_recipient_limit', '50', 'int', 'the most recipients per delivery');
refuse('default_destination_rate_delay', '0s', 'time', 'the pause between deliveries to one destination', 'deliveries would not be paced');
p('default_process_limit', '100', 'int', 'the default maxproc of master.cf services');
na('default_delivery_slot_cost', '5', 'int', 'queue manager preemption cost', 'the queue manager does not preempt');

// SMTP server.
p('smtpd_banner', '$myhostname ESMTP $mail_name', 'string', 'the text after 220 in the greeting', {
  differs: { postfix: '$myhostname ESMTP Postfix', why: 'the same text; $mail_name is Postrider' },
});
p('smtpd_client_restrictions', '', 'restrictions', 'restrictions at connect time');
p('smtpd_helo_restrictions', '', 'restrictions', 'restrictions at HELO/EHLO');
p('smtpd_sender_restrictions', '', 'restrictions', 'restrictions at MAIL FROM');
p('smtpd_relay_restrictions', 'permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination', 'restrictions', 'relay control at RCPT TO');
p('smtpd_recipient_restrictions', '', 'restrictions', 'spam restrictions at RCPT TO');
p('smtpd_data_restrictions', '', 'restrictions', 'restrictions at DATA');
p('smtpd_end_of_data_restrictions', '', 'restrictions', 'restrictions after the end of DATA');
refuse('smtpd_etrn_restrictions', '', 'restrictions', 'restrictions at ETRN', 'ETRN restrictions are not implemented: ETRN would be answered for every client');
p('disable_vrfy_command', 'no', 'bool', 'refuse VRFY (502) instead of answering it from the recipient checks');
p('smtpd_restriction_classes', '', 'list', 'user-defined restriction class names');
na('smtpd_delay_reject', 'yes', 'bool', 'wait until RCPT TO before applying client, helo and sender restrictions', 'smtpd always applies them at RCPT TO; the outcome is the same, only when it is said differs');
p('smtpd_helo_required', 'no', 'bool', 'require HELO or EHLO before MAIL FROM');
p('smtpd_null_access_lookup_key', '<>', 'string', 'the lookup key for the null sender address');
p('smtpd_reject_unlisted_sender', 'no', 'bool', 'reject unknown sender addresses in local, virtual and relay domains with recipient tables');
p('smtpd_reject_unlisted_recipient', 'yes', 'bool', 'reject unknown recipient addresses in local, virtual and relay domains with recipient tables');
p('local_recipient_maps', 'proxy:unix:passwd.byname $alias_maps', 'table-list', 'local recipients smtpd accepts (empty: all); alias tables in aliases(5) format', {
  differs: { postfix: 'proxy:unix:passwd.byname $alias_maps', why: 'the same text; it follows alias_maps' },
});
p('relay_recipient_maps', '', 'table-list', 'valid recipients in relay_domains (empty: all)');
p('strict_rfc821_envelopes', 'no', 'bool', 'require <> around MAIL FROM and RCPT TO addresses');
p('smtpd_recipient_limit', '1000', 'int', 'the most recipients per message');
p('smtpd_recipient_overshoot_limit', '1000', 'int', 'recipients past smtpd_recipient_limit refused with 452 before they count as errors');
p('smtpd_timeout', '${stress?{10}:{300}}s', 'time', 'the SMTP server read and write timeout');
p('smtpd_soft_error_limit', '10', 'int', 'errors before the server sleeps before each reply');
p('smtpd_hard_error_limit', '${stress?{1}:{20}}', 'int', 'errors before the server disconnects');
p('smtpd_error_sleep_time', '1s', 'time', 'the delay before each reply once the soft limit is reached');
p('smtpd_junk_command_limit', '${stress?{1}:{100}}', 'int', 'HELO/EHLO/NOOP/VRFY/ETRN/RSET commands before each one counts as an error');
p('smtpd_client_connection_count_limit', '50', 'int', 'the most simultaneous connections from one client');
p('smtpd_client_connection_rate_limit', '0', 'int', 'the most connections per time unit from one client (0 = no limit)');
p('smtpd_client_message_rate_limit', '0', 'int', 'the most messages per time unit from one client');
p('smtpd_client_recipient_rate_limit', '0', 'int', 'the most recipients per time unit from one client');
p('smtpd_client_auth_rate_limit', '0', 'int', 'the most AUTH commands per time unit from one client (0 = no limit)');
p('smtpd_session_limit', '', 'string', 'Postrider: the most concurrent sessions of one smtpd service, each of its threads holding an equal share (0 = no cap; empty: derived from the open-file limit)');
p('smtpd_client_event_limit_exceptions', '$mynetworks', 'host-list', 'clients exempt from the rate and count limits', {
  differs: { postfix: '$mynetworks', why: 'the same text; it follows mynetworks' },
});
p('anvil_rate_time_unit', '60s', 'time', 'the time unit of the client rate limits');
p('smtpd_sasl_auth_enable', 'no', 'bool', 'offer SMTP AUTH');
p('smtpd_sasl_password_maps', '', 'table-list', 'Postrider: AUTH user -> scrypt password hash');
p('smtpd_sasl_security_options', 'noanonymous', 'list', 'SASL mechanism restrictions');
p('smtpd_sasl_tls_security_options', '$smtpd_sasl_security_options', 'list', 'SASL mechanism restrictions in TLS sessions');
p('smtpd_sasl_authenticated_header', 'no', 'bool', 'record the AUTH user name in the Received: header');
p('smtpd_greet_wait', '0s', 'time', 'Postrider: the delay before the 220 greeting');
na('smtpd_client_port_logging', 'no', 'bool', 'log the client port with the client address', 'the client port is not logged');
p('smtpd_forbid_bare_newline', 'normalize', 'string', 'bare <LF> handling: normalize (only <CR><LF>.<CR><LF> ends DATA), yes, reject, no', {
  differs: { postfix: 'no', why: 'Postfix 3.9\'s default: only <CR><LF>.<CR><LF> ends DATA, which closes the SMTP smuggling hole' },
});
p('smtpd_forbid_bare_newline_exclusions', '$mynetworks', 'host-list', 'clients exempt from smtpd_forbid_bare_newline', {
  differs: { postfix: '$mynetworks', why: 'the same text; it follows mynetworks' },
});
p('smtpd_forbid_unauth_pipelining', 'yes', 'bool', 'disconnect clients that pipeline before the greeting or without PIPELINING', {
  differs: { postfix: 'no', why: 'Postfix 3.9\'s default: clients that talk before the greeting are spam engines or smugglers' },
});
p('smtpd_tls_cert_file', '', 'path', 'the SMTP server certificate (PEM)');
p('smtpd_tls_key_file', '$smtpd_tls_cert_file', 'path', 'the SMTP server private key (PEM)');
na('smtpd_tls_CAfile', '', 'path', 'CA certificates for client certificates', 'smtpd does not ask for client certificates');
p('smtpd_tls_security_level', '', 'string', 'SMTP server TLS level: none, may, encrypt');
p('smtpd_tls_auth_only', 'yes', 'bool', 'offer AUTH only over TLS (Postrider default yes; Postfix no)', {
  differs: { postfix: 'no', why: 'passwords never cross the network in clear text unless main.cf asks for it' },
});
p('smtpd_tls_wrappermode', 'no', 'bool', 'TLS from the first byte (submissions, port 465)');
na('smtpd_tls_loglevel', '0', 'int', 'SMTP server TLS log detail', 'no TLS detail is logged');
p('smtpd_tls_received_header', 'no', 'bool', 'record TLS details in the Received: header');
p('smtpd_tls_protocols', '>=TLSv1', 'list', 'TLS protocols the server accepts with opportunistic TLS');
p('smtpd_tls_mandatory_protocols', '>=TLSv1', 'list', 'TLS protocols the server accepts with mandatory TLS');
refuse('smtpd_authorized_xclient_hosts', '', 'host-list', 'clients allowed to use XCLIENT', 'smtpd does not offer XCLIENT: every client behind the proxy would be judged by the proxy\'s address');

// SMTP client.
p('smtp_connect_timeout', '30s', 'time', 'the TCP connect timeout');
p('smtp_helo_timeout', '300s', 'time', 'the timeout for the greeting and HELO reply');
p('smtp_mail_timeout', '300s', 'time', 'the timeout for the MAIL FROM reply (the longest of the per-command timeouts applies to every command)');
p('smtp_rcpt_timeout', '300s', 'time', 'the timeout for the RCPT TO reply (the longest of the per-command timeouts applies to every command)');
p('smtp_data_init_timeout', '120s', 'time', 'the timeout for the DATA reply (the longest of the per-command timeouts applies to every command)');
p('smtp_data_xfer_timeout', '180s', 'time', 'the timeout while sending message content (the longest of the per-command timeouts applies to every command)');
p('smtp_data_done_timeout', '600s', 'time', 'the timeout for the reply after the final dot (the longest of the per-command timeouts applies to every command)');
na('smtp_quit_timeout', '300s', 'time', 'the timeout for the QUIT reply', 'the client closes a session without waiting for the QUIT reply');
p('smtp_rset_timeout', '20s', 'time', 'the timeout for the RSET reply (the longest of the per-command timeouts applies to every command)');
p('smtp_helo_name', '$myhostname', 'string', 'the name sent in HELO/EHLO');
na('smtp_connection_cache_on_demand', 'yes', 'bool', 'keep connections open to destinations with a backlog', 'the client always keeps idle connections for smtp_connection_cache_time_limit');
p('smtp_connection_cache_time_limit', '2s', 'time', 'how long an unused cached connection stays open');
p('smtp_connection_reuse_count_limit', '0', 'int', 'the most times a connection is reused (0 = no limit)');
p('smtp_connection_reuse_time_limit', '300s', 'time', 'how long a connection may be reused');
p('smtp_tls_security_level', '', 'string', 'SMTP client TLS level: none, may, encrypt, dane, dane-only, fingerprint, verify, secure');
p('smtp_tls_policy_maps', '', 'table-list', 'per-destination SMTP client TLS policy: level and match=, ciphers=, protocols= by next-hop destination');
p('smtp_tls_fingerprint_digest', 'sha256', 'string', 'digest of certificate and public-key fingerprints at the fingerprint level');
p('smtp_tls_fingerprint_cert_match', '', 'list', 'server certificate or public-key fingerprints accepted at the fingerprint level');
p('smtp_tls_verify_cert_match', 'hostname', 'list', 'names a server certificate must match at the verify level (hostname, nexthop, dot-nexthop, .domain, names)');
p('smtp_tls_secure_cert_match', 'nexthop, dot-nexthop', 'list', 'names a server certificate must match at the secure level');
p('smtp_tls_ciphers', 'medium', 'string', 'SMTP client cipher grade with opportunistic TLS (export, low, medium, high, null)');
p('smtp_tls_cert_file', '', 'path', 'the SMTP client certificate (PEM)');
p('smtp_tls_key_file', '$smtp_tls_cert_file', 'path', 'the SMTP client private key (PEM)');
p('smtp_tls_CAfile', '', 'path', 'CA certificates to verify servers');
p('requiretls_enable', 'yes', 'bool', 'RFC 8689 REQUIRETLS: smtpd offers it in TLS sessions and records it; with no, MAIL FROM REQUIRETLS is refused and a queued REQUIRETLS message is sent as any other');
p('smtp_requiretls_policy', 'enforce', 'string', 'how the smtp client treats REQUIRETLS mail: enforce (verified TLS to a server that offers REQUIRETLS, else a bounce), opportunistic+starttls (TLS required, REQUIRETLS passed on where offered), opportunistic (REQUIRETLS passed on where offered); one word for every destination (Postfix 3.11 also takes lookup tables, whose default makes local destinations opportunistic)');
p('requiretls_redact_dsn', 'yes', 'bool', 'a failure notice for REQUIRETLS mail returns the headers only (as RET=HDRS) and is sent without REQUIRETLS');
p('tls_required_enable', 'yes', 'bool', 'RFC 8689: a message with a "TLS-Required: No" header (and no REQUIRETLS) is sent with TLS where possible, without certificate checks and in plain text when TLS fails');
p('smtp_tls_loglevel', '0', 'int', 'SMTP client TLS log detail: 1 logs each TLS session and certificate failure');
// MTA-STS (RFC 8461) and TLSRPT (RFC 8460): Postfix has neither built in; the names follow its smtp_tls_* style.
p('smtp_mta_sts_enable', 'no', 'bool', 'Postrider: apply the MTA-STS policies (RFC 8461) of destination domains found by MX lookup');
p('smtp_mta_sts_cache_directory', 'mta-sts', 'path', 'Postrider: where fetched MTA-STS policies are kept for their max_age (relative to queue_directory when not absolute)');
p('smtp_mta_sts_CAfile', '', 'path', 'Postrider: CA certificates the MTA-STS policy host must chain to (empty: the public roots Node.js ships)');
p('smtp_mta_sts_fetch_timeout', '60s', 'time', 'Postrider: the time limit of one MTA-STS policy fetch (RFC 8461 suggests a minute)');
p('smtp_tlsrpt_enable', 'no', 'bool', 'Postrider: count outbound TLS sessions per policy domain and send daily TLSRPT reports (RFC 8460)');
p('smtp_tlsrpt_organization_name', '$mydomain', 'string', 'Postrider: the organization-name of TLSRPT reports');
p('smtp_tlsrpt_contact_info', 'postmaster@$mydomain', 'string', 'Postrider: the contact-info of TLSRPT reports, and the From: of reports sent by mail');
p('smtp_tlsrpt_send_time', '01:00', 'string', 'Postrider: the UTC time (HH:MM) each day when the reports of the days before are sent');
p('smtp_tlsrpt_CAfile', '$smtp_mta_sts_CAfile', 'path', 'Postrider: CA certificates an https: TLSRPT report endpoint must chain to (empty: the public roots Node.js ships)');
p('smtp_bind_address', '', 'string', 'the local IPv4 address of outgoing connections');
p('smtp_bind_address6', '', 'string', 'the local IPv6 address of outgoing connections');
p('smtp_host_lookup', 'dns', 'list', 'how the smtp client looks up host addresses: dns, native (the system resolver), or both in order');
p('smtp_skip_5xx_greeting', 'yes', 'bool', 'skip to the next MX on a 5xx greeting');
refuse('smtp_sasl_auth_enable', 'no', 'bool', 'SMTP client AUTH', 'the client does not authenticate: mail to a relay that needs AUTH would be refused there');
na('smtp_sasl_password_maps', '', 'table-list', 'SMTP client AUTH credentials by destination', 'the client does not authenticate (smtp_sasl_auth_enable is refused)');
p('smtp_line_length_limit', '998', 'int', 'the longest header or body line the smtp client sends; longer ones are broken with CRLF SPACE (0 = no limit)');
p('smtp_discard_ehlo_keywords', '', 'list', 'EHLO keywords the smtp client ignores in a server\'s EHLO reply (e.g. chunking, pipelining, 8bitmime, starttls; silent-discard: do not log it)');
refuse('smtp_discard_ehlo_keyword_address_maps', '', 'table-list', 'EHLO keywords to ignore per server address', 'keywords are discarded for every server alike (smtp_discard_ehlo_keywords): a per-server list would be ignored');
p('disable_mime_output_conversion', 'no', 'bool', 'send 8-bit mail as is to a server without 8BITMIME (no: convert 8-bit MIME parts to quoted-printable)');
p('smtp_mx_address_limit', '5', 'int', 'the most MX addresses tried');
p('smtp_mx_session_limit', '2', 'int', 'the most SMTP sessions per delivery');
p('relay_destination_concurrency_limit', '$default_destination_concurrency_limit', 'int', 'parallel deliveries per relay destination');
p('smtp_destination_concurrency_limit', '$default_destination_concurrency_limit', 'int', 'parallel deliveries per smtp destination');
p('smtp_destination_recipient_limit', '$default_destination_recipient_limit', 'int', 'recipients per smtp delivery');

// Reply codes.
p('reject_code', '554', 'int', 'reply code of reject');
p('defer_code', '450', 'int', 'reply code of defer');
p('relay_domains_reject_code', '554', 'int', 'reply code of reject_unauth_destination');
p('access_map_reject_code', '554', 'int', 'reply code of an access table REJECT');
p('maps_rbl_reject_code', '554', 'int', 'reply code of reject_rbl_client');
p('access_map_defer_code', '450', 'int', 'reply code of an access table DEFER');
p('unknown_address_reject_code', '450', 'int', 'reply code for unresolvable addresses');
na('unknown_client_reject_code', '450', 'int', 'reply code for clients without a name', 'reject_unknown_client_hostname is not supported');
na('unknown_hostname_reject_code', '450', 'int', 'reply code for HELO names without DNS', 'reject_unknown_helo_hostname is not supported');
na('unverified_recipient_reject_code', '450', 'int', 'reply code for unverified recipients', 'reject_unverified_recipient is not supported');
p('unknown_virtual_alias_reject_code', '550', 'int', 'reply code for unknown virtual alias addresses');
p('unknown_local_recipient_reject_code', '550', 'int', 'reply code for unknown local recipients');
p('unknown_virtual_mailbox_reject_code', '550', 'int', 'reply code for unknown virtual mailbox addresses');
p('unknown_relay_recipient_reject_code', '550', 'int', 'reply code for unknown relay recipients');
p('invalid_hostname_reject_code', '501', 'int', 'reply code for malformed HELO names');
p('non_fqdn_reject_code', '504', 'int', 'reply code for non-FQDN names');
na('plaintext_reject_code', '450', 'int', 'reply code for TLS-required refusals', 'reject_plaintext_session is not supported');

// Local delivery: Postfix's local(8).
p('alias_maps', 'hash:/etc/aliases', 'table-list', 'local alias tables (aliases(5) text for hash-like types)', {
  differs: { postfix: 'hash:/etc/aliases, nis:mail.aliases', why: 'there is no NIS client; the aliases file alone' },
});
p('alias_database', 'hash:/etc/aliases', 'table-list', 'the alias files `postrider newaliases` checks and loads');
p('mail_spool_directory', '/var/mail', 'path', 'the directory of UNIX-style mailboxes (mbox named after the user)');
p('home_mailbox', '', 'string', 'the mailbox relative to the home directory: "Mailbox" (mbox) or "Maildir/"; empty: mail_spool_directory');
p('mailbox_command', '', 'string', 'a command that delivers to the mailbox instead (e.g. procmail), run as the user');
p('mailbox_size_limit', '51200000', 'size', 'the largest mbox file or Maildir message; 0: no limit');
p('forward_path', '$home/.forward${recipient_delimiter}${extension}, $home/.forward', 'list', '.forward files searched, the first that exists is used');
p('allow_mail_to_commands', 'alias, forward', 'list', 'where "|command" deliveries are allowed: alias, forward, include');
p('allow_mail_to_files', 'alias, forward', 'list', 'where "/file" deliveries are allowed: alias, forward, include');
p('default_privs', 'nobody', 'string', 'the user alias commands and files run as (never root)');
p('command_time_limit', '1000s', 'time', 'the longest a delivery command may run');
p('luser_relay', '', 'string', 'where mail for unknown local users goes ($user, $local, $extension, ... expanded); empty: bounce');
p('owner_request_special', 'yes', 'bool', 'owner-name aliases become the envelope sender of list mail; user-request is the list owner\'s address');
p('expand_owner_alias', 'no', 'bool', 'use the value of an owner-name alias as the sender instead of its name');
p('mailbox_delivery_lock', 'fcntl, dotlock', 'list', 'mailbox locks: dotlock (name.lock, made with an exclusive create) is taken; fcntl and flock have no Node interface, so a value must name dotlock');
p('deliver_lock_attempts', '20', 'int', 'attempts to take a mailbox lock');
p('deliver_lock_delay', '1s', 'time', 'the pause between attempts to take a mailbox lock');
p('stale_lock_time', '500s', 'time', 'the age after which a dotlock file is removed as stale');
p('prepend_delivered_header', 'command, file, forward', 'list', 'deliveries that get a Delivered-To: header besides mailboxes: command, file, forward');
p('require_home_directory', 'no', 'bool', 'defer delivery to a user whose home directory does not exist');
p('strict_mailbox_ownership', 'yes', 'bool', 'defer delivery to an mbox file the recipient does not own');
p('export_environment', 'TZ MAIL_CONFIG LANG', 'list', 'environment variables passed to delivery commands (name or name=value)');
p('local_destination_concurrency_limit', '2', 'int', 'parallel deliveries to one local recipient');
p('local_destination_recipient_limit', '1', 'int', 'recipients per local delivery');
const LOCAL_NOT = 'the local delivery agent does not implement it';
refuse('mailbox_transport', '', 'string', 'a transport that delivers mailboxes instead of local(8)', 'mail would be delivered by local(8) instead');
refuse('mailbox_transport_maps', '', 'table-list', 'per-user mailbox transports', 'mail would be delivered by local(8) instead');
refuse('fallback_transport', '', 'string', 'the transport for unknown local users', 'mail for unknown users would bounce instead (luser_relay is supported)');
refuse('fallback_transport_maps', '', 'table-list', 'per-user fallback transports', 'mail for unknown users would bounce instead (luser_relay is supported)');
refuse('mailbox_command_maps', '', 'table-list', 'per-user mailbox commands', 'mailbox_command applies to every user');
refuse('local_command_shell', '', 'string', 'the shell delivery commands run under', 'commands run under /bin/sh -c');
refuse('command_execution_directory', '', 'string', 'the working directory of delivery commands', 'commands run in the user\'s home directory (or /)');
refuse('command_expansion_filter', "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 'string', 'characters allowed in $name expansions of commands', LOCAL_NOT);
refuse('forward_expansion_filter', "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 'string', 'characters allowed in $name expansions of forward_path', LOCAL_NOT);
refuse('local_delivery_status_filter', '', 'table-list', 'rewrites of local delivery status', LOCAL_NOT);
refuse('frozen_delivered_to', 'yes', 'bool', 'Delivered-To: fixed when delivery starts', LOCAL_NOT);

// Postfix parameters Postrider accepts but does not act on.
na('readme_directory', '/usr/share/doc/postfix', 'path', 'README files location');
na('html_directory', '/usr/share/doc/postfix/html', 'path', 'HTML documentation location');
na('manpage_directory', '/usr/share/man', 'path', 'manual pages location');
na('sample_directory', '/etc/postfix', 'path', 'sample configuration files location');
na('command_directory', '/usr/sbin', 'path', 'administrative commands location');
na('daemon_directory', '/usr/lib/postfix/sbin', 'path', 'daemon programs location');
na('data_directory', '/var/lib/postfix', 'path', 'writable data files location');
na('meta_directory', '/etc/postfix', 'path', 'non-executable shared files location');
na('shlib_directory', '/usr/lib/postfix', 'path', 'shared libraries location');
na('config_directory', '/etc/postfix', 'path', 'the configuration directory (set by -c)', 'set by -c or $POSTRIDER_CONFIG, not by main.cf; `postrider config config_directory` shows the directory in use');
na('sendmail_path', '/usr/sbin/sendmail', 'path', 'sendmail command path');
na('newaliases_path', '/usr/bin/newaliases', 'path', 'newaliases command path');
na('mailq_path', '/usr/bin/mailq', 'path', 'mailq command path');
na('mail_owner', 'postfix', 'string', 'owner of the queue and daemon processes');
na('setgid_group', 'postdrop', 'string', 'group of the mail submission programs');
na('biff', 'yes', 'bool', 'comsat notifications of new mail', 'the local delivery agent sends no comsat notifications');
// Milters (Postfix's MILTER_README): the Sendmail 8 protocol up to version 6.
p('smtpd_milters', '', 'list', 'Milter applications for SMTP mail');
p('non_smtpd_milters', '', 'list', 'Milter applications for non-SMTP mail (sendmail, pickup)');
p('milter_protocol', '6', 'string', 'the Sendmail milter protocol version offered');
p('milter_default_action', 'tempfail', 'string', 'what happens to mail when a milter is down or fails (accept, reject, tempfail, quarantine)');
p('milter_connect_timeout', '30s', 'time', 'time limit to connect to a milter and negotiate');
p('milter_command_timeout', '30s', 'time', 'time limit for a milter to answer an SMTP command event');
p('milter_content_timeout', '300s', 'time', 'time limit for a milter to answer a content event (header, body, end of message)');
p('milter_connect_macros', 'j {daemon_name} {daemon_addr} v _', 'list', 'macros sent to milters at connect');
p('milter_helo_macros', '{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}', 'list', 'macros sent to milters at HELO/EHLO');
p('milter_mail_macros', 'i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}', 'list', 'macros sent to milters at MAIL FROM');
p('milter_rcpt_macros', 'i {rcpt_addr} {rcpt_host} {rcpt_mailer}', 'list', 'macros sent to milters at RCPT TO');
p('milter_data_macros', 'i', 'list', 'macros sent to milters at DATA');
p('milter_end_of_header_macros', 'i', 'list', 'macros sent to milters at the end of the header');
p('milter_end_of_data_macros', 'i', 'list', 'macros sent to milters at the end of the message');
p('milter_unknown_command_macros', '', 'list', 'macros sent to milters with an unknown SMTP command');
p('milter_macro_daemon_name', '$myhostname', 'string', 'the milter {daemon_name} macro');
p('milter_macro_v', '$mail_name $mail_version', 'string', 'the milter v macro', {
  differs: { postfix: 'Postfix 3.7.11', why: 'the same text ($mail_name $mail_version): this mail system is Postrider' },
});
refuse('milter_macro_defaults', '', 'string', 'default values of milter macros', 'milters would not get these macro values');
refuse('milter_header_checks', '', 'table-list', 'header checks on headers that milters add', 'milter-added headers would not be checked');
refuse('smtpd_milter_maps', '', 'table-list', 'per-client smtpd_milters', 'every client would get smtpd_milters');
p('smtp_tls_CApath', '', 'path', 'directory of CA certificates for the SMTP client (*.pem, *.crt and hash links)');
na('smtpd_tls_CApath', '', 'path', 'directory of CA certificates for the SMTP server', 'smtpd does not ask for client certificates');
na('smtp_tls_session_cache_database', '', 'string', 'SMTP client TLS session cache', 'TLS sessions are not cached');
na('smtpd_tls_session_cache_database', '', 'string', 'SMTP server TLS session cache', 'TLS sessions are not cached');
na('smtpd_tls_session_cache_timeout', '3600s', 'time', 'SMTP server TLS session cache lifetime', 'TLS sessions are not cached');
na('smtpd_sasl_type', 'cyrus', 'string', 'SASL plug-in type', 'smtpd checks AUTH against smtpd_sasl_password_maps');
na('smtpd_sasl_path', 'smtpd', 'string', 'SASL plug-in path', 'smtpd checks AUTH against smtpd_sasl_password_maps');
refuse('smtpd_proxy_filter', '', 'string', 'before-queue content filter', 'mail would not be filtered');
na('smtp_tls_note_starttls_offer', 'no', 'bool', 'log servers offering STARTTLS', 'nothing more is logged');
na('tls_random_source', 'dev:/dev/urandom', 'string', 'TLS entropy source');
na('multi_instance_name', '', 'string', 'multi-instance name', 'there are no multiple instances');
na('multi_instance_enable', 'no', 'bool', 'multi-instance support', 'there are no multiple instances');
na('multi_instance_directories', '', 'list', 'multi-instance configuration directories', 'there are no multiple instances');
na('postscreen_access_list', 'permit_mynetworks', 'list', 'postscreen access list', 'there is no postscreen');
na('postscreen_dnsbl_sites', '', 'list', 'postscreen DNSBL sites', 'there is no postscreen');
na('smtpd_sasl_local_domain', '', 'string', 'SASL realm', 'smtpd checks AUTH against smtpd_sasl_password_maps');
na('broken_sasl_auth_clients', 'no', 'bool', 'announce AUTH the broken way as well', 'AUTH is announced the standard way only');
na('smtp_sasl_security_options', 'noplaintext, noanonymous', 'list', 'SMTP client SASL options', 'the client does not authenticate');
p('smtp_tls_mandatory_protocols', '>=TLSv1', 'list', 'SMTP client TLS protocols at encrypt and above (never older than TLS 1.2)');
p('smtp_tls_protocols', '>=TLSv1', 'list', 'SMTP client TLS protocols with opportunistic TLS (never older than TLS 1.2)');
na('smtpd_tls_mandatory_ciphers', 'medium', 'string', 'SMTP server mandatory TLS ciphers', 'Node\'s default cipher list is used');
p('smtp_tls_mandatory_ciphers', 'medium', 'string', 'SMTP client cipher grade at encrypt and above (export, low, medium, high, null)');
na('smtpd_tls_dh1024_param_file', '', 'path', 'DH parameters', 'Node\'s built-in groups are used');
na('debug_peer_list', '', 'host-list', 'clients logged in detail', 'nothing more is logged');
na('debug_peer_level', '2', 'int', 'detail level for debug_peer_list', 'nothing more is logged');
p('fast_flush_domains', '$relay_domains', 'domain-list', 'destinations whose deferred mail ETRN may flush (others get 459)');
na('permit_mx_backup_networks', '', 'host-list', 'networks for permit_mx_backup', 'permit_mx_backup is not supported');
na('qmqpd_authorized_clients', '', 'host-list', 'QMQP clients', 'there is no QMQP server');
na('lmtp_tls_security_level', '', 'string', 'LMTP client TLS level', 'there is no LMTP client');
na('maillog_file_prefixes', '/var, /dev/stdout', 'list', 'allowed maillog_file prefixes');
na('import_environment', 'MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME', 'list', 'environment passed to child processes', 'Postrider runs no external commands');

/** Every known parameter (read-only). */
export const PARAMETERS: Readonly<Record<string, ParameterInfo>> = T;

/**
 * Per-transport parameters ("<transport>_destination_concurrency_limit"):
 * the suffix, what Postrider does with it, and its kind. The queue manager
 * reads the effective ones for every master.cf transport (qmgr-params);
 * a rate delay is refused; the others are scheduler tuning it does not do.
 */
const PER_TRANSPORT: Record<string, { effect: ParameterEffect; kind: ParameterKind; why?: string }> = {
  destination_concurrency_limit: { effect: 'effective', kind: 'int' },
  destination_recipient_limit: { effect: 'effective', kind: 'int' },
  process_limit: { effect: 'effective', kind: 'int' },
  destination_rate_delay: { effect: 'refused', kind: 'time', why: 'deliveries would not be paced' },
  initial_destination_concurrency: { effect: 'cosmetic', kind: 'int', why: 'initial_destination_concurrency applies to every transport' },
  destination_concurrency_failed_cohort_limit: { effect: 'cosmetic', kind: 'int', why: 'default_destination_concurrency_failed_cohort_limit applies to every transport' },
  destination_concurrency_negative_feedback: { effect: 'cosmetic', kind: 'string', why: 'the concurrency feedback is fixed' },
  destination_concurrency_positive_feedback: { effect: 'cosmetic', kind: 'string', why: 'the concurrency feedback is fixed' },
  extra_recipient_limit: { effect: 'cosmetic', kind: 'int', why: 'the queue manager keeps every recipient of an active message' },
  recipient_limit: { effect: 'cosmetic', kind: 'int', why: 'the queue manager keeps every recipient of an active message' },
  recipient_refill_limit: { effect: 'cosmetic', kind: 'int', why: 'the queue manager keeps every recipient of an active message' },
  recipient_refill_delay: { effect: 'cosmetic', kind: 'time', why: 'the queue manager keeps every recipient of an active message' },
  delivery_slot_cost: { effect: 'cosmetic', kind: 'int', why: 'the queue manager does not preempt' },
  delivery_slot_discount: { effect: 'cosmetic', kind: 'int', why: 'the queue manager does not preempt' },
  delivery_slot_loan: { effect: 'cosmetic', kind: 'int', why: 'the queue manager does not preempt' },
  minimum_delivery_slots: { effect: 'cosmetic', kind: 'int', why: 'the queue manager does not preempt' },
  time_limit: { effect: 'cosmetic', kind: 'time', why: 'deliveries are limited by the agents\' own timeouts' },
};
const PER_TRANSPORT_RE = new RegExp(`^[a-z0-9-]+_(${Object.keys(PER_TRANSPORT).sort((a, b) => b.length - a.length).join('|')})$`);

/** The table entry of a parameter, or undefined for names Postrider does not know. */
export function parameterInfo(name: string): ParameterInfo | undefined {
  return Object.prototype.hasOwnProperty.call(T, name) ? T[name] : undefined;
}

/**
 * True for names Postfix derives per transport or client (e.g.
 * "relay_destination_concurrency_limit") and for the lmtp_ twins of smtp_
 * parameters: they are known, never "unused".
 */
export function isDynamicParameter(name: string): boolean {
  if (PER_TRANSPORT_RE.test(name)) return true;
  if (name.startsWith('lmtp_') && parameterInfo('smtp_' + name.slice(5))) return true;
  return false;
}

/**
 * What Postrider does with a name known from the table or derived per
 * transport: the table's entry, or one made for a per-transport name
 * (default: the empty value, meaning "the global one"); lmtp_ names are
 * cosmetic (there is no LMTP client). Undefined for unknown names.
 */
export function effectOf(name: string): ParameterInfo | undefined {
  const info = parameterInfo(name);
  if (info) return info;
  const m = PER_TRANSPORT_RE.exec(name);
  if (m) {
    const t = PER_TRANSPORT[m[1]];
    return { default: '', kind: t.kind, summary: `per-transport ${m[1]}`, effect: t.effect, why: t.why };
  }
  if (isDynamicParameter(name)) return { default: '', kind: 'string', summary: 'LMTP client', effect: 'cosmetic', why: 'there is no LMTP client' };
  return undefined;
}

/**
 * True when `value` (expanded) says the same as the parameter's default:
 * the same text, or for typed kinds the same number, time, boolean or list.
 */
export function sameAsDefault(info: Pick<ParameterInfo, 'default' | 'kind' | 'timeUnit'>, value: string): boolean {
  const v = value.trim();
  const d = info.default.trim();
  if (v === d) return true;
  switch (info.kind) {
    case 'bool':
      return boolWord(v) !== undefined && boolWord(v) === boolWord(d || 'no');
    case 'int':
    case 'size':
      return /^-?\d+$/.test(v) && /^-?\d+$/.test(d || '0') && Number(v) === Number(d || '0');
    case 'time': {
      const a = seconds(v, info.timeUnit ?? 's');
      return a !== undefined && a === seconds(d || '0', info.timeUnit ?? 's');
    }
    case 'string':
    case 'path':
      return false;
    default:
      return listWords(v) === listWords(d);
  }
}

function boolWord(v: string): boolean | undefined {
  const w = v.toLowerCase();
  if (['yes', 'true', 'on', '1'].includes(w)) return true;
  if (['no', 'false', 'off', '0', ''].includes(w)) return false;
  return undefined;
}

function seconds(v: string, unit: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|[smhdw])?$/.exec(v);
  if (!m) return undefined;
  const per: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  return Number(m[1]) * per[m[2] ?? unit];
}

function listWords(v: string): string {
  return v.split(/[\s,]+/).filter(Boolean).join(' ');
}

/** The host-dependent defaults: myhostname, mydomain, mynetworks. */
export function computedDefaults(host = osHostname()): Record<string, string> {
  const h = host.toLowerCase() || 'localhost';
  const myhostname = h.includes('.') ? h : `${h}.localdomain`;
  const dot = myhostname.indexOf('.');
  const parent = myhostname.slice(dot + 1);
  const mydomain = parent.includes('.') || parent === 'localdomain' ? parent : 'localdomain';
  return {
    myhostname,
    mydomain,
    // mynetworks_style=host in Postfix 3.x; loopback only, plus IPv4-mapped loopback for dual-stack sockets.
    mynetworks: '127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128',
  };
}

/**
 * mynetworks as Postfix computes it when main.cf does not set it, from
 * mynetworks_style: "host" trusts this machine (loopback; Postrider's
 * default), "subnet" every network this host has an interface in, "class"
 * the whole class A, B or C network of each IPv4 interface (IPv6 ones as
 * subnet). Unknown styles read as "host".
 */
export function mynetworksForStyle(style: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string {
  const s = style.trim().toLowerCase();
  const host = computedDefaults('localhost').mynetworks;
  if (s !== 'subnet' && s !== 'class') return host;
  const nets: string[] = [];
  for (const list of Object.values(interfaces)) {
    for (const ni of list ?? []) {
      const ip = parseIp(ni.address);
      const cidrPrefix = Number((ni.cidr ?? '').split('/')[1]);
      if (!ip || !Number.isInteger(cidrPrefix)) continue;
      const bits = ip.family === 4 ? 32 : 128;
      let prefix = cidrPrefix;
      if (s === 'class' && ip.family === 4) {
        const first = Number(ip.value >> 24n);
        prefix = first < 128 ? 8 : first < 192 ? 16 : first < 224 ? 24 : cidrPrefix;
      }
      const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - prefix)) - 1n);
      const text = formatIp({ family: ip.family, value: ip.value & mask });
      const net = ip.family === 4 ? `${text}/${prefix}` : `[${text}]/${prefix}`;
      if (!nets.includes(net)) nets.push(net);
    }
  }
  return nets.length > 0 ? nets.join(' ') : host;
}

/** Every parameter's default text (computed defaults filled in). */
export function defaultValues(host?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, info] of Object.entries(T)) out[name] = info.default;
  Object.assign(out, computedDefaults(host));
  return out;
}
