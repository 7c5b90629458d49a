/**
 * parameters: the table of main.cf parameters Postrider knows. Each entry has
 * Postfix's default text (with $name references as Postfix writes them), a
 * kind used by the checker, a one-line summary, and whether Postrider acts on
 * it ("accepted, no effect" entries are Postfix parameters that load without
 * a warning but change nothing). Pure data and pure functions; nothing throws.
 */
import { hostname as osHostname } from 'node:os';

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

/** One known parameter. */
export interface ParameterInfo {
  /** Postfix's default text; computed defaults (myhostname, ...) hold ''. */
  default: string;
  kind: ParameterKind;
  summary: string;
  /** false: Postfix's parameter, accepted without a warning but Postrider does not act on it. */
  effect: boolean;
  /** Default unit of a bare number, for 'time' parameters ('s' unless told). */
  timeUnit?: string;
  /** The default is computed from the host (see computedDefaults). */
  computed?: boolean;
}

const T: Record<string, ParameterInfo> = {};

function p(name: string, def: string, kind: ParameterKind, summary: string, extra: Partial<ParameterInfo> = {}): void {
  T[name] = { default: def, kind, summary, effect: true, ...extra };
}

/** Accepted, no effect. */
function na(name: string, def: string, kind: ParameterKind, summary: string): void {
  p(name, def, kind, summary, { effect: false });
}

// Identity and addresses.
p('myhostname', '', 'string', 'the internet hostname of this mail system', { computed: true });
p('mydomain', '', 'string', 'the internet domain name of this mail system', { computed: true });
p('myorigin', '$myhostname', 'string', 'the domain that locally-posted mail appears to come from');
p('mydestination', '$myhostname, localhost.$mydomain, localhost', 'domain-list', 'domains delivered locally');
p('relay_domains', '', 'domain-list', 'destination domains this system relays mail to');
p('mynetworks', '', 'host-list', 'trusted remote SMTP clients', { computed: true });
p('mynetworks_style', 'host', 'string', 'how mynetworks is computed when not set (host, subnet, class)');
p('relayhost', '', 'string', 'the next-hop destination of non-local mail ([host]:port form)');
p('inet_interfaces', 'all', 'list', 'network interface addresses this mail system receives mail on');
p('proxy_interfaces', '', 'list', 'addresses this mail system receives mail on through a proxy or NAT');
p('inet_protocols', 'all', 'list', 'the internet protocols to use (ipv4, ipv6, all)');
p('mail_name', 'Postrider', 'string', 'the mail system name shown in the SMTP greeting');
p('mail_version', '0.1.0', 'string', 'the version of the mail system');
p('append_dot_mydomain', 'no', 'bool', 'append .$mydomain to addresses that have no .domain');
p('recipient_delimiter', '', 'string', 'the separator between user names and address extensions');
p('append_at_myorigin', 'yes', 'bool', 'append @$myorigin to addresses that have no domain');
p('propagate_unmatched_extensions', 'canonical, virtual', 'list', 'address mappings that keep an unmatched address extension');
p('parent_domain_matches_subdomains',
  'debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps',
  'list', 'features where a domain name also matches its subdomains');
p('compatibility_level', '0', 'string', 'backwards-compatible default settings level');
p('soft_bounce', 'no', 'bool', 'turn hard rejects and bounces into soft ones (safety net)');

