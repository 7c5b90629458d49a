/**
 * cleanup-header-addresses: which headers carry addresses, where the
 * addr-specs are in a header value, and a header line rewritten with its
 * display names, comments, groups and folding kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressSpans, headerRole, rewriteHeaderLine } from '../../src/cleanup/cleanup-header-addresses.js';

function addrs(value: string): string[] | null {
  const spans = addressSpans(value);
  return spans && spans.map((s) => value.slice(s.start, s.end));
}

test('sender and recipient headers as Postfix classes them', () => {
  for (const h of ['from', 'sender', 'reply-to', 'resent-from', 'errors-to']) assert.equal(headerRole(h), 'sender');
  for (const h of ['to', 'cc', 'bcc', 'resent-to', 'apparently-to']) assert.equal(headerRole(h), 'recipient');
  assert.equal(headerRole('subject'), undefined);
  assert.equal(headerRole('message-id'), undefined);
});

test('addr-specs in name-addrs, bare addresses, comments, quoted names with commas, groups and literals', () => {
  assert.deepEqual(addrs(' "Doe, John" <john@a.test>, bare@b.test (Bare, Person), <c@c.test>'), ['john@a.test', 'bare@b.test', 'c@c.test']);
  assert.deepEqual(addrs(' undisclosed-recipients:;'), []);
  assert.deepEqual(addrs(' team: x@a.test, y@b.test;, z@c.test'), ['x@a.test', 'y@b.test', 'z@c.test']);
  assert.deepEqual(addrs(' root'), ['root']);
  assert.deepEqual(addrs(' (comment) user@[IPv6:::1]'), ['user@[IPv6:::1]']);
  assert.deepEqual(addrs(' <@route.test:user@d.test>'), ['user@d.test']);
  assert.deepEqual(addrs(' <>'), []);
  assert.equal(addrs(' "unclosed <a@b.test>'), null);
});

test('only the addresses change; folding and names stay; nothing changed gives undefined', async () => {
  const map = async (a: string): Promise<string> => (a === 'root' ? 'root@origin.test' : a.replace('@host.example.com', '@example.com'));
  assert.equal(
    await rewriteHeaderLine('To: "Ann" <ann@host.example.com>,\r\n\troot (the admin)', map),
    'To: "Ann" <ann@example.com>,\r\n\troot@origin.test (the admin)',
  );
  assert.equal(await rewriteHeaderLine('To: ann@other.test', map), undefined);
});
