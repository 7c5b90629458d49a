/** Tests of checkConfig and formatProblem. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load-config.js';
import { checkConfig, formatProblem } from '../../src/config/check-config.js';
import { confDir } from './conf-dir.js';
import { makeTestCert } from '../helpers/tls-cert.js';

test('bad time, int and bool values are errors at their main.cf line', () => {
  const dir = confDir('myhostname = a.example\nsmtpd_timeout = 30 seconds\nsmtpd_recipient_limit = many\nsmtpd_helo_required = maybe\nmessage_size_limit = -1\n');
  try {
    const problems = checkConfig(loadConfig(dir));
    const lines = problems.map(formatProblem);
    const main = join(dir, 'main.cf');
    assert.deepEqual(lines, [
      `postrider: error: ${main}, line 2: smtpd_timeout = 30 seconds: not a time value`,
      `postrider: error: ${main}, line 3: smtpd_recipient_limit = many: not an integer`,
      `postrider: error: ${main}, line 4: smtpd_helo_required = maybe: not yes or no`,
      `postrider: error: ${main}, line 5: message_size_limit = -1: not a size in bytes`,
    ]);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('a bad value set by -o is reported at the service line', () => {
  const dir = confDir('', 'cleanup unix n - n - 0 cleanup\nsmtp unix - - n - - smtp\n  -o smtp_connect_timeout=soon\n');
  try {
    const problems = checkConfig(loadConfig(dir));
    assert.equal(problems.length, 1);
    assert.equal(problems[0].line, 2);
    assert.match(problems[0].message, /service smtp: smtp_connect_timeout = soon: not a time value/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('tables that fail to open are errors naming the table', () => {
  const dir = confDir('virtual_alias_maps = hash:missing-file\nheader_checks = nosuchtype:/x\nsmtpd_client_restrictions = check_client_access cidr:also-missing, permit\nmynetworks = 10.0.0.1/8\n');
  try {
    const problems = checkConfig(loadConfig(dir));
    const msgs = problems.map((p) => `${p.line} ${p.message}`);
    assert.equal(problems.length, 4, msgs.join('\n'));
    assert.ok(msgs.some((m) => m.startsWith('1 virtual_alias_maps: table hash:missing-file: cannot open')));
    assert.ok(msgs.some((m) => m.startsWith('2 header_checks: table nosuchtype:/x: unsupported dictionary type')));
    assert.ok(msgs.some((m) => m.startsWith('3 smtpd_client_restrictions: table cidr:also-missing')));
    assert.ok(msgs.some((m) => m.startsWith('4 mynetworks: non-null host address bits')));
    // mime_header_checks = $header_checks etc. repeat the same problem: not reported again.
    assert.ok(!msgs.some((m) => m.startsWith('0 ')));
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('unreadable TLS files: error when TLS is mandatory, warning when optional; readable files pass', () => {
  const dir = confDir('smtpd_tls_cert_file = nope.pem\nsmtpd_tls_security_level = encrypt\nsmtp_tls_CAfile = /nonexistent/ca.pem\n');
  try {
    const problems = checkConfig(loadConfig(dir));
    assert.deepEqual(problems.map((p) => [p.severity, p.line]), [['error', 1], ['warning', 3]]);
    assert.match(problems[0].message, /smtpd_tls_cert_file = nope.pem: cannot read file: ENOENT$/);
    assert.match(problems[1].message, /smtp_tls_CAfile = \/nonexistent\/ca.pem: cannot read file: ENOENT; smtp TLS is disabled/);
  } finally {
    rmSync(dir, { recursive: true });
  }
  const cert = makeTestCert();
  const dir2 = confDir(`smtpd_tls_cert_file = ${cert.certFile}\nsmtpd_tls_key_file = ${cert.keyFile}\nsmtpd_tls_security_level = encrypt\n`);
  try {
    assert.deepEqual(checkConfig(loadConfig(dir2)), []);
  } finally {
    rmSync(dir2, { recursive: true });
    rmSync(dirname(cert.certFile), { recursive: true });
  }
});

const SMTPD_MASTER = 'cleanup unix n - n - 0 cleanup\n127.0.0.1:2525 inet n - n - - smtpd\n';
const RELAY_TEXT =
  'in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one working instance of: ' +
  'reject_unauth_destination, defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains';

/** checkConfig over a temporary main.cf and master.cf, as "severity line message" strings. */
function problemsOf(main: string, master = 'cleanup unix n - n - 0 cleanup\n'): string[] {
  const dir = confDir(main, master);
  try {
    return checkConfig(loadConfig(dir)).map((p) => `${p.severity} ${p.line} ${p.message}`);
  } finally {
    rmSync(dir, { recursive: true });
  }
}

