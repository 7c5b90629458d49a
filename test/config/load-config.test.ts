/** Tests of loading a configuration directory: defaults, warnings, services, the shipped and stock files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { configHasErrors, loadConfig, mainConfigOf, serviceConfigOf } from '../../src/config/load-config.js';
import { checkConfig, formatProblem } from '../../src/config/check-config.js';
import { confDir } from './conf-dir.js';

const ROOT = process.cwd();

test('defaults fill every known parameter, computed from the host name', () => {
  const dir = confDir('');
  try {
    const l = loadConfig(dir, { hostname: 'box.example.net' });
    assert.deepEqual(l.problems, []);
    assert.equal(l.params.myhostname, 'box.example.net');
    assert.equal(l.params.mydomain, 'example.net');
    assert.equal(l.params.myorigin, 'box.example.net');
    assert.equal(l.params.mydestination, 'box.example.net, localhost.example.net, localhost');
    assert.equal(l.params.queue_directory, '/var/spool/postrider');
    assert.equal(l.params.syslog_name, 'postrider');
    assert.equal(l.params.smtpd_forbid_bare_newline, 'normalize');
    assert.equal(l.params.smtpd_forbid_bare_newline_exclusions, l.params.mynetworks);
    assert.match(l.params.mynetworks, /127\.0\.0\.0\/8/);
    assert.equal(l.params.smtpd_timeout, '300s');
    assert.equal(l.params.local_transport, 'local:box.example.net');
    assert.deepEqual(l.explicit, []);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('a short host name gets .localdomain', () => {
  const dir = confDir('');
  try {
    const l = loadConfig(dir, { hostname: 'box' });
    assert.equal(l.params.myhostname, 'box.localdomain');
    assert.equal(l.params.mydomain, 'localdomain');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('an unknown parameter is a warning with file and line, as postconf says', () => {
  const dir = confDir('myhostname = a.example\n\nfoo = bar\nrelay_destination_concurrency_limit = 2\nmy-pipe_destination_recipient_limit = 1\nmua_client_restrictions = permit_sasl_authenticated, reject\nlmtp_connect_timeout = 5s\n',
    'submission inet n - n - - smtpd\n  -o smtpd_client_restrictions=$mua_client_restrictions\n  -o bogus_override=1\n');
  try {
    const l = loadConfig(dir);
    const warnings = l.problems.map(formatProblem);
    assert.deepEqual(warnings, [
      `postrider: warning: ${join(dir, 'main.cf')}, line 3: unused parameter: foo=bar`,
      `postrider: warning: ${join(dir, 'master.cf')}, line 1: service submission: unused parameter: bogus_override=1`,
    ]);
    assert.equal(configHasErrors(l), false);
    assert.equal(l.params.foo, 'bar', 'user-defined values are kept');
    assert.equal(l.master[0].overrides.smtpd_client_restrictions, 'permit_sasl_authenticated, reject');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('names in smtpd_restriction_classes are not unknown', () => {
  const dir = confDir('smtpd_restriction_classes = strict\nstrict = reject_unknown_sender_domain\n');
  try {
    assert.deepEqual(loadConfig(dir).problems, []);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('an expansion loop in main.cf is an error at the line of the parameter', () => {
  const dir = confDir('a = $b\nb = ${a}\nmyhostname = $myhostname.x\n');
  try {
    const l = loadConfig(dir);
    assert.equal(configHasErrors(l), true);
    const loops = l.problems.filter((p) => /recursive parameter expansion/.test(p.message));
    assert.ok(loops.length >= 2, JSON.stringify(l.problems));
    assert.ok(loops.some((p) => p.line === 3 && /myhostname -> myhostname/.test(p.message)));
    assert.ok(loops.every((p) => p.severity === 'error' && p.file === join(dir, 'main.cf')));
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('a missing main.cf or master.cf is an error problem, not a throw', () => {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-config-'));
  try {
    const l = loadConfig(dir);
    assert.equal(configHasErrors(l), true);
    assert.deepEqual(l.problems.map((p) => [p.file, p.line]), [[join(dir, 'main.cf'), 0], [join(dir, 'master.cf'), 0]]);
    assert.equal(l.params.syslog_name, 'postrider', 'defaults are still there');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('-o overrides are expanded in the service context, with $service_name and derived values', () => {
  const dir = confDir('myhostname = main.example\nsub_level = encrypt\n',
    [
      'relay unix - - n - - smtp',
      '  -o syslog_name=postrider/$service_name',
      '127.0.0.1:2526 inet n - n - - smtpd',
      '  -o myhostname=alt.example',
      '  -o { smtpd_tls_security_level = ${sub_level?{$sub_level}:{may}} }',
    ].join('\n'));
  try {
    const l = loadConfig(dir);
    assert.deepEqual(l.problems, []);
    const [relay, alt] = l.master;
    assert.equal(relay.overrides.syslog_name, 'postrider/relay');
    assert.equal(l.params.syslog_name, 'postrider');
    assert.equal(alt.overrides.smtpd_tls_security_level, 'encrypt');
    assert.equal(alt.overrides.smtpd_banner, 'alt.example ESMTP Postrider', 'values that use the override change too');
    const cfg = serviceConfigOf(l, alt);
    assert.equal(cfg.get('smtp_helo_name'), 'alt.example');
    assert.equal(mainConfigOf(l).get('smtp_helo_name'), 'main.example');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('relative paths resolve against the configuration directory', () => {
  const dir = confDir('queue_directory = ../var/spool\n');
  try {
    const l = loadConfig(dir);
    assert.equal(l.params.queue_directory, '../var/spool');
    assert.equal(mainConfigOf(l).path('queue_directory'), resolve(dir, '../var/spool'));
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('the shipped etc/ loads and checks with no problems at all', () => {
  const l = loadConfig(join(ROOT, 'etc'));
  assert.deepEqual(l.problems, []);
  assert.deepEqual(checkConfig(l), []);
  assert.ok(l.master.some((s) => s.name === '127.0.0.1:2525' && s.type === 'inet' && s.command === 'smtpd'));
  const sub = l.master.find((s) => s.name === '127.0.0.1:2587');
  assert.ok(sub);
  assert.equal(sub.overrides.smtpd_sasl_auth_enable, 'yes');
  assert.equal(sub.overrides.smtpd_tls_security_level, 'may');
  assert.equal(sub.overrides.smtpd_relay_restrictions, 'permit_sasl_authenticated,reject');
  assert.equal(mainConfigOf(l).path('queue_directory'), join(ROOT, 'var', 'spool'));
  assert.equal(l.params.inet_interfaces, 'loopback-only');
  assert.equal(l.params.relayhost, '');
  for (const role of ['cleanup', 'trivial-rewrite', 'qmgr', 'smtp', 'bounce', 'pickup', 'virtual', 'discard', 'error']) {
    assert.ok(l.master.some((s) => s.command === role), role);
  }
});

test("Postfix 3.7's stock Debian main.cf and master.cf load with warnings only", () => {
  const l = loadConfig(join(ROOT, 'test/fixtures/postfix'));
  assert.equal(configHasErrors(l), false, l.problems.map(formatProblem).join('\n'));
  assert.ok(l.problems.length > 0);
  assert.ok(l.problems.every((p) => p.severity === 'warning'));
  // Every skipped program is reported exactly once per service line.
  const skipped = l.problems.filter((p) => /is not part of Postrider; skipped/.test(p.message)).map((p) => p.message.split(':')[0]);
  assert.deepEqual(skipped, [
    'service tlsmgr', 'service verify', 'service flush', 'service proxymap', 'service proxywrite', 'service showq',
    'service lmtp', 'service scache', 'service postlog', 'service maildrop',
    'service uucp', 'service ifmail', 'service bsmtp', 'service scalemail-backend', 'service mailman',
  ]);
  assert.ok(!l.problems.some((p) => /unused parameter/.test(p.message)), 'every stock parameter is known');
  assert.deepEqual(l.noEffect, [
    'biff', 'readme_directory',
    'smtp_tls_session_cache_database',
  ]);
  assert.equal(l.params.smtpd_banner, 'mail.example.org ESMTP Postrider (Debian/GNU)');
  assert.equal(l.params.smtp_tls_session_cache_database, 'btree:/var/lib/postfix/smtp_scache');
  assert.equal(l.master.find((s) => s.name === 'relay')?.overrides.syslog_name, 'postfix/relay');
  assert.deepEqual(l.master.map((s) => `${s.name}/${s.type}`), [
    'smtp/inet', 'pickup/unix', 'cleanup/unix', 'qmgr/unix', 'rewrite/unix', 'bounce/unix', 'defer/unix', 'trace/unix',
    'smtp/unix', 'relay/unix', 'error/unix', 'retry/unix', 'discard/unix', 'local/unix', 'virtual/unix', 'anvil/unix',
  ]);
  // checkConfig adds only warnings too (the snakeoil files are absent here: TLS is "may"); the cosmetic
  // settings that differ from Postfix's defaults are named, the ones left at their defaults are not.
  const checked = checkConfig(l);
  assert.ok(checked.every((p) => p.severity === 'warning'), checked.map(formatProblem).join('\n'));
  const ignored = checked.filter((p) => / ignored: /.test(p.message)).map((p) => p.message);
  assert.deepEqual(ignored, [
    'biff = no: ignored: the local delivery agent sends no comsat notifications',
    // Debian's main.cf says no where Debian's Postfix 3.7 build defaults to /usr/share/doc/postfix.
    'readme_directory = no: ignored: Postrider does not act on it',
    'smtp_tls_session_cache_database = btree:/var/lib/postfix/smtp_scache: ignored: TLS sessions are not cached',
  ]);
});

test('config_directory is the directory in use, as postconf shows the one given by -c; its default stays Postfix\'s', () => {
  const l = loadConfig(join(ROOT, 'test/fixtures/postfix'));
  assert.equal(l.params.config_directory, join(ROOT, 'test/fixtures/postfix'));
  assert.equal(l.defaults.config_directory, '/etc/postfix');
  assert.ok(!l.explicit.includes('config_directory'));
});
