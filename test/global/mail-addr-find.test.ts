/**
 * mail-addr-find: Postfix's lookup order for address-keyed tables, each
 * form in turn, with the keys a table was actually asked recorded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mailAddrFind, propagateExtension, splitLocalPart, type AddrLookup } from '../../src/global/mail-addr-find.js';

/** A table over `entries` that records every key it is asked. */
function table(entries: Record<string, string>): { lookup: AddrLookup; asked: string[] } {
  const asked: string[] = [];
  return { asked, lookup: (key, partial) => (asked.push(partial ? `~${key}` : key), entries[key]) };
}

test('the full order: user+ext@domain, user@domain, user+ext, user (local domain), @domain', () => {
  const t = table({});
  assert.equal(mailAddrFind(t.lookup, 'U+Ext@Example.COM', { delimiters: '+', isLocal: () => true }), undefined);
  assert.deepEqual(t.asked, ['u+ext@example.com', '~u@example.com', '~u+ext', '~u', '~@example.com']);
});

test('a remote domain gets no local-part keys', () => {
  const t = table({});
  mailAddrFind(t.lookup, 'u+ext@remote.test', { delimiters: '+', isLocal: (d) => d === 'here.test' });
  assert.deepEqual(t.asked, ['u+ext@remote.test', '~u@remote.test', '~@remote.test']);
});

test('a hit by the base address reports the unmatched extension; an exact or @domain hit reports none', () => {
  const entries = { 'plus@valias.test': 'target@remote.test', 'exact+tag@valias.test': 'x@remote.test', '@catch.test': 'catchall@remote.test' };
  assert.deepEqual(mailAddrFind(table(entries).lookup, 'plus+tag@valias.test', { delimiters: '+' }), { value: 'target@remote.test', key: 'plus@valias.test', extension: '+tag' });
  assert.deepEqual(mailAddrFind(table(entries).lookup, 'exact+tag@valias.test', { delimiters: '+' }), { value: 'x@remote.test', key: 'exact+tag@valias.test', extension: '' });
  assert.deepEqual(mailAddrFind(table(entries).lookup, 'who+x@catch.test', { delimiters: '+' }), { value: 'catchall@remote.test', key: '@catch.test', extension: '' });
});

test('several delimiters: the first one in the local part splits, and the extension keeps its own character', () => {
  assert.deepEqual(splitLocalPart('a-b+c', '+-'), { base: 'a', extension: '-b+c' });
  const hit = mailAddrFind(table({ 'plus@v.test': 't@r.test' }).lookup, 'plus-x@v.test', { delimiters: '+-' });
  assert.equal(hit?.extension, '-x');
});

test('no split at the first character, nor of postmaster, MAILER-DAEMON, owner-* and *-request with "-"', () => {
  assert.deepEqual(splitLocalPart('+abc', '+'), { base: '+abc', extension: '' });
  assert.deepEqual(splitLocalPart('owner-list', '-'), { base: 'owner-list', extension: '' });
  assert.deepEqual(splitLocalPart('list-request', '-'), { base: 'list-request', extension: '' });
  assert.deepEqual(splitLocalPart('list-other', '-'), { base: 'list', extension: '-other' });
  assert.deepEqual(splitLocalPart('MAILER-DAEMON', '-'), { base: 'MAILER-DAEMON', extension: '' });
  assert.deepEqual(splitLocalPart('user', ''), { base: 'user', extension: '' });
});

test('aliases(5) mode looks up the local part and then its base only', () => {
  const t = table({ joe: 'joe@elsewhere.test' });
  assert.deepEqual(mailAddrFind(t.lookup, 'joe+list', { delimiters: '+', localPart: true }), { value: 'joe@elsewhere.test', key: 'joe', extension: '+list' });
  assert.deepEqual(t.asked, ['joe+list', '~joe']);
});

test('the extension goes into the result\'s local part', () => {
  assert.equal(propagateExtension('target@remote.test', '+tag'), 'target+tag@remote.test');
  assert.equal(propagateExtension('localuser', '+tag'), 'localuser+tag');
  assert.equal(propagateExtension('a@b.test', ''), 'a@b.test');
});