test('refused parameters are errors naming them, in main.cf and by -o; cosmetic ones are warnings; defaults pass', () => {
  assert.deepEqual(
    problemsOf(
      'smtpd_proxy_filter = 127.0.0.1:10024\nsmtpd_milter_maps = cidr:/etc/x\nbiff = no\nsoft_bounce = yes\nsmtp_sasl_auth_enable = no\n' +
        'default_destination_rate_delay = 0\nrelay_destination_rate_delay = 1s\nsmtp_tls_session_cache_database =\n',
      'cleanup unix n - n - 0 cleanup\nsmtp unix - - n - - smtp\n  -o content_filter=\n  -o smtpd_proxy_filter=127.0.0.1:10025\n',
    ),
    [
      'error 1 smtpd_proxy_filter is not supported by this version of Postrider; mail would not be filtered (smtpd_proxy_filter = 127.0.0.1:10024)',
      'error 2 smtpd_milter_maps is not supported by this version of Postrider; every client would get smtpd_milters (smtpd_milter_maps = cidr:/etc/x)',
      'warning 3 biff = no: ignored: the local delivery agent sends no comsat notifications',
      'error 7 relay_destination_rate_delay is not supported by this version of Postrider; deliveries would not be paced (relay_destination_rate_delay = 1s)',
      'error 2 service smtp: smtpd_proxy_filter is not supported by this version of Postrider; mail would not be filtered (smtpd_proxy_filter = 127.0.0.1:10025)',
    ],
  );
  // compatibility_level: 2 and up change nothing Postrider has; lower levels are test/config/compatibility-level.test.ts's.
  assert.deepEqual(problemsOf('compatibility_level = 3.6\n'), []);
  assert.deepEqual(problemsOf('compatibility_level = 2\n'), []);
});

test('unsupported restrictions are refused, naming the restriction; check_policy_service, a bare table and restriction classes pass', () => {
  assert.deepEqual(
    problemsOf(
      'smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service inet:127.0.0.1:10023, check_policy_service unix:private/policy, ' +
        'check_policy_service { inet:127.0.0.1:10023, timeout=10s, default_action=DUNNO }, ' +
        'warn_if_reject reject_unknown_client_hostname, reject_unverified_recipient, no_such_thing\n',
    ),
    [
      'warning 1 smtpd_recipient_restrictions: reject_unknown_client_hostname is not supported by this version of Postrider; its warn_if_reject warning would not be logged',
      'error 1 smtpd_recipient_restrictions: reject_unverified_recipient is not supported by this version of Postrider; recipients would not be verified',
      'error 1 smtpd_recipient_restrictions: unknown restriction "no_such_thing"',
    ],
  );
  assert.deepEqual(
    problemsOf(
      'smtpd_restriction_classes = strict, unused\nstrict = reject_non_fqdn_sender, reject\nsmtpd_client_restrictions = inline:{ 192.0.2.1=strict }\n' +
        'smtpd_recipient_restrictions = permit_auth_destination, strict\nsmtpd_data_restrictions = inline:{ x=REJECT }\n',
    ),
    [
      'error 1 restriction class "unused" needs a definition',
      'error 5 smtpd_data_restrictions: specify one of check_client_access, check_helo_access, check_sender_access or check_recipient_access before the table inline:{ x=REJECT }',
    ],
  );
});