// Queue, files, logging.
p('queue_directory', '/var/spool/postrider', 'path', 'the queue directory (relative to the configuration directory when not absolute)');
p('maillog_file', '', 'path', 'log file; empty logs to standard output');
p('syslog_name', 'postrider', 'string', 'the prefix of every log line');
p('minimal_backoff_time', '300s', 'time', 'the shortest time between delivery attempts of a deferred message');
p('maximal_backoff_time', '4000s', 'time', 'the longest time between delivery attempts of a deferred message');
p('queue_run_delay', '300s', 'time', 'how often the deferred queue is scanned');
p('maximal_queue_lifetime', '5d', 'time', 'how long a message may stay queued before it is bounced', { timeUnit: 'd' });
p('bounce_queue_lifetime', '5d', 'time', 'how long a bounce message may stay queued', { timeUnit: 'd' });
p('delay_warning_time', '0h', 'time', 'when to warn the sender about delayed mail (0 = never)', { timeUnit: 'h' });
p('qmgr_message_active_limit', '20000', 'int', 'the most messages in the active queue');
p('qmgr_message_recipient_limit', '20000', 'int', 'the most recipients held in memory by the queue manager');
p('queue_minfree', '0', 'size', 'the least free space in bytes before mail is refused');
p('hopcount_limit', '50', 'int', 'the most Received: headers a message may carry');
p('notify_classes', 'resource, software', 'list', 'the problem classes reported to the postmaster');
p('bounce_notice_recipient', 'postmaster', 'string', 'who gets postmaster copies of bounce notices');
p('2bounce_notice_recipient', 'postmaster', 'string', 'who gets undeliverable bounce notices');
p('delay_notice_recipient', 'postmaster', 'string', 'who gets postmaster copies of delay notices');
p('error_notice_recipient', 'postmaster', 'string', 'who gets notices of software and resource problems');
p('double_bounce_sender', 'double-bounce', 'string', 'the sender of postmaster notifications; mail to it is discarded');
p('empty_address_recipient', 'MAILER-DAEMON', 'string', 'the recipient of mail addressed to the null address');
p('bounce_size_limit', '50000', 'size', 'the most original message text returned in a bounce');
p('message_size_limit', '10240000', 'size', 'the largest message in bytes (envelope and header included)');
p('line_length_limit', '2048', 'int', 'the longest line kept whole; longer lines are broken');
p('header_size_limit', '102400', 'size', 'the largest message header kept');
p('debug_fault_injection', 'no', 'bool', 'Postrider: enable fault-injection hooks for tests');
p('metrics_listen', '', 'string', 'Postrider: address:port of the Prometheus metrics listener; empty = off');
p('supervisor_restart_limit', '10', 'int', 'Postrider: restarts allowed within supervisor_restart_window before the tree stops');
p('supervisor_drain_timeout', '30s', 'time', 'Postrider: how long actors taken out of service by reload or stop may finish their work; then idle sessions get 421');
p('supervisor_restart_window', '60s', 'time', 'Postrider: the window of the restart intensity limit');
p('dns_resolver_servers', '', 'list', 'Postrider: DNS servers (address[:port]) smtpd and smtp ask; empty = system resolver');
p('disable_dns_lookups', 'no', 'bool', 'disable DNS lookups by the SMTP client and server');
p('smtputf8_enable', 'yes', 'bool', 'enable SMTPUTF8 support');
p('service_name', '', 'string', 'the master.cf service name of the running process (set per service)');
p('process_name', '', 'string', 'the program name of the running process (set per service)');
p('stress', '', 'string', 'set to yes when the system is overloaded');
p('content_filter', '', 'string', 'after-queue content filter transport:destination');

// Content checks and address rewriting.
p('header_checks', '', 'table-list', 'header lookup tables (Postfix header_checks(5))');
p('mime_header_checks', '$header_checks', 'table-list', 'MIME header lookup tables');
p('nested_header_checks', '$header_checks', 'table-list', 'attached message header lookup tables');
p('body_checks', '', 'table-list', 'body line lookup tables');
p('body_checks_size_limit', '51200', 'int', 'bytes of each message part that body_checks see');
p('local_header_rewrite_clients', 'permit_inet_interfaces', 'list', 'clients whose missing From, Date and Message-ID headers are added');
p('always_add_missing_headers', 'no', 'bool', 'add missing From, Date and Message-ID headers for every client');
p('canonical_maps', '', 'table-list', 'canonical address mapping for sender and recipient');
p('sender_canonical_maps', '', 'table-list', 'canonical address mapping for senders');
p('recipient_canonical_maps', '', 'table-list', 'canonical address mapping for recipients');
p('virtual_maps', '', 'table-list', 'legacy name of virtual_alias_maps');
p('virtual_alias_maps', '$virtual_maps', 'table-list', 'virtual alias tables: address -> addresses');
p('virtual_alias_domains', '$virtual_alias_maps', 'domain-list', 'virtual alias domains');
p('virtual_alias_recursion_limit', '1000', 'int', 'the deepest virtual alias expansion');
p('virtual_alias_expansion_limit', '1000', 'int', 'the most addresses one virtual alias expands to');
p('virtual_mailbox_domains', '$virtual_mailbox_maps', 'domain-list', 'domains delivered by the virtual transport');
p('virtual_mailbox_maps', '', 'table-list', 'virtual mailbox tables: address -> mailbox path');
p('virtual_mailbox_base', '', 'path', 'the directory prefix of every virtual mailbox path');
p('virtual_mailbox_limit', '51200000', 'size', 'the largest virtual mailbox file');
p('virtual_minimum_uid', '100', 'int', 'the smallest uid the virtual agent accepts');
p('virtual_uid_maps', '', 'table-list', 'virtual mailbox owner uids');
p('virtual_gid_maps', '', 'table-list', 'virtual mailbox owner gids');
p('transport_maps', '', 'table-list', 'tables: recipient or domain -> transport:nexthop');
p('default_transport', 'smtp', 'string', 'the transport for domains that are not local, virtual or relay');
p('relay_transport', 'relay', 'string', 'the transport for relay_domains');
p('local_transport', 'local:$myhostname', 'string', 'the transport for mydestination (Postrider has no local delivery)');
p('virtual_transport', 'virtual', 'string', 'the transport for virtual_mailbox_domains');
p('error_transport', 'error', 'string', 'the transport for reject-always destinations');
p('show_user_unknown_table_name', 'yes', 'bool', 'name the table in "user unknown" replies');

