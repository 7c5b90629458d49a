/** Tests of every lookup table type's semantics. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTable, openTableList } from '../../src/config/lookup-table.js';
import { ConfigError } from '../../src/config/main-config.js';

function withDir(files: Record<string, string>, fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-table-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true });
  }
}

test('texthash: key value lines, comments, continuation, case-insensitive keys, first duplicate wins', () => {
  withDir({ virtual: '# comment\nUser@Example.COM  Other@Example.net\n\nlist@example.com a@example.com,\n  b@example.com\nuser@example.com second\n' }, (dir) => {
    const t = openTable('texthash:virtual', dir);
    assert.equal(t.spec, 'texthash:virtual');
    assert.equal(t.get('user@example.com'), 'Other@Example.net', 'values keep their case');
    assert.equal(t.get('USER@EXAMPLE.COM'), 'Other@Example.net');
    assert.equal(t.get('list@example.com'), 'a@example.com, b@example.com');
    assert.equal(t.get('nobody@example.com'), undefined);
    assert.equal(t.getPartial('user@example.com'), 'Other@Example.net', 'text tables answer partial keys');
    const h = openTable(`hash:${join(dir, 'virtual')}`, '/elsewhere');
    assert.equal(h.get('list@example.com'), 'a@example.com, b@example.com', 'hash: reads the text file by absolute path');
  });
});

test('a text table line without a value is a ConfigError naming spec, file and line', () => {
  withDir({ t: 'a 1\nlonely\n' }, (dir) => {
    assert.throws(() => openTable('hash:t', dir), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.code, 'ERR_CONFIG');
      assert.match(e.message, /hash:t: .*\/t, line 2: expected format: key whitespace value/);
      return true;
    });
  });
});

test('unknown types and missing files throw ConfigError naming the spec', () => {
  assert.throws(() => openTable('ldap:/etc/x', '/'), /table ldap:\/etc\/x: unsupported dictionary type: ldap/);
  assert.throws(() => openTable('hash:/nonexistent/table', '/'), /table hash:\/nonexistent\/table: cannot open \/nonexistent\/table: ENOENT/);
  assert.throws(() => openTable('no-colon', '/'), /expected type:name/);
});

test('regexp: first match, default case-insensitive, i flag toggles, $1 substitution, negation', () => {
  withDir({
    r: [
      '# header checks',
      '/^Subject: (.*) (viagra)/   REJECT spam "$1" ${2}',
      '/^X-Exact: ABC$/i           OK exact',
      '!/@example\\.com$/          REJECT not ours',
      '/^(.+)@(example)\\.com$/    $2-$1 costs $$5',
    ].join('\n'),
  }, (dir) => {
    const t = openTable('regexp:r', dir);
    assert.equal(t.get('subject: cheap VIAGRA'), 'REJECT spam "cheap" VIAGRA');
    assert.equal(t.get('X-Exact: ABC'), 'OK exact');
    assert.equal(t.get('x-exact: abc'), 'REJECT not ours', 'the i flag made that rule case-sensitive');
    assert.equal(t.get('joe@other.org'), 'REJECT not ours');
    assert.equal(t.get('joe@example.com'), 'example-joe costs $5');
    assert.equal(t.getPartial('joe@other.org'), undefined, 'pattern tables do not answer partial keys');
  });
});

test('regexp: if/endif blocks, nested, and if !', () => {
  withDir({
    r: [
      'if /@example\\.com$/',
      '  # a comment inside',
      'if !/^admin/',
      '/^(sales|info)@/  sales-team',
      'endif',
      '/^admin@/         root',
      'endif',
      '/^(sales)@/       outside $1',
    ].join('\n'),
  }, (dir) => {
    const t = openTable('pcre:r', dir);
    assert.equal(t.get('info@example.com'), 'sales-team');
    assert.equal(t.get('admin@example.com'), 'root');
    assert.equal(t.get('sales@other.org'), 'outside sales', 'a failed if skips to its endif');
    assert.equal(t.get('bob@example.com'), undefined);
  });
});

test('regexp: pcre x flag and malformed tables', () => {
  withDir({
    x: '/^ a b c  # letters\n  $/x  spaced\n',
    bad1: '/unterminated  result\n',
    bad2: '/ok/ $1\n',
    bad3: 'if /a/\n/b/ c\n',
    bad4: '/(a)/\n',
    bad5: 'endif\n',
    bad6: '/(/ x\n',
  }, (dir) => {
    assert.equal(openTable('pcre:x', dir).get('ABC'), 'spaced');
    assert.throws(() => openTable('regexp:bad1', dir), /regexp:bad1: .*bad1, line 1: bad regular expression syntax/);
    assert.throws(() => openTable('regexp:bad2', dir), /line 1: out of range replacement index "1"/);
    assert.throws(() => openTable('regexp:bad3', dir), /IF has no matching ENDIF/);
    assert.throws(() => openTable('regexp:bad4', dir), /line 1: no replacement text/);
    assert.throws(() => openTable('regexp:bad5', dir), /line 1: ignoring ENDIF without matching IF/);
    assert.throws(() => openTable('regexp:bad6', dir), (e: unknown) => e instanceof ConfigError && /bad6, line 1: bad regular expression/.test(e.message));
  });
});

test('cidr: IPv4 and IPv6 networks, first match in file order, bare addresses, if blocks', () => {
  withDir({
    c: [
      '192.168.1.1        host-one',
      '192.168.0.0/16     private-16',
      '192.168.1.0/24     never-reached',
      '[2001:db8::]/32    doc-v6',
      '::1                v6-loopback',
      'if 10.0.0.0/8',
      '10.1.0.0/16        ten-one',
      'endif',
      '0.0.0.0/0          anything-v4',
    ].join('\n'),
  }, (dir) => {
    const t = openTable('cidr:c', dir);
    assert.equal(t.get('192.168.1.1'), 'host-one');
    assert.equal(t.get('192.168.1.2'), 'private-16', 'the first matching line wins, not the longest prefix');
    assert.equal(t.get('2001:db8:1::5'), 'doc-v6');
    assert.equal(t.get('::1'), 'v6-loopback');
    assert.equal(t.get('10.1.2.3'), 'ten-one');
    assert.equal(t.get('10.2.2.3'), 'anything-v4');
    assert.equal(t.get('::ffff:8.8.8.8'), 'anything-v4', 'IPv4-mapped addresses match IPv4 networks');
    assert.equal(t.get('2002::1'), undefined);
    assert.equal(t.get('not-an-ip'), undefined);
    assert.equal(t.getPartial('192.168.1.1'), undefined);
  });
});

test('cidr: host bits set and bad networks are errors with file:line', () => {
  withDir({ c1: '10.0.0.1/8 x\n', c2: '10.0.0.0/33 x\n', c3: '10.0.0.0/8\n' }, (dir) => {
    assert.throws(() => openTable('cidr:c1', dir), /c1, line 1: non-null host address bits in "10.0.0.1\/8", perhaps you should use "10.0.0.0\/8" instead/);
    assert.throws(() => openTable('cidr:c2', dir), /c2, line 1: bad net\/mask pattern/);
    assert.throws(() => openTable('cidr:c3', dir), /c3, line 1: no lookup result/);
  });
});

test('cidr: if !network blocks; unbalanced, orphan and extra-text lines are errors with file:line', () => {
  withDir({
    neg: 'if !10.0.0.0/8\n0.0.0.0/0 outside-ten\nendif\n',
    b1: 'if 10.0.0.0/8\n10.1.0.0/16 x\n',
    b2: 'endif\n',
    b3: '  10.0.0.0/8 x\n',
    b4: 'if 10.0.0.0/8 extra\nendif\n',
  }, (dir) => {
    const t = openTable('cidr:neg', dir);
    assert.equal(t.get('8.8.8.8'), 'outside-ten');
    assert.equal(t.get('10.1.2.3'), undefined, 'a failed if !network skips to its endif');
    assert.throws(() => openTable('cidr:b1', dir), /cidr:b1: .*b1: IF has no matching ENDIF/);
    assert.throws(() => openTable('cidr:b2', dir), /b2, line 1: ignoring ENDIF without matching IF/);
    assert.throws(() => openTable('cidr:b3', dir), /b3, line 1: text starts with white space but continues no rule/);
    assert.throws(() => openTable('cidr:b4', dir), /b4, line 1: ignoring extra text after IF statement/);
  });
});

test('inline: key=value pairs, braced pairs with spaces, case-insensitive keys', () => {
  const t = openTable('inline:{ Alice@Example.com=alice@other.net, { bob = REJECT go away, now } }', '/');
  assert.equal(t.get('alice@example.com'), 'alice@other.net');
  assert.equal(t.get('BOB'), 'REJECT go away, now');
  assert.equal(t.get('carol'), undefined);
  assert.throws(() => openTable('inline:{ novalue }', '/'), /expected key=value/);
  assert.throws(() => openTable('inline:plain', '/'), /expected inline:\{/);
});

test('static: every key gets the value; braces allow spaces', () => {
  assert.equal(openTable('static:relay', '/').get('anything'), 'relay');
  assert.equal(openTable('static:{REJECT not here}', '/').getPartial('x'), 'REJECT not here');
});

test('openTableList: several maps, first match wins; empty value never answers', () => {
  withDir({ a: 'x@example.com from-a\n' }, (dir) => {
    const list = openTableList('texthash:a, inline:{x@example.com=from-inline, y@example.com=y-inline} static:fallback', dir);
    assert.equal(list.get('x@example.com'), 'from-a');
    assert.equal(list.get('y@example.com'), 'y-inline');
    assert.equal(list.get('z@example.com'), 'fallback');
    assert.equal(list.tables.length, 3);
    assert.equal(openTableList('', dir).get('x'), undefined);
    assert.throws(() => openTableList('texthash:a, texthash:missing', dir), /texthash:missing/);
  });
});

test('proxy:TYPE:NAME opens the inner table', () => {
  const t = openTable('proxy:inline:{a=b}', '/');
  assert.equal(t.get('A'), 'b');
  assert.equal(t.spec, 'proxy:inline:{a=b}');
});
