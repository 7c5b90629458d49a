/** Tests of master.cf parsing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMasterCf, tokenize } from '../../src/config/master-cf.js';

test('parses the eight columns, maxproc "-" and "0" as null, defaults of y/n fields', () => {
  const r = parseMasterCf(
    [
      '# comment',
      '127.0.0.1:2525 inet n - n - - smtpd',
      'cleanup   unix  n       -       n       -       0       cleanup',
      'qmgr      unix  -       -       -       300     1       qmgr',
      'bounce    unix  -       y       y       -       4       bounce',
    ].join('\n'),
    'master.cf',
  );
  assert.deepEqual(r.problems, []);
  const [smtpd, cleanup, qmgr, bounce] = r.services;
  assert.equal(smtpd.name, '127.0.0.1:2525');
  assert.equal(smtpd.type, 'inet');
  assert.equal(smtpd.maxproc, null);
  assert.equal(smtpd.private, false);
  assert.equal(cleanup.maxproc, null);
  assert.equal(qmgr.maxproc, 1);
  assert.equal(qmgr.wakeup, '300');
  assert.equal(qmgr.private, true, 'private defaults to y for unix services');
  assert.equal(qmgr.chroot, false);
  assert.equal(bounce.maxproc, 4);
  assert.equal(bounce.chroot, true);
  assert.equal(bounce.line, 5);
});

test('-o name=value and -o { name = value } overrides across continuation lines', () => {
  const r = parseMasterCf(
    [
      'submission inet n - n - - smtpd',
      '  -o syslog_name=postfix/submission',
      '  -o { smtpd_recipient_restrictions = permit_sasl_authenticated, reject }',
      '  -o smtpd_tls_security_level=${tls?{may}:{encrypt}}',
      '  -v',
    ].join('\n'),
    'master.cf',
  );
  assert.deepEqual(r.problems, []);
  const s = r.services[0];
  assert.deepEqual(s.overrides, {
    syslog_name: 'postfix/submission',
    smtpd_recipient_restrictions: 'permit_sasl_authenticated, reject',
    smtpd_tls_security_level: '${tls?{may}:{encrypt}}',
  });
  assert.deepEqual(s.args, ['-v']);
});

test('a line with too few fields is an error with file and line', () => {
  const r = parseMasterCf('smtp inet n - n -\nqmgr unix n - n 300 1 qmgr\n', '/etc/master.cf');
  assert.equal(r.services.length, 1);
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0].severity, 'error');
  assert.equal(r.problems[0].file, '/etc/master.cf');
  assert.equal(r.problems[0].line, 1);
  assert.match(r.problems[0].message, /bad field count/);
});

test('bad type, bad boolean, bad maxproc and bad -o are errors', () => {
  const r = parseMasterCf(
    ['a tcp n - n - - smtpd', 'b unix x - n - - smtpd', 'c unix n - n - many smtpd', 'd unix n - n - - smtpd -o novalue'].join('\n'),
    'm.cf',
  );
  assert.deepEqual(r.problems.map((p) => [p.line, p.severity]), [[1, 'error'], [2, 'error'], [3, 'error'], [4, 'error']]);
  assert.match(r.problems[0].message, /bad transport type/);
  assert.equal(r.services.length, 0);
});

test('an inet service whose name is no listen address is an error naming the line; good forms pass', () => {
  const bad = ['127.0.0.1:99999', '127.0.0.1:', 'nosuchport', '::1:25', '[nothost]:25', 'bad_host!:25', '127.0.0.1:2x'];
  const good = ['127.0.0.1:2525', '2525', 'smtp', 'submission', '[::1]:25', '*:25', 'mx.example.com:smtps'];
  const lines = [...bad, ...good].map((name) => `${name} inet n - n - - smtpd`);
  const r = parseMasterCf(lines.join('\n'), 'master.cf');
  assert.deepEqual(r.problems.map((p) => [p.line, p.severity]), bad.map((_, i) => [i + 1, 'error']));
  assert.match(r.problems[0].message, /^service 127\.0\.0\.1:99999: port 99999 out of range/);
  assert.match(r.problems[3].message, /IPv6 address needs brackets/);
  assert.deepEqual(r.services.map((s) => s.name), good);
});

test('programs Postrider lacks are reported once each and dropped', () => {
  const r = parseMasterCf(
    [
      'tlsmgr    unix  -       -       y       1000?   1       tlsmgr',
      'relay     unix  -       -       y       -       -       smtp',
      'lmtp      unix  -       -       y       -       -       lmtp',
      'maildrop  unix  -       n       n       -       -       pipe',
      '  flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}',
      'retry     unix  -       -       y       -       -       error',
      'postlog   unix-dgram n  -       n       -       1       postlogd',
    ].join('\n'),
    'master.cf',
  );
  assert.deepEqual(r.services.map((s) => s.name), ['relay', 'retry']);
  assert.deepEqual(
    r.problems.map((p) => `${p.severity} ${p.line} ${p.message}`),
    [
      'warning 1 service tlsmgr: program tlsmgr is not part of Postrider; skipped',
      'warning 3 service lmtp: program lmtp is not part of Postrider; skipped',
      'warning 4 service maildrop: program pipe is not part of Postrider; skipped',
      'warning 7 service postlog: program postlogd is not part of Postrider; skipped',
    ],
  );
});

test('tokenize keeps { ... } groups whole', () => {
  assert.deepEqual(tokenize('a  { b = c d }  e'), ['a', '{ b = c d }', 'e']);
});
