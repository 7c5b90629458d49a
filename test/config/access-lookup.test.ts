/** Tests of access(5) search orders and host/domain list matching. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTable, type LookupTable } from '../../src/config/lookup-table.js';
import { addressPrefixes, compileDomainList, lookupClient, lookupDomain, lookupEmail, matchHostList } from '../../src/config/access-lookup.js';

/** A table that records every key asked, to check the search order itself. */
function recorder(answers: Record<string, string> = {}, pattern = false): { table: LookupTable; asked: string[] } {
  const asked: string[] = [];
  const table: LookupTable = {
    spec: 'test:recorder',
    type: 'test',
    get: (k) => (asked.push(k), answers[k]),
    getPartial: (k) => (asked.push(`partial:${k}`), pattern ? undefined : answers[k]),
  };
  return { table, asked };
}

test('lookupEmail search order: user@domain, domain, parents, user@', () => {
  const r = recorder();
  assert.equal(lookupEmail(r.table, 'Joe@Mail.Example.COM'), undefined);
  assert.deepEqual(r.asked, [
    'joe@mail.example.com',
    'partial:mail.example.com',
    'partial:example.com',
    'partial:com',
    'partial:joe@',
  ]);
});

test('lookupEmail: ".domain" parents when parent_domain_matches_subdomains is off; extension stripped', () => {
  const r = recorder();
  lookupEmail(r.table, 'joe+tag@a.example', { parentDomainMatchesSubdomains: false, recipientDelimiter: '+' });
  assert.deepEqual(r.asked, ['joe+tag@a.example', 'partial:joe@a.example', 'partial:a.example', 'partial:.example', 'partial:joe+tag@', 'partial:joe@']);
});

test('lookupEmail: the first key found wins, and the null sender is "<>"', () => {
  const t = openTable('inline:{ joe@example.com=OK, example.com=REJECT, other.example=DISCARD, bob@=HOLD, { <> = REJECT no bounces } }', '/');
  assert.equal(lookupEmail(t, 'joe@example.com'), 'OK');
  assert.equal(lookupEmail(t, 'ann@example.com'), 'REJECT');
  assert.equal(lookupEmail(t, 'ann@sub.other.example'), 'DISCARD', 'a parent domain matches');
  assert.equal(lookupEmail(t, 'bob@anywhere.net'), 'HOLD');
  assert.equal(lookupEmail(t, ''), 'REJECT no bounces');
  assert.equal(lookupEmail(t, '<>'), 'REJECT no bounces');
  assert.equal(lookupEmail(t, 'ann@nowhere.net'), undefined);
});

