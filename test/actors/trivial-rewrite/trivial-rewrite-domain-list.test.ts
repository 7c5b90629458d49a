/** trivial-rewrite's domain lists: config's compileDomainList, with failures that defer mail. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DomainList, parentMatchesSubdomains } from '../../../src/actors/trivial-rewrite/trivial-rewrite-domain-list.js';
import { TableLookupError } from '../../../src/actors/trivial-rewrite/trivial-rewrite-tables.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trivial-rewrite-domains-'));
  await writeFile(join(dir, 'domains'), 'listed.example ok\n.dotted.example ok\nparent.example ok\n');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('names, ".parent" patterns, "!" exclusions: the first matching entry decides', () => {
  const list = new DomainList('!bad.example.org, Example.COM. .example.org, example.org', dir, 'mydestination', false);
  assert.equal(list.match('example.com'), true);
  assert.equal(list.match('EXAMPLE.com.'), true);
  assert.equal(list.match('sub.example.com'), false);
  assert.equal(list.match('a.example.org'), true);
  assert.equal(list.match('bad.example.org'), false);
  assert.equal(list.match('example.org'), true);
  assert.equal(list.match(''), false);
});

test('parent_domain_matches_subdomains: a plain name also matches its subdomains, in tables too', () => {
  const plain = new DomainList(`example.com texthash:domains`, dir, 'relay_domains', true);
  assert.equal(plain.match('deep.sub.example.com'), true);
  assert.equal(plain.match('x.parent.example'), true);
  const strict = new DomainList(`example.com texthash:domains`, dir, 'mydestination', false);
  assert.equal(strict.match('deep.sub.example.com'), false);
  assert.equal(strict.match('x.parent.example'), false);
  // Without parent matching, a table's ".domain" key names the subdomains.
  assert.equal(strict.match('a.dotted.example'), true);
  assert.equal(strict.match('listed.example'), true);
});

test('a table that cannot be opened throws TableLookupError naming the parameter', () => {
  assert.throws(() => new DomainList('texthash:missing-file', dir, 'virtual_alias_domains', false), (err: unknown) => {
    assert.ok(err instanceof TableLookupError);
    assert.equal(err.code, 'ERR_TABLE_LOOKUP');
    assert.match(err.message, /^virtual_alias_domains: /);
    return true;
  });
});

test('parentMatchesSubdomains: Postfix\'s default list, or the configured one', () => {
  assert.equal(parentMatchesSubdomains(undefined, 'relay_domains'), true);
  assert.equal(parentMatchesSubdomains(undefined, 'mydestination'), false);
  assert.equal(parentMatchesSubdomains('mydestination', 'mydestination'), true);
  assert.equal(parentMatchesSubdomains('', 'relay_domains'), false);
});