test("an smtpd service that would relay for anyone is refused with Postfix's text; -o values count per service", () => {
  // Empty relay restrictions, permit_mynetworks alone, or a permit before the reject: an open relay.
  for (const main of [
    'smtpd_relay_restrictions =\n',
    'smtpd_relay_restrictions = permit_mynetworks\n',
    'smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = permit_mynetworks, permit, reject_unauth_destination\n',
    'smtpd_relay_restrictions = permit_mynetworks, warn_if_reject reject\n',
  ]) {
    // Reported at smtpd_relay_restrictions' line (line 1 in each).
    assert.deepEqual(problemsOf(main, SMTPD_MASTER), [`error 1 ${RELAY_TEXT}`], main);
  }
  // The safety net in either list, or inside a restriction class, is enough.
  assert.deepEqual(problemsOf('smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination\n', SMTPD_MASTER), []);
  assert.deepEqual(problemsOf('smtpd_restriction_classes = guard\nguard = defer_unauth_destination\nsmtpd_relay_restrictions = permit_mynetworks, guard\n', SMTPD_MASTER), []);
  // Without an smtpd service nothing listens, so nothing relays.
  assert.deepEqual(problemsOf('smtpd_relay_restrictions =\n'), []);
  // A service's -o override is judged on its own, at its master.cf line.
  assert.deepEqual(
    problemsOf('', `${SMTPD_MASTER}127.0.0.1:2587 inet n - n - - smtpd\n  -o smtpd_relay_restrictions=permit_sasl_authenticated,permit_mynetworks\n`),
    [`error 3 service 127.0.0.1:2587: ${RELAY_TEXT}`],
  );
});

test('the shipped etc/ and its master.cf services pass check without a problem', () => {
  const problems = checkConfig(loadConfig(join(dirname(fileURLToPath(import.meta.url)), '../../../etc')));
  assert.deepEqual(problems.map(formatProblem), []);
});

test('the SASL security options are Postfix\'s words', () => {
  const good = confDir('smtpd_sasl_security_options = noanonymous, noplaintext\nsmtpd_sasl_tls_security_options = noanonymous\n');
  const bad = confDir('smtpd_sasl_security_options = noanonymous, noplain\n');
  try {
    assert.deepEqual(checkConfig(loadConfig(good)), []);
    assert.deepEqual(checkConfig(loadConfig(bad)).map((p) => `${p.line} ${p.message}`), ['1 smtpd_sasl_security_options = noanonymous, noplain: bad element "noplain"']);
  } finally {
    rmSync(good, { recursive: true });
    rmSync(bad, { recursive: true });
  }
});

test('relayhost, inet_interfaces and inet_protocols elements are checked', () => {
  const good = confDir('relayhost = [mail.example.net]:587\ninet_interfaces = 127.0.0.1, [::1], loopback-only\ninet_protocols = ipv4, ipv6\n');
  const bad = confDir('relayhost = [mail.example.net]:port\ninet_interfaces = all, 10.0.0.1/8\ninet_protocols = ipv5\n');
  try {
    assert.deepEqual(checkConfig(loadConfig(good)), []);
    assert.deepEqual(checkConfig(loadConfig(bad)).map((p) => `${p.line} ${p.message}`), [
      '1 relayhost = [mail.example.net]:port: bad element "[mail.example.net]:port"',
      '2 inet_interfaces = all, 10.0.0.1/8: bad element "10.0.0.1/8"',
      '3 inet_protocols = ipv5: bad element "ipv5"',
    ]);
  } finally {
    rmSync(good, { recursive: true });
    rmSync(bad, { recursive: true });
  }
});

