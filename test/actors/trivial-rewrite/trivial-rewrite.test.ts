/**
 * trivial-rewrite: canonical rewriting, virtual alias expansion and
 * resolution against real table files in a temporary directory.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MainConfig } from '../../../src/config/main-config.js';
import { TrivialRewrite } from '../../../src/actors/trivial-rewrite/trivial-rewrite.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trivial-rewrite-'));
  await writeFile(join(dir, 'sender_canonical'), 'joe@example.com joseph.smith@example.com\n@old.example @new.example\n');
  await writeFile(join(dir, 'canonical'), 'ann@example.com ann.lee@example.com\nbare@example.com plainuser\n');
  await writeFile(
    join(dir, 'virtual'),
    [
      'list@example.com a@x.test, b@y.test',
      'r1@example.com r2@example.com',
      'r2@example.com r3@example.com, c@z.test',
      'r3@example.com final@z.test',
      'self@example.com self@example.com, copy@z.test',
      'ping@example.com pong@example.com',
      'pong@example.com ping@example.com',
      'big@example.com m1@z.test m2@z.test m3@z.test m4@z.test m5@z.test',
      '@catch.example sink@z.test',
      'aliasdomain.example virtual-domain',
      'dup@example.com a@x.test, A@X.test, a@x.test',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'transport'),
    [
      'special@example.org error:5.1.1 mailbox gone',
      'routed.example smtp:[10.0.0.9]:2525',
      '.sub.example relay:',
      'keep-transport.example :[gateway.example]',
      '',
    ].join('\n'),
  );
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function make(params: Record<string, string>): TrivialRewrite {
  return new TrivialRewrite(
    new MainConfig(
      {
        myhostname: 'mx.example.net',
        mydomain: 'example.net',
        myorigin: 'origin.example',
        mydestination: 'mx.example.net, localhost',
        inet_interfaces: 'loopback-only',
        ...params,
      },
      dir,
    ),
  );
}

test('sender_canonical_maps rewrites full addresses and @domain keeps the local part', () => {
  const tr = make({ sender_canonical_maps: 'texthash:sender_canonical' });
  assert.deepEqual(tr.rewrite('joe@example.com', 'sender'), { addresses: ['joseph.smith@example.com'] });
  assert.deepEqual(tr.rewrite('Ann.Other@old.example', 'sender'), { addresses: ['Ann.Other@new.example'] });
  // Sender maps leave recipients alone.
  assert.deepEqual(tr.rewrite('joe@example.com', 'recipient'), { addresses: ['joe@example.com'] });
});

test('canonical_maps applies to both roles, compares domains case-insensitively, and requalifies a bare result', () => {
  const tr = make({ canonical_maps: 'texthash:canonical' });
  assert.deepEqual(tr.rewrite('ann@EXAMPLE.com', 'recipient'), { addresses: ['ann.lee@example.com'] });
  assert.deepEqual(tr.rewrite('ann@example.com', 'sender'), { addresses: ['ann.lee@example.com'] });
  assert.deepEqual(tr.rewrite('bare@example.com', 'sender'), { addresses: ['plainuser@origin.example'] });
});

test('a bare user gets @myorigin unless append_at_myorigin = no; the null sender stays empty', () => {
  assert.deepEqual(make({}).rewrite('bob', 'sender'), { addresses: ['bob@origin.example'] });
  assert.deepEqual(make({ append_at_myorigin: 'no' }).rewrite('bob', 'sender'), { addresses: ['bob'] });
  assert.deepEqual(make({}).rewrite('', 'sender'), { addresses: [''] });
});

test('an unmatched recipient_delimiter extension is carried into the canonical result', () => {
  const tr = make({ canonical_maps: 'texthash:canonical', recipient_delimiter: '+' });
  assert.deepEqual(tr.rewrite('ann+lists@example.com', 'recipient'), { addresses: ['ann.lee+lists@example.com'] });
  const noProp = make({ canonical_maps: 'texthash:canonical', recipient_delimiter: '+', propagate_unmatched_extensions: '' });
  assert.deepEqual(noProp.rewrite('ann+lists@example.com', 'recipient'), { addresses: ['ann.lee@example.com'] });
});

test('virtual_alias_maps expands one address to many, recursively, without duplicates', () => {
  const tr = make({ virtual_alias_maps: 'texthash:virtual' });
  assert.deepEqual(tr.rewrite('list@example.com', 'recipient'), { addresses: ['a@x.test', 'b@y.test'] });
  assert.deepEqual(tr.rewrite('r1@example.com', 'recipient'), { addresses: ['final@z.test', 'c@z.test'] });
  assert.deepEqual(tr.rewrite('dup@example.com', 'recipient'), { addresses: ['a@x.test'] });
  assert.deepEqual(tr.rewrite('anyone@catch.example', 'recipient'), { addresses: ['sink@z.test'] });
  // Virtual aliases apply to recipients only.
  assert.deepEqual(tr.rewrite('list@example.com', 'sender'), { addresses: ['list@example.com'] });
});

test('an alias that lists itself keeps the address', () => {
  const tr = make({ virtual_alias_maps: 'texthash:virtual' });
  assert.deepEqual(tr.rewrite('self@example.com', 'recipient'), { addresses: ['self@example.com', 'copy@z.test'] });
});

test('an alias loop is an expansion error after virtual_alias_recursion_limit', () => {
  const tr = make({ virtual_alias_maps: 'texthash:virtual', virtual_alias_recursion_limit: '20' });
  const r = tr.rewrite('ping@example.com', 'recipient');
  assert.equal(r.error, '4.6.0 Alias expansion error');
  assert.deepEqual(r.addresses, ['ping@example.com']);
});

test('an expansion over virtual_alias_expansion_limit is an error, at the limit it is not', () => {
  assert.equal(make({ virtual_alias_maps: 'texthash:virtual', virtual_alias_expansion_limit: '4' }).rewrite('big@example.com', 'recipient').error, '4.6.0 Alias expansion error');
  assert.equal(make({ virtual_alias_maps: 'texthash:virtual', virtual_alias_expansion_limit: '5' }).rewrite('big@example.com', 'recipient').addresses.length, 5);
});

test('canonical runs before virtual alias expansion', () => {
  const tr = make({ canonical_maps: 'inline:{ { alias@example.com = list@example.com } }', virtual_alias_maps: 'texthash:virtual' });
  assert.deepEqual(tr.rewrite('alias@example.com', 'recipient'), { addresses: ['a@x.test', 'b@y.test'] });
});

test('resolve: local class for mydestination, bare users and [ip] of this host, to local_transport (local:$myhostname)', () => {
  const tr = make({});
  const expected = { addressClass: 'local', transport: 'local', nexthop: 'mx.example.net' };
  assert.deepEqual(tr.resolve('User@MX.example.net'), { ...expected, recipient: 'User@MX.example.net' });
  assert.deepEqual(tr.resolve('root'), { ...expected, recipient: 'root' });
  assert.deepEqual(tr.resolve('u@[127.0.0.1]'), { ...expected, recipient: 'u@[127.0.0.1]' });
  assert.equal(tr.resolve('u@[192.0.2.77]').addressClass, 'default');
  const virt = make({ local_transport: 'virtual' }).resolve('u@localhost');
  assert.deepEqual(virt, { addressClass: 'local', transport: 'virtual', nexthop: 'mx.example.net', recipient: 'u@localhost' });
  assert.equal(make({ local_transport: 'discard:' }).resolve('u@localhost').transport, 'discard');
});

test('resolve: virtual alias, virtual mailbox, relay and default classes', () => {
  const tr = make({
    virtual_alias_domains: 'alias.example',
    virtual_mailbox_domains: 'mbox.example',
    relay_domains: 'relay.example',
  });
  assert.deepEqual(tr.resolve('x@alias.example'), {
    addressClass: 'virtual_alias',
    transport: 'error',
    nexthop: '5.1.1 User unknown in virtual alias table',
    recipient: 'x@alias.example',
  });
  assert.deepEqual(tr.resolve('x@MBOX.example'), { addressClass: 'virtual_mailbox', transport: 'virtual', nexthop: 'mbox.example', recipient: 'x@MBOX.example' });
  assert.deepEqual(tr.resolve('x@relay.example'), { addressClass: 'relay', transport: 'relay', nexthop: 'relay.example', recipient: 'x@relay.example' });
  // relay_domains matches subdomains (parent_domain_matches_subdomains); mydestination does not.
  assert.equal(tr.resolve('x@a.relay.example').addressClass, 'relay');
  assert.equal(tr.resolve('x@sub.mx.example.net').addressClass, 'default');
  assert.deepEqual(tr.resolve('x@elsewhere.test'), { addressClass: 'default', transport: 'smtp', nexthop: 'elsewhere.test', recipient: 'x@elsewhere.test' });
});

test('resolve: domain lists may name tables', () => {
  const tr = make({ virtual_alias_domains: 'texthash:virtual', virtual_mailbox_domains: 'inline:{ { mbox.example = ok } }' });
  // Postfix's virtual-alias-domain style: the domain itself is a key of the table.
  assert.equal(tr.resolve('x@aliasdomain.example').addressClass, 'virtual_alias');
  assert.equal(tr.resolve('x@catch.example').addressClass, 'default');
  assert.equal(tr.resolve('x@mbox.example').addressClass, 'virtual_mailbox');
  assert.equal(tr.resolve('x@other.example').addressClass, 'default');
});

test('resolve: relayhost in each form becomes the nexthop of the relay and default classes', () => {
  for (const form of ['[smtp.isp.example]:587', '[smtp.isp.example]', 'smtp.isp.example', 'smtp.isp.example:2525', '[192.0.2.1]:25']) {
    const tr = make({ relayhost: form, relay_domains: 'relay.example', virtual_mailbox_domains: 'mbox.example' });
    assert.equal(tr.resolve('x@elsewhere.test').nexthop, form);
    assert.equal(tr.resolve('x@relay.example').nexthop, form);
    // Not for the virtual mailbox class.
    assert.equal(tr.resolve('x@mbox.example').nexthop, 'mbox.example');
  }
  assert.deepEqual(make({ default_transport: 'smtp:[gw.example]', relayhost: 'other.example' }).resolve('x@a.test').nexthop, '[gw.example]');
});

test('resolve: transport_maps by address, domain, parent domain and "*"', () => {
  const tr = make({ transport_maps: 'texthash:transport', relayhost: '[relay.isp.example]', relay_domains: 'sub.example' });
  assert.deepEqual(tr.resolve('special@example.org'), { addressClass: 'default', transport: 'error', nexthop: '5.1.1 mailbox gone', recipient: 'special@example.org' });
  assert.deepEqual(tr.resolve('x@Routed.example'), { addressClass: 'default', transport: 'smtp', nexthop: '[10.0.0.9]:2525', recipient: 'x@Routed.example' });
  // "transport:" with an empty nexthop resets it to the recipient domain.
  assert.deepEqual(tr.resolve('x@deep.sub.example'), { addressClass: 'relay', transport: 'relay', nexthop: 'deep.sub.example', recipient: 'x@deep.sub.example' });
  // ".sub.example" does not match sub.example itself.
  assert.deepEqual(tr.resolve('x@sub.example'), { addressClass: 'relay', transport: 'relay', nexthop: '[relay.isp.example]', recipient: 'x@sub.example' });
  // ":nexthop" keeps the class's transport.
  assert.deepEqual(tr.resolve('x@keep-transport.example'), { addressClass: 'default', transport: 'smtp', nexthop: '[gateway.example]', recipient: 'x@keep-transport.example' });
  const star = make({ transport_maps: 'inline:{ { * = relay:[hub.example] } }' });
  assert.deepEqual(star.resolve('x@any.test'), { addressClass: 'default', transport: 'relay', nexthop: '[hub.example]', recipient: 'x@any.test' });
});

test('resolve and rewrite answers are cached', () => {
  const tr = make({ virtual_alias_maps: 'texthash:virtual' });
  assert.equal(tr.rewrite('list@example.com', 'recipient'), tr.rewrite('list@example.com', 'recipient'));
  assert.equal(tr.resolve('x@a.test'), tr.resolve('x@a.test'));
});

test('relay_transport and virtual_transport name the transport (and nexthop) of their classes', () => {
  const tr = make({ virtual_mailbox_domains: 'mbox.example', relay_domains: 'relay.example', relay_transport: 'smtp:[relay.gw.example]', virtual_transport: 'discard:' });
  assert.deepEqual([tr.resolve('x@relay.example').transport, tr.resolve('x@relay.example').nexthop], ['smtp', '[relay.gw.example]']);
  assert.deepEqual([tr.resolve('x@mbox.example').transport, tr.resolve('x@mbox.example').nexthop], ['discard', 'mbox.example']);
});

test('proxy_interfaces: user@[address] of a proxy in front of this host is local too', () => {
  assert.equal(make({}).resolve('u@[192.0.2.77]').addressClass, 'default');
  assert.equal(make({ proxy_interfaces: '192.0.2.77' }).resolve('u@[192.0.2.77]').addressClass, 'local');
});

test('append_dot_mydomain: yes turns user@host into user@host.$mydomain; no (the default) leaves it', () => {
  assert.deepEqual(make({}).rewrite('u@host', 'recipient'), { addresses: ['u@host'] });
  const tr = make({ append_dot_mydomain: 'yes' });
  assert.deepEqual(tr.rewrite('u@host', 'recipient'), { addresses: ['u@host.example.net'] });
  assert.deepEqual(tr.rewrite('u@host.example', 'sender'), { addresses: ['u@host.example'] });
  assert.deepEqual(tr.rewrite('u@[192.0.2.1]', 'sender'), { addresses: ['u@[192.0.2.1]'] });
  assert.deepEqual(tr.rewrite('bare', 'sender'), { addresses: ['bare@origin.example'] });
});

test('recipient_canonical_maps rewrite recipients only; virtual_maps is the legacy name of virtual_alias_maps', () => {
  const canon = make({ recipient_canonical_maps: 'texthash:canonical' });
  assert.deepEqual(canon.rewrite('ann@example.com', 'recipient'), { addresses: ['ann.lee@example.com'] });
  assert.deepEqual(canon.rewrite('ann@example.com', 'sender'), { addresses: ['ann@example.com'] });
  // virtual_alias_maps defaults to $virtual_maps: the legacy name alone expands aliases.
  const legacy = make({ virtual_maps: 'texthash:virtual' });
  assert.deepEqual(legacy.rewrite('list@example.com', 'recipient'), { addresses: ['a@x.test', 'b@y.test'] });
});

test('canonical(5) and virtual(5) "user" keys match in this host\'s domains only ($myorigin, $mydestination, [own address])', async () => {
  await writeFile(join(dir, 'localpart'), 'root admin@ops.test\nwebmaster wm@ops.test\n');
  const canon = make({ canonical_maps: 'texthash:localpart', recipient_delimiter: '+' });
  assert.deepEqual(canon.rewrite('root@origin.example', 'sender'), { addresses: ['admin@ops.test'] });
  assert.deepEqual(canon.rewrite('root', 'sender'), { addresses: ['admin@ops.test'] });
  assert.deepEqual(canon.rewrite('root@[127.0.0.1]', 'sender'), { addresses: ['admin@ops.test'] });
  assert.deepEqual(canon.rewrite('root@remote.test', 'sender'), { addresses: ['root@remote.test'] });
  const virt = make({ virtual_alias_maps: 'texthash:localpart', recipient_delimiter: '+' });
  assert.deepEqual(virt.rewrite('webmaster+site@mx.example.net', 'recipient'), { addresses: ['wm+site@ops.test'] });
  assert.deepEqual(virt.rewrite('webmaster@remote.test', 'recipient'), { addresses: ['webmaster@remote.test'] });
});

test('resolve: a relayhost list is the nexthop whole, for the smtp client to try in order', () => {
  assert.equal(make({ relayhost: '[a.example]:2525,  [b.example]:2525' }).resolve('x@remote.test').nexthop, '[a.example]:2525, [b.example]:2525');
});
