/**
 * Postfix's lookup order for virtual(5) and canonical(5) tables over real
 * SMTP to a sink: a virtual alias catch-all ("@catch.test"), an address
 * extension matched by its base address and carried into the result
 * (propagate_unmatched_extensions), "u1+ext@" in virtual_mailbox_maps;
 * and the header addresses a local client's mail arrives with at the sink,
 * rewritten by canonical maps and masquerade_domains, bare names completed.
 * The relayhost is a list whose first host is down. Virtual mailboxes get
 * X-Original-To, Postfix's Maildir names and virtual_uid_maps' owner.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { freePort, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;
let mailboxes: string;

before(async () => {
  sink = await startSmtpSink({});
  mailboxes = mkdtempSync(join(tmpdir(), 'postrider-vmail-'));
  const tables = mkdtempSync(join(tmpdir(), 'postrider-tables-'));
  writeFileSync(join(tables, 'virtual'), [
    '@catch.test catchall@remote.test',
    'plus@valias.test target@remote.test',
    'exact+tag@valias.test exact-tag@remote.test',
    'bare@valias.test bare@remote.test',
  ].join('\n') + '\n');
  writeFileSync(join(tables, 'vmailbox'), 'u1@vmail.test u1/\n');
  writeFileSync(join(tables, 'canonical'), 'old@client.test new@client.test\n@olddomain.test @newdomain.test\n');
  daemon = await startDaemon({
    params: {
      // A list: the first relay is down, so every delivery fails over to the second, as Postfix does.
      relayhost: `[127.0.0.1]:${await freePort()}, [127.0.0.1]:${sink.port}`,
      recipient_delimiter: '+-',
      virtual_alias_domains: 'catch.test valias.test',
      virtual_alias_maps: `texthash:${join(tables, 'virtual')}`,
      virtual_mailbox_domains: 'vmail.test',
      virtual_mailbox_maps: `texthash:${join(tables, 'vmailbox')}`,
      virtual_mailbox_base: mailboxes,
      virtual_uid_maps: 'static:1234',
      virtual_gid_maps: 'static:1235',
      sender_canonical_maps: `texthash:${join(tables, 'canonical')}`,
      masquerade_domains: 'example.com',
      masquerade_exceptions: 'root',
    },
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

async function deliveredTo(rcpt: string, from = 's@client.test'): Promise<string[]> {
  const r = await sendMail(daemon.port, { from, to: [rcpt], raw: `Subject: to ${rcpt}\r\n\r\nhello\r\n` });
  assert.match(r.response, /^250 /, `${rcpt} accepted`);
  await daemon.waitRemoved(r.queueId!, 20_000);
  const m = sink.messages.find((x) => x.raw.toString().includes(`Subject: to ${rcpt}`));
  return m ? m.rcptTo : [];
}

test('a virtual alias catch-all "@domain" takes any user of the domain', async () => {
  assert.deepEqual(await deliveredTo('anyone@catch.test'), ['catchall@remote.test']);
});

test('user+tag@domain matches user@domain and the tag is carried into the result', async () => {
  assert.deepEqual(await deliveredTo('plus+tag@valias.test'), ['target+tag@remote.test']);
  // A second delimiter of recipient_delimiter works the same, and keeps its own character.
  assert.deepEqual(await deliveredTo('plus-other@valias.test'), ['target-other@remote.test']);
});

test('an exact user+ext@domain entry wins over user@domain and nothing is appended', async () => {
  assert.deepEqual(await deliveredTo('exact+tag@valias.test'), ['exact-tag@remote.test']);
});

test('u1+ext@ of a virtual mailbox domain is accepted and delivered to u1\'s mailbox', async () => {
  const r = await sendMail(daemon.port, { from: 's@client.test', to: ['u1+ext@vmail.test'], raw: 'Subject: mailbox ext\r\n\r\nhello\r\n' });
  assert.match(r.response, /^250 /);
  await daemon.waitRemoved(r.queueId!, 20_000);
  const files = readdirSync(join(mailboxes, 'u1', 'new'));
  assert.equal(files.length, 1);
  const text = readFileSync(join(mailboxes, 'u1', 'new', files[0]), 'utf8');
  assert.match(text, /^Return-Path: <s@client\.test>\nX-Original-To: u1\+ext@vmail\.test\nDelivered-To: u1\+ext@vmail\.test\n/);
  assert.match(text, /Subject: mailbox ext/);
  // Postfix's Maildir name, and the owner virtual_uid_maps / virtual_gid_maps give.
  assert.match(files[0], /^\d+\.V[0-9a-f]+I[0-9a-f]+M\d{1,6}\./);
  const st = statSync(join(mailboxes, 'u1', 'new', files[0]));
  assert.deepEqual([st.uid, st.gid], [1234, 1235]);
});

test('an unknown user of a virtual alias domain without a catch-all is still refused', async () => {
  await assert.rejects(
    sendMail(daemon.port, { from: 's@client.test', to: ['nobody@valias.test'], raw: 'Subject: x\r\n\r\nx\r\n' }),
    (err: { response?: string }) => /^550 5\.1\.1 <nobody@valias\.test>: Recipient address rejected: User unknown in virtual alias table/.test(String(err.response)),
  );
});

test('sender_canonical_maps rewrites by address and by "@domain" to "@domain" (local part kept)', async () => {
  await deliveredTo('bare@valias.test', 'old@client.test');
  const m1 = sink.messages.find((x) => x.rcptTo.includes('bare@remote.test'))!;
  assert.equal(m1.mailFrom, 'new@client.test');
  const r = await sendMail(daemon.port, { from: 'who+x@olddomain.test', to: ['anyone2@catch.test'], raw: 'Subject: domain canon\r\n\r\nx\r\n' });
  await daemon.waitRemoved(r.queueId!, 20_000);
  const m2 = sink.messages.find((x) => x.raw.toString().includes('Subject: domain canon'))!;
  assert.equal(m2.mailFrom, 'who+x@newdomain.test');
});

test('header addresses of a local client are rewritten: sender canonical, masquerading, @$myorigin for bare names', async () => {
  const raw = 'From: Old <old@client.test>\r\nTo: a@host.example.com, root@host.example.com\r\nCc: bob\r\nSubject: headers\r\n\r\nx\r\n';
  const r = await sendMail(daemon.port, { from: 'who@host.example.com', to: ['anyone3@catch.test'], raw });
  await daemon.waitRemoved(r.queueId!, 20_000);
  const m = sink.messages.find((x) => x.raw.toString().includes('Subject: headers'))!;
  const text = m.raw.toString();
  assert.equal(m.mailFrom, 'who@example.com', 'the envelope sender is masqueraded (masquerade_classes)');
  assert.match(text, /^From: Old <new@client\.test>$/m);
  assert.match(text, /^To: a@example\.com, root@host\.example\.com$/m);
  assert.match(text, /^Cc: bob@mx\.postrider\.test$/m);
});
