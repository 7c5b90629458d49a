/**
 * cleanup's header address rewriting with trivial-rewrite in-process and
 * real table files: the local context (local_header_rewrite_clients,
 * append_at_myorigin, append_dot_mydomain), the remote one
 * (remote_header_rewrite_domain, or none), canonical_classes,
 * sender_canonical_classes and masquerading with its exceptions and classes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterReceived, makeCleanup, queued, smtpInput } from './cleanup-fixture.js';

let dir: string;
const LOCAL_CLIENT = { name: 'localhost', addr: '127.0.0.1', helo: 'localhost', protocol: 'ESMTP' };
const MESSAGE =
  'From: Joe <joe@client.test>\r\nSender: joe@host.example.com\r\nTo: "Ann" <ann@host.example.com>,\r\n root@host.example.com, carl@host\r\n' +
  'Cc: bob\r\nSubject: joe@client.test stays\r\n\r\nbody joe@client.test\r\n';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cleanup-hdr-'));
  await writeFile(join(dir, 'canonical'), 'joe@client.test joseph@client.test\n');
  await writeFile(join(dir, 'sender_canonical'), 'ann@host.example.com ann.sender@example.com\n');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function headersOf(params: Record<string, string>, client = LOCAL_CLIENT, sender = 'joe@client.test'): Promise<{ header: string; sender: string; recipients: string[] }> {
  const c = makeCleanup(params, dir);
  try {
    const m = queued(await c.process(smtpInput(MESSAGE, { client, sender, recipients: [{ address: 'ann@host.example.com' }] })));
    const text = afterReceived(m).toString('utf8');
    return { header: text.slice(0, text.indexOf('\r\n\r\n')), sender: m.sender, recipients: m.recipients.map((r) => r.address) };
  } finally {
    await c.close();
  }
}

test('local clients: canonical_maps and masquerade_domains rewrite header addresses; bare names get @$myorigin, host names .$mydomain', async () => {
  const r = await headersOf({
    canonical_maps: 'texthash:canonical',
    masquerade_domains: 'example.com',
    masquerade_exceptions: 'root',
    append_dot_mydomain: 'yes',
  });
  assert.match(r.header, /^From: Joe <joseph@client\.test>$/m);
  assert.match(r.header, /^Sender: joe@example\.com$/m);
  assert.match(r.header, /^To: "Ann" <ann@example\.com>,\r\n root@host\.example\.com, carl@host\.example\.net$/m);
  assert.match(r.header, /^Cc: bob@example\.net$/m);
  assert.match(r.header, /^Subject: joe@client\.test stays$/m);
  // Envelope: the sender is canonical and masquerading applies to envelope_sender only by default.
  assert.equal(r.sender, 'joseph@client.test');
  assert.deepEqual(r.recipients, ['ann@host.example.com']);
});

test('masquerade_classes with envelope_recipient masquerades the envelope recipient too; "!domain" excludes', async () => {
  const r = await headersOf({ masquerade_domains: 'example.com', masquerade_classes: 'envelope_recipient, header_recipient' });
  assert.deepEqual(r.recipients, ['ann@example.com']);
  assert.match(r.header, /^Sender: joe@host\.example\.com$/m, 'header_sender not in the classes');
  const ex = await headersOf({ masquerade_domains: '!host.example.com, example.com' });
  assert.match(ex.header, /^Sender: joe@host\.example\.com$/m);
});

test('canonical_classes, sender_canonical_classes and recipient_canonical_classes limit the maps to the classes named', async () => {
  const envOnly = await headersOf({ canonical_maps: 'texthash:canonical', canonical_classes: 'envelope_sender' });
  assert.match(envOnly.header, /^From: Joe <joe@client\.test>$/m);
  assert.equal(envOnly.sender, 'joseph@client.test');
  const hdrOnly = await headersOf({ canonical_maps: 'texthash:canonical', canonical_classes: 'header_sender' });
  assert.match(hdrOnly.header, /^From: Joe <joseph@client\.test>$/m);
  assert.equal(hdrOnly.sender, 'joe@client.test');
  // sender_canonical_maps rewrites sender headers only: To: keeps ann@host.example.com.
  const sc = await headersOf({ sender_canonical_maps: 'texthash:sender_canonical' }, LOCAL_CLIENT, 'ann@host.example.com');
  assert.equal(sc.sender, 'ann.sender@example.com');
  assert.match(sc.header, /^To: "Ann" <ann@host\.example\.com>,/m);
  // recipient_canonical_classes: the envelope recipient only, or the header recipients too (the default).
  const rc = { recipient_canonical_maps: 'texthash:sender_canonical' };
  const envRcpt = await headersOf({ ...rc, recipient_canonical_classes: 'envelope_recipient' });
  assert.deepEqual(envRcpt.recipients, ['ann.sender@example.com']);
  assert.match(envRcpt.header, /^To: "Ann" <ann@host\.example\.com>,/m);
  const both = await headersOf(rc);
  assert.match(both.header, /^To: "Ann" <ann\.sender@example\.com>,/m);
});

test('remote clients: headers untouched without remote_header_rewrite_domain; with it bare names get that domain', async () => {
  const remote = { name: 'mail.sender.example', addr: '192.0.2.10', helo: 'mail.sender.example', protocol: 'ESMTP' };
  const params = { canonical_maps: 'texthash:canonical', append_dot_mydomain: 'yes' };
  const none = await headersOf(params, remote);
  assert.match(none.header, /^From: Joe <joe@client\.test>$/m);
  assert.match(none.header, /^Cc: bob$/m);
  assert.equal(none.sender, 'joseph@client.test', 'the envelope is rewritten whatever the client');
  const withDomain = await headersOf({ ...params, remote_header_rewrite_domain: 'domain.invalid' }, remote);
  assert.match(withDomain.header, /^From: Joe <joseph@client\.test>$/m);
  assert.match(withDomain.header, /^Cc: bob@domain\.invalid$/m);
  assert.match(withDomain.header, /carl@host$/m, 'no .$mydomain in the remote context');
  // local_header_rewrite_clients decides which clients are local.
  const asLocal = await headersOf({ ...params, local_header_rewrite_clients: 'static:all' }, remote);
  assert.match(asLocal.header, /^Cc: bob@example\.net$/m);
});