// Delivery scheduling.
p('default_destination_concurrency_limit', '20', 'int', 'the most parallel deliveries to one destination');
p('destination_concurrency_failed_cohort_limit', '1', 'int', 'failed connection cohorts before a destination is declared dead');
p('initial_destination_concurrency', '5', 'int', 'the initial parallel deliveries to one destination');
p('default_destination_recipient_limit', '50', 'int', 'the most recipients per delivery');
p('default_destination_rate_delay', '0s', 'time', 'the pause between deliveries to one destination');
p('default_process_limit', '100', 'int', 'the default maxproc of master.cf services');
p('default_delivery_slot_cost', '5', 'int', 'queue manager preemption cost');

// SMTP server.
p('smtpd_banner', '$myhostname ESMTP $mail_name', 'string', 'the text after 220 in the greeting');
p('smtpd_client_restrictions', '', 'restrictions', 'restrictions at connect time');
p('smtpd_helo_restrictions', '', 'restrictions', 'restrictions at HELO/EHLO');
p('smtpd_sender_restrictions', '', 'restrictions', 'restrictions at MAIL FROM');
p('smtpd_relay_restrictions', 'permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination', 'restrictions', 'relay control at RCPT TO');
p('smtpd_recipient_restrictions', '', 'restrictions', 'spam restrictions at RCPT TO');
p('smtpd_data_restrictions', '', 'restrictions', 'restrictions at DATA');
p('smtpd_end_of_data_restrictions', '', 'restrictions', 'restrictions after the end of DATA');
p('smtpd_etrn_restrictions', '', 'restrictions', 'restrictions at ETRN');
p('smtpd_restriction_classes', '', 'list', 'user-defined restriction class names');
p('smtpd_delay_reject', 'yes', 'bool', 'wait until RCPT TO before applying client, helo and sender restrictions');
p('smtpd_helo_required', 'no', 'bool', 'require HELO or EHLO before MAIL FROM');
p('smtpd_null_access_lookup_key', '<>', 'string', 'the lookup key for the null sender address');
p('smtpd_reject_unlisted_sender', 'no', 'bool', 'reject unknown sender addresses in local and virtual domains');
p('smtpd_reject_unlisted_recipient', 'yes', 'bool', 'reject unknown recipient addresses in local and virtual domains');
p('strict_rfc821_envelopes', 'no', 'bool', 'require <> around MAIL FROM and RCPT TO addresses');
p('smtpd_recipient_limit', '1000', 'int', 'the most recipients per message');
p('smtpd_timeout', '${stress?{10}:{300}}s', 'time', 'the SMTP server read and write timeout');
p('smtpd_soft_error_limit', '10', 'int', 'errors before the server sleeps before each reply');
p('smtpd_hard_error_limit', '${stress?{1}:{20}}', 'int', 'errors before the server disconnects');
p('smtpd_error_sleep_time', '1s', 'time', 'the delay before each reply once the soft limit is reached');
p('smtpd_junk_command_limit', '${stress?{1}:{100}}', 'int', 'NOOP/VRFY/ETRN/RSET commands before they count as errors');
p('smtpd_client_connection_count_limit', '50', 'int', 'the most simultaneous connections from one client');
p('smtpd_client_connection_rate_limit', '0', 'int', 'the most connections per time unit from one client (0 = no limit)');
p('smtpd_client_message_rate_limit', '0', 'int', 'the most messages per time unit from one client');
p('smtpd_client_recipient_rate_limit', '0', 'int', 'the most recipients per time unit from one client');
p('smtpd_client_event_limit_exceptions', '$mynetworks', 'host-list', 'clients exempt from the rate and count limits');
p('anvil_rate_time_unit', '60s', 'time', 'the time unit of the client rate limits');
p('smtpd_sasl_auth_enable', 'no', 'bool', 'offer SMTP AUTH');
p('smtpd_sasl_password_maps', '', 'table-list', 'Postrider: AUTH user -> scrypt password hash');
p('smtpd_sasl_security_options', 'noanonymous', 'list', 'SASL mechanism restrictions');
p('smtpd_sasl_authenticated_header', 'no', 'bool', 'record the AUTH user name in the Received: header');
p('smtpd_greet_wait', '0s', 'time', 'Postrider: the delay before the 220 greeting');
p('smtpd_client_port_logging', 'no', 'bool', 'log the client port with the client address');
p('smtpd_forbid_bare_newline', 'normalize', 'string', 'bare <LF> handling: normalize (only <CR><LF>.<CR><LF> ends DATA), yes, reject, no');
p('smtpd_forbid_bare_newline_exclusions', '$mynetworks', 'host-list', 'clients exempt from smtpd_forbid_bare_newline');
p('smtpd_forbid_unauth_pipelining', 'yes', 'bool', 'disconnect clients that pipeline before the greeting or without PIPELINING');
p('smtpd_tls_cert_file', '', 'path', 'the SMTP server certificate (PEM)');
p('smtpd_tls_key_file', '$smtpd_tls_cert_file', 'path', 'the SMTP server private key (PEM)');
p('smtpd_tls_CAfile', '', 'path', 'CA certificates for client certificates');
p('smtpd_tls_security_level', '', 'string', 'SMTP server TLS level: none, may, encrypt');
p('smtpd_tls_auth_only', 'yes', 'bool', 'offer AUTH only over TLS (Postrider default yes; Postfix no)');
p('smtpd_tls_wrappermode', 'no', 'bool', 'TLS from the first byte (submissions, port 465)');
p('smtpd_tls_loglevel', '0', 'int', 'SMTP server TLS log detail');
p('smtpd_tls_received_header', 'no', 'bool', 'record TLS details in the Received: header');
p('smtpd_tls_protocols', '!SSLv2, !SSLv3', 'list', 'TLS protocols the server accepts with opportunistic TLS');
p('smtpd_tls_mandatory_protocols', '!SSLv2, !SSLv3', 'list', 'TLS protocols the server accepts with mandatory TLS');
p('smtpd_authorized_xclient_hosts', '', 'host-list', 'clients allowed to use XCLIENT');

