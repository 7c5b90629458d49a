/** Tests of postconf-style parameter printing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type LoadedConfig } from '../../src/config/load-config.js';
import { formatParameters, renderParameters } from '../../src/config/postconf.js';

function withConfig(main: string, fn: (l: LoadedConfig) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-postconf-'));
  try {
    writeFileSync(join(dir, 'main.cf'), main);
    writeFileSync(join(dir, 'master.cf'), 'cleanup unix n - n - 0 cleanup\n');
    fn(loadConfig(dir, { hostname: 'host.example.com' }));
  } finally {
    rmSync(dir, { recursive: true });
  }
}

const MAIN = 'relayhost =\nmyhostname = mx.example.com\nmyorigin = $mydomain\n2bounce_notice_recipient = admin\nmua_restrictions = permit\n';

test('-n prints only main.cf settings, as written, sorted', () => {
  withConfig(MAIN, (l) => {
    assert.equal(
      formatParameters(l, { nonDefault: true }),
      '2bounce_notice_recipient = admin\nmua_restrictions = permit\nmyhostname = mx.example.com\nmyorigin = $mydomain\nrelayhost =\n',
    );
  });
});

test('-n -x prints expanded values', () => {
  withConfig(MAIN, (l) => {
    assert.match(formatParameters(l, { nonDefault: true, expand: true }), /^myorigin = example\.com$/m);
  });
});

test('-d prints defaults, computed ones filled in', () => {
  withConfig(MAIN, (l) => {
    const out = formatParameters(l, { defaults: true });
    assert.match(out, /^myhostname = host\.example\.com$/m);
    assert.match(out, /^myorigin = \$myhostname$/m);
    assert.match(out, /^smtpd_forbid_bare_newline = normalize$/m);
    assert.match(out, /^relayhost =$/m);
    assert.doesNotMatch(out, /mua_restrictions/);
    const names = out.trim().split('\n').map((line) => line.split(' = ')[0].replace(/ =$/, ''));
    assert.deepEqual(names, [...names].sort());
    assert.equal(names[0], '2bounce_notice_recipient');
  });
});

test('names: printed in the order given; an unknown name gets the postconf warning', () => {
  withConfig(MAIN, (l) => {
    const r = renderParameters(l, { names: ['myorigin', 'no_such_thing', 'mydomain'] });
    assert.equal(r.text, 'myorigin = $mydomain\nmydomain = example.com\n');
    assert.deepEqual(r.warnings, ['postrider: warning: no_such_thing: unknown parameter']);
    assert.equal(formatParameters(l, { names: ['no_such_thing'] }), 'postrider: warning: no_such_thing: unknown parameter\n');
    assert.equal(formatParameters(l, { names: ['mydomain'], defaults: true, expand: true }), 'mydomain = example.com\n');
    assert.equal(formatParameters(l, { names: ['myorigin'], defaults: true, expand: true }), 'myorigin = host.example.com\n');
    assert.equal(formatParameters(l, { names: ['mua_restrictions'], defaults: true }), 'postrider: warning: mua_restrictions: unknown parameter\n');
    assert.equal(formatParameters(l, { names: ['mydomain', 'relayhost'], nonDefault: true }), 'relayhost =\n');
  });
});

test('without options every parameter is printed, unexpanded', () => {
  withConfig(MAIN, (l) => {
    const out = formatParameters(l);
    assert.match(out, /^smtpd_banner = \$myhostname ESMTP \$mail_name$/m);
    assert.match(out, /^mua_restrictions = permit$/m);
    assert.ok(out.split('\n').length > 200);
  });
});