test('pattern tables see only the full key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-access-'));
  try {
    writeFileSync(join(dir, 're'), '/^example\\.com$/ REJECT domain\n/^joe@$/ REJECT user\n/@example\\.com$/ OK full\n');
    const t = openTable('regexp:re', dir);
    assert.equal(lookupEmail(t, 'ann@example.com'), 'OK full');
    assert.equal(lookupEmail(t, 'joe@other.net'), undefined, 'no partial keys for regexp');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('lookupDomain: domain then parents', () => {
  const t = openTable('inline:{ example.com=parent, .dot.example=dotted }', '/');
  assert.equal(lookupDomain(t, 'a.b.example.com'), 'parent');
  assert.equal(lookupDomain(t, 'x.dot.example'), undefined);
  assert.equal(lookupDomain(t, 'x.dot.example', false), 'dotted');
});

test('lookupClient: hostname, parents, then IP and its prefixes', () => {
  const r = recorder();
  lookupClient(r.table, 'mx.mail.example.com', '192.0.2.10');
  assert.deepEqual(r.asked, [
    'mx.mail.example.com', 'partial:mail.example.com', 'partial:example.com', 'partial:com',
    '192.0.2.10', 'partial:192.0.2', 'partial:192.0', 'partial:192',
  ]);
  const r6 = recorder();
  lookupClient(r6.table, 'unknown', '2001:db8:1::7');
  assert.deepEqual(r6.asked, ['2001:db8:1::7', 'partial:2001:db8:1', 'partial:2001:db8', 'partial:2001']);
  assert.deepEqual(addressPrefixes('1.2.3.4'), ['1.2.3', '1.2', '1']);
});

test('lookupClient: answers by name, IP prefix and cidr', () => {
  const t = openTable('inline:{ { example.org = OK name }, { 198.51.100 = REJECT net } }', '/');
  assert.equal(lookupClient(t, 'host.example.org', '203.0.113.5'), 'OK name');
  assert.equal(lookupClient(t, 'unknown', '198.51.100.77'), 'REJECT net');
  assert.equal(lookupClient(t, 'unknown', '198.51.101.1'), undefined);
  const dir = mkdtempSync(join(tmpdir(), 'postrider-access-'));
  try {
    writeFileSync(join(dir, 'c'), '203.0.113.0/24 REJECT cidr\n');
    const c = openTable('cidr:c', dir);
    assert.equal(lookupClient(c, 'unknown', '203.0.113.9'), 'REJECT cidr');
    assert.equal(lookupClient(c, 'unknown', '203.0.114.9'), undefined);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('matchHostList: CIDR, bare IP, names, .domain, tables, negation, first match decides', () => {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-access-'));
  try {
    writeFileSync(join(dir, 'nets'), '172.16.0.0/12 ok\n');
    const list = ['!10.9.0.0/16', '10.0.0.0/8', '192.0.2.7', '[2001:db8::]/32', '[::1]', 'gw.example.net', '.corp.example', 'cidr:nets', 'trusted.example'];
    const m = (h: string, ip: string): boolean => matchHostList(list, h, ip, dir);
    assert.equal(m('unknown', '10.1.2.3'), true);
    assert.equal(m('unknown', '10.9.2.3'), false, 'negation listed first wins');
    assert.equal(m('unknown', '192.0.2.7'), true);
    assert.equal(m('unknown', '192.0.2.8'), false);
    assert.equal(m('unknown', '2001:db8::99'), true);
    assert.equal(m('unknown', '::1'), true);
    assert.equal(m('gw.example.net', '203.0.113.1'), true);
    assert.equal(m('x.gw.example.net', '203.0.113.1'), true, 'bare names match subdomains too (parent_domain_matches_subdomains)');
    assert.equal(m('xgw.example.net', '203.0.113.1'), false);
    assert.equal(m('a.corp.example', '203.0.113.1'), true);
    assert.equal(m('corp.example', '203.0.113.1'), false, '.domain matches subdomains only');
    assert.equal(m('a.trusted.example', '203.0.113.1'), true, 'a bare domain matches subdomains in mynetworks');
    assert.equal(m('unknown', '172.20.1.1'), true, 'cidr table entry');
    assert.equal(m('unknown', '::ffff:10.1.1.1'), true, 'IPv4-mapped client');
    assert.equal(m('unknown', '203.0.113.1'), false);
    assert.throws(() => matchHostList(['10.0.0.1/8'], 'x', '10.0.0.1', dir), /non-null host address bits/);
    assert.throws(() => matchHostList(['10.0.0.0/40'], 'x', '10.0.0.1', dir), /bad address pattern/);
    assert.equal(matchHostList(['fe80::/10'], 'unknown', 'fe80::1', dir), true, 'bare IPv6 networks are not tables');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('compileDomainList: names, .domain, tables, subdomains only when asked', () => {
  const exact = compileDomainList(['example.com', '.sub.example', 'inline:{ listed.example=1 }', '!bad.example.org', 'example.org'], '/', false);
  assert.equal(exact.match('EXAMPLE.com.'), true);
  assert.equal(exact.match('a.example.com'), false);
  assert.equal(exact.match('x.sub.example'), true);
  assert.equal(exact.match('listed.example'), true);
  assert.equal(exact.match('bad.example.org'), false);
  assert.equal(exact.match('example.org'), true);
  const parent = compileDomainList(['example.com'], '/', true);
  assert.equal(parent.match('a.example.com'), true);
});