// SMTP client.
p('smtp_connect_timeout', '30s', 'time', 'the TCP connect timeout');
p('smtp_helo_timeout', '300s', 'time', 'the timeout for the greeting and HELO reply');
p('smtp_mail_timeout', '300s', 'time', 'the timeout for the MAIL FROM reply');
p('smtp_rcpt_timeout', '300s', 'time', 'the timeout for the RCPT TO reply');
p('smtp_data_init_timeout', '120s', 'time', 'the timeout for the DATA reply');
p('smtp_data_xfer_timeout', '180s', 'time', 'the timeout while sending message content');
p('smtp_data_done_timeout', '600s', 'time', 'the timeout for the reply after the final dot');
p('smtp_quit_timeout', '300s', 'time', 'the timeout for the QUIT reply');
p('smtp_rset_timeout', '20s', 'time', 'the timeout for the RSET reply');
p('smtp_helo_name', '$myhostname', 'string', 'the name sent in HELO/EHLO');
p('smtp_connection_cache_on_demand', 'yes', 'bool', 'keep connections open to destinations with a backlog');
p('smtp_connection_cache_time_limit', '2s', 'time', 'how long an unused cached connection stays open');
p('smtp_connection_reuse_count_limit', '0', 'int', 'the most times a connection is reused (0 = no limit)');
p('smtp_connection_reuse_time_limit', '300s', 'time', 'how long a connection may be reused');
p('smtp_tls_security_level', '', 'string', 'SMTP client TLS level: none, may, encrypt, verify, secure');
p('smtp_tls_cert_file', '', 'path', 'the SMTP client certificate (PEM)');
p('smtp_tls_key_file', '$smtp_tls_cert_file', 'path', 'the SMTP client private key (PEM)');
p('smtp_tls_CAfile', '', 'path', 'CA certificates to verify servers');
p('smtp_tls_loglevel', '0', 'int', 'SMTP client TLS log detail');
p('smtp_bind_address', '', 'string', 'the local IPv4 address of outgoing connections');
p('smtp_bind_address6', '', 'string', 'the local IPv6 address of outgoing connections');
p('smtp_host_lookup', 'dns', 'list', 'how to look up hosts: dns, native');
p('smtp_skip_5xx_greeting', 'yes', 'bool', 'skip to the next MX on a 5xx greeting');
p('smtp_sasl_auth_enable', 'no', 'bool', 'SMTP client AUTH');
p('smtp_sasl_password_maps', '', 'table-list', 'SMTP client AUTH credentials by destination');
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
p('unknown_client_reject_code', '450', 'int', 'reply code for clients without a name');
p('unknown_hostname_reject_code', '450', 'int', 'reply code for HELO names without DNS');
p('unverified_recipient_reject_code', '450', 'int', 'reply code for unverified recipients');
p('unknown_virtual_alias_reject_code', '550', 'int', 'reply code for unknown virtual alias addresses');
p('unknown_virtual_mailbox_reject_code', '550', 'int', 'reply code for unknown virtual mailbox addresses');
p('unknown_relay_recipient_reject_code', '550', 'int', 'reply code for unknown relay recipients');
p('invalid_hostname_reject_code', '501', 'int', 'reply code for malformed HELO names');
p('non_fqdn_reject_code', '504', 'int', 'reply code for non-FQDN names');
p('message_reject_code', '550', 'int', 'reply code (unused here)');
p('plaintext_reject_code', '450', 'int', 'reply code for TLS-required refusals');