test('enumerated values are checked', () => {
  const dir = confDir('smtpd_tls_security_level = sometimes\nsmtpd_forbid_bare_newline = reject\n');
  try {
    const problems = checkConfig(loadConfig(dir));
    assert.equal(problems.length, 1);
    assert.match(problems[0].message, /smtpd_tls_security_level = sometimes: expected one of none, may, encrypt/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('formatProblem omits the line when it is 0 and keeps one line', () => {
  assert.equal(formatProblem({ severity: 'error', file: '/e/master.cf', line: 0, message: 'cannot open file: ENOENT' }), 'postrider: error: /e/master.cf: cannot open file: ENOENT');
  assert.equal(formatProblem({ severity: 'warning', file: 'f', line: 3, message: 'a\nb' }), 'postrider: warning: f, line 3: a b');
});

test('local_header_rewrite_clients entries cleanup does not evaluate are warnings', () => {
  assert.deepEqual(problemsOf('local_header_rewrite_clients = permit_mynetworks, permit_tls_clientcerts\n'), [
    'warning 1 local_header_rewrite_clients: permit_tls_clientcerts is not supported by this version of Postrider; it matches no client',
  ]);
});

test('an alias file that does not exist is no configuration error, as in Postfix; an unreadable alias line still is', () => {
  const dir = confDir('myhostname = a.example\nalias_maps = hash:/nonexistent/aliases\nalias_database = hash:/nonexistent/aliases\n');
  try {
    assert.deepEqual(checkConfig(loadConfig(dir)).map(formatProblem), []);
  } finally {
    rmSync(dir, { recursive: true });
  }
  const bad = confDir('myhostname = a.example\nalias_maps = hash:aliases\n');
  try {
    writeFileSync(join(bad, 'aliases'), 'no colon here\n');
    const lines = checkConfig(loadConfig(bad)).map(formatProblem);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], /alias_maps/);
  } finally {
    rmSync(bad, { recursive: true });
  }
});

test('mailbox_delivery_lock must name dotlock: fcntl alone is refused by check', () => {
  const dir = confDir('myhostname = a.example\nmailbox_delivery_lock = fcntl\n');
  try {
    const lines = checkConfig(loadConfig(dir)).map(formatProblem);
    assert.deepEqual(lines, [
      `postrider: error: ${join(dir, 'main.cf')}, line 2: mailbox_delivery_lock = fcntl: must name dotlock (fcntl and flock locks cannot be taken from Node; the local agent takes the dotlock)`,
    ]);
  } finally {
    rmSync(dir, { recursive: true });
  }
  const ok = confDir('myhostname = a.example\nmailbox_delivery_lock = dotlock\n');
  try {
    assert.deepEqual(checkConfig(loadConfig(ok)).map(formatProblem), []);
  } finally {
    rmSync(ok, { recursive: true });
  }
});

test('check_policy_service, content_filter and receive_override_options values that cannot be read are errors naming them', () => {
  assert.deepEqual(
    problemsOf(
      'smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service 127.0.0.1:10023, check_policy_service inet:127.0.0.1:99999, ' +
        'check_policy_service { inet:127.0.0.1:10023, colour=blue }\n' +
        'content_filter = nocolon\nreceive_override_options = no_header_body_checks, no_such_option\nsmtpd_policy_service_try_limit = 0\n',
    ),
    [
      'error 1 smtpd_recipient_restrictions: check_policy_service 127.0.0.1:10023: 127.0.0.1:10023: need inet:host:port or unix:pathname',
      'error 1 smtpd_recipient_restrictions: check_policy_service inet:127.0.0.1:99999: inet:127.0.0.1:99999: bad port 99999',
      'error 1 smtpd_recipient_restrictions: check_policy_service { inet:127.0.0.1:10023, colour=blue }: inet:127.0.0.1:10023: unknown attribute "colour" (known: timeout, max_idle, max_ttl, retry_delay, request_limit, reuse_count_limit, try_limit, default_action, policy_context)',
      'error 2 content_filter: content filter "nocolon": need transport:destination',
      'error 3 receive_override_options: receive_override_options: unknown option "no_such_option" (known: no_unknown_recipient_checks, no_address_mappings, no_header_body_checks, no_milters)',
      'error 4 smtpd_policy_service_try_limit: smtpd_policy_service_try_limit: "0" is not a number of at least 1',
    ],
  );
});

test('dkim_key_table: a missing or unreadable key file is a check error naming the file; a good key passes', () => {
  const dir = confDir('dkim_key_table = texthash:keytable\ndkim_signing_table = texthash:signingtable\narc_key_table = texthash:keytable\narc_signing_table = texthash:arc-signing\nsmtpd_authentication_results = yes\n');
  try {
    writeFileSync(join(dir, 'keytable'), 'sel._domainkey.example.com example.com:sel:keys/missing.pem\n');
    writeFileSync(join(dir, 'signingtable'), 'example.com sel._domainkey.example.com\n');
    writeFileSync(join(dir, 'arc-signing'), 'example.com sel._domainkey.example.com\n');
    const missing = checkConfig(loadConfig(dir)).map((p) => `${p.line} ${p.message}`);
    assert.ok(missing.some((m) => /^1 dkim_key_table: cannot read key file .*keys\/missing\.pem: ENOENT$/.test(m)), missing.join('\n'));
    assert.ok(missing.some((m) => /^3 arc_key_table: cannot read key file .*keys\/missing\.pem: ENOENT$/.test(m)), missing.join('\n'));
    writeFileSync(join(dir, 'keytable'), 'sel._domainkey.example.com example.com:sel:bad.pem\n');
    writeFileSync(join(dir, 'bad.pem'), 'not a key\n');
    const bad = checkConfig(loadConfig(dir)).map((p) => p.message);
    assert.ok(bad.some((m) => /dkim_key_table: key file .*bad\.pem: not a private key/.test(m)), bad.join('\n'));
    writeFileSync(join(dir, 'keytable'), 'sel._domainkey.example.com example.com:sel:good.pem\n');
    writeFileSync(join(dir, 'good.pem'), generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }));
    assert.deepEqual(checkConfig(loadConfig(dir)).filter((p) => /dkim|arc/.test(p.message)), []);
    writeFileSync(join(dir, 'signingtable'), 'example.com other._domainkey.example.com\n');
    const unknown = checkConfig(loadConfig(dir)).map((p) => p.message);
    assert.ok(unknown.some((m) => m.includes('dkim_signing_table: key "other._domainkey.example.com" is not in dkim_key_table')), unknown.join('\n'));
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('reject_dmarc_policy outside smtpd_end_of_data_restrictions is a check error; the SPF restrictions are accepted', () => {
  const dir = confDir('smtpd_sender_restrictions = reject_spf_fail, defer_spf_temperror, reject_dmarc_policy\nsmtpd_end_of_data_restrictions = reject_dmarc_policy\n');
  try {
    const msgs = checkConfig(loadConfig(dir)).map((p) => `${p.severity} ${p.line} ${p.message}`);
    assert.deepEqual(msgs, ['error 1 smtpd_sender_restrictions: reject_dmarc_policy belongs in smtpd_end_of_data_restrictions (DMARC needs the whole message); here it would never reject']);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('arc_signing_table without smtpd_authentication_results is a check error: nothing would be sealed', () => {
  const dir = confDir('arc_key_table = texthash:keytable\narc_signing_table = texthash:arc-signing\n');
  try {
    writeFileSync(join(dir, 'keytable'), 'arc._domainkey.example.com example.com:arc:good.pem\n');
    writeFileSync(join(dir, 'good.pem'), generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }));
    writeFileSync(join(dir, 'arc-signing'), 'lists.example.com arc._domainkey.example.com\n');
    const msgs = checkConfig(loadConfig(dir)).map((p) => `${p.line} ${p.message}`);
    assert.deepEqual(msgs, ['2 arc_signing_table: ARC sealing needs smtpd_authentication_results = yes (the seal carries its results); nothing would be sealed']);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('smtp_tlsrpt_send_time must be a time of day, HH:MM', () => {
  const dir = confDir('myhostname = a.example\nsmtp_tlsrpt_send_time = 25:00\n');
  try {
    assert.deepEqual(checkConfig(loadConfig(dir)).map(formatProblem), [
      `postrider: error: ${join(dir, 'main.cf')}, line 2: smtp_tlsrpt_send_time = 25:00: not a time of day HH:MM (UTC)`,
    ]);
  } finally {
    rmSync(dir, { recursive: true });
  }
  const ok = confDir('myhostname = a.example\nsmtp_tlsrpt_send_time = 3:30\n');
  try {
    assert.deepEqual(checkConfig(loadConfig(ok)).map(formatProblem), []);
  } finally {
    rmSync(ok, { recursive: true });
  }
});
