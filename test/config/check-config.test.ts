/** Tests of checkConfig and formatProblem. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

test('check_policy_service takes a socket, not a table', () => {
  const dir = confDir('smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service inet:127.0.0.1:10023, check_policy_service unix:private/policy\n');
  try {
    assert.deepEqual(checkConfig(loadConfig(dir)), []);
  } finally {
    rmSync(dir, { recursive: true });
  }
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