// Postfix parameters Postrider accepts but does not act on.
na('alias_maps', 'hash:/etc/aliases, nis:mail.aliases', 'table-list', 'local alias tables (no local delivery in Postrider)');
na('alias_database', 'hash:/etc/aliases', 'table-list', 'alias databases built by newaliases');
na('readme_directory', 'no', 'path', 'README files location');
na('html_directory', 'no', 'path', 'HTML documentation location');
na('manpage_directory', '/usr/local/man', 'path', 'manual pages location');
na('sample_directory', '/etc/postfix', 'path', 'sample configuration files location');
na('command_directory', '/usr/sbin', 'path', 'administrative commands location');
na('daemon_directory', '/usr/libexec/postfix', 'path', 'daemon programs location');
na('data_directory', '/var/lib/postfix', 'path', 'writable data files location');
na('meta_directory', '/etc/postfix', 'path', 'non-executable shared files location');
na('shlib_directory', 'no', 'path', 'shared libraries location');
na('config_directory', '/etc/postfix', 'path', 'the configuration directory (set by -c)');
na('mail_spool_directory', '/var/mail', 'path', 'UNIX-style mailboxes');
na('sendmail_path', '/usr/sbin/sendmail', 'path', 'sendmail command path');
na('newaliases_path', '/usr/bin/newaliases', 'path', 'newaliases command path');
na('mailq_path', '/usr/bin/mailq', 'path', 'mailq command path');
na('mail_owner', 'postfix', 'string', 'owner of the queue and daemon processes');
na('setgid_group', 'postdrop', 'string', 'group of the mail submission programs');
na('default_privs', 'nobody', 'string', 'rights of the local delivery agent for external files');
na('biff', 'yes', 'bool', 'comsat notifications of new mail');
na('mailbox_size_limit', '51200000', 'size', 'the largest local mailbox file');
na('mailbox_command', '', 'string', 'local delivery command');
na('home_mailbox', '', 'string', 'local mailbox relative to the home directory');
na('local_recipient_maps', 'proxy:unix:passwd.byname $alias_maps', 'table-list', 'local recipient lookup tables');
na('unknown_local_recipient_reject_code', '550', 'int', 'reply code for unknown local recipients');
na('relay_recipient_maps', '', 'table-list', 'valid recipients in relay_domains');
na('milter_macro_daemon_name', '$myhostname', 'string', 'milter {daemon_name} macro');
na('smtpd_milters', '', 'list', 'Milter applications for SMTP mail');
na('non_smtpd_milters', '', 'list', 'Milter applications for non-SMTP mail');
na('smtp_tls_CApath', '', 'path', 'directory of CA certificates for the SMTP client');
na('smtpd_tls_CApath', '', 'path', 'directory of CA certificates for the SMTP server');
na('smtp_tls_session_cache_database', '', 'string', 'SMTP client TLS session cache');
na('smtpd_tls_session_cache_database', '', 'string', 'SMTP server TLS session cache');
na('smtpd_tls_session_cache_timeout', '3600s', 'time', 'SMTP server TLS session cache lifetime');
na('smtpd_sasl_type', 'cyrus', 'string', 'SASL plug-in type');
na('smtpd_sasl_path', 'smtpd', 'string', 'SASL plug-in path');
na('smtpd_proxy_filter', '', 'string', 'before-queue content filter');
na('smtp_tls_note_starttls_offer', 'no', 'bool', 'log servers offering STARTTLS');
na('tls_random_source', 'dev:/dev/urandom', 'string', 'TLS entropy source');
na('inet_interfaces_override', '', 'string', 'unused');
na('multi_instance_name', '', 'string', 'multi-instance name');
na('multi_instance_enable', 'no', 'bool', 'multi-instance support');
na('multi_instance_directories', '', 'list', 'multi-instance configuration directories');
na('postscreen_access_list', 'permit_mynetworks', 'list', 'postscreen access list');
na('postscreen_dnsbl_sites', '', 'list', 'postscreen DNSBL sites');
na('smtpd_sasl_local_domain', '', 'string', 'SASL realm');
na('broken_sasl_auth_clients', 'no', 'bool', 'announce AUTH the broken way as well');
na('smtp_sasl_security_options', 'noplaintext, noanonymous', 'list', 'SMTP client SASL options');
na('smtp_tls_mandatory_protocols', '!SSLv2, !SSLv3', 'list', 'SMTP client mandatory TLS protocols');
na('smtp_tls_protocols', '!SSLv2, !SSLv3', 'list', 'SMTP client opportunistic TLS protocols');
na('smtpd_tls_mandatory_ciphers', 'medium', 'string', 'SMTP server mandatory TLS ciphers');
na('smtp_tls_mandatory_ciphers', 'medium', 'string', 'SMTP client mandatory TLS ciphers');
na('smtpd_tls_dh1024_param_file', '', 'path', 'DH parameters');
na('debug_peer_list', '', 'host-list', 'clients logged in detail');
na('debug_peer_level', '2', 'int', 'detail level for debug_peer_list');
na('fast_flush_domains', '$relay_domains', 'domain-list', 'destinations eligible for ETRN');
na('permit_mx_backup_networks', '', 'host-list', 'networks for permit_mx_backup');
na('qmqpd_authorized_clients', '', 'host-list', 'QMQP clients');
na('lmtp_tls_security_level', '', 'string', 'LMTP client TLS level');
na('maillog_file_prefixes', '/var, /dev/stdout', 'list', 'allowed maillog_file prefixes');
na('import_environment', '', 'list', 'environment passed to child processes');
na('export_environment', '', 'list', 'environment passed to external commands');
na('owner_request_special', 'yes', 'bool', 'owner- and -request address handling');
na('allow_mail_to_commands', 'alias, forward', 'list', 'local delivery to commands');
na('allow_mail_to_files', 'alias, forward', 'list', 'local delivery to files');
na('mydestination_nis', '', 'string', 'unused');

/** Every known parameter (read-only). */
export const PARAMETERS: Readonly<Record<string, ParameterInfo>> = T;

/** Suffixes of per-transport parameters, as in "<transport>_destination_concurrency_limit". */
const PER_TRANSPORT_SUFFIXES = [
  'destination_concurrency_limit',
  'destination_recipient_limit',
  'initial_destination_concurrency',
  'destination_rate_delay',
  'destination_concurrency_failed_cohort_limit',
  'destination_concurrency_negative_feedback',
  'destination_concurrency_positive_feedback',
  'extra_recipient_limit',
  'recipient_limit',
  'recipient_refill_limit',
  'recipient_refill_delay',
  'delivery_slot_cost',
  'delivery_slot_discount',
  'delivery_slot_loan',
  'minimum_delivery_slots',
  'time_limit',
];
const PER_TRANSPORT_RE = new RegExp(`^[a-z0-9-]+_(${PER_TRANSPORT_SUFFIXES.join('|')})$`);

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

/** Every parameter's default text (computed defaults filled in). */
export function defaultValues(host?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, info] of Object.entries(T)) out[name] = info.default;
  Object.assign(out, computedDefaults(host));
  return out;
}
