/**
 * DSN and the original recipient end to end, as Postfix 3.7 behaves:
 * - an ORCPT received comes back as the notice's Original-Recipient;
 * - NOTIFY=SUCCESS to a next hop that offers DSN is passed on with ORCPT
 *   and no success notice is sent from here (the next hop sends it);
 * - to a next hop without DSN the success notice says "relayed";
 * - after virtual alias expansion the log has orig_to=<alias>, the next hop
 *   gets ORCPT=rfc822;alias, and virtual(8) writes X-Original-To: alias.
 * dsn.test is a sink offering DSN, plain.test one without it; notices to
 * the senders go through the relayhost, a third sink.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSmtpSink, type SmtpSink, noticesTo as noticesAt } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

let dsnSink: SmtpSink;
let plainSink: SmtpSink;
let noticeSink: SmtpSink;
let daemon: RunningDaemon;
let base = '';

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'postrider-dsn-orig-'));
  dsnSink = await startSmtpSink();
  plainSink = await startSmtpSink({
    host: '127.0.0.2',
    dsn: false,
    rcpt: (to) => (to.startsWith('gone@') ? { code: 550, message: `5.1.1 <${to}>: Recipient address rejected: User unknown` } : null),
  });
  noticeSink = await startSmtpSink({ host: '127.0.0.3' });
  daemon = await startDaemon({
    params: {
      relayhost: `[127.0.0.3]:${noticeSink.port}`,
      transport_maps: `inline:{ dsn.test=smtp:[127.0.0.1]:${dsnSink.port}, plain.test=smtp:[127.0.0.2]:${plainSink.port} }`,
      virtual_alias_domains: 'virt.test',
      virtual_alias_maps: 'inline:{ sales@virt.test=desk@plain.test, help@virt.test=agent@dsn.test, box@virt.test=mailbox@vbox.test, lost@virt.test=gone@plain.test }',
      virtual_mailbox_domains: 'vbox.test',
      virtual_mailbox_maps: 'inline:{ mailbox@vbox.test=vbox/mailbox/ }',
      virtual_mailbox_base: base,
    },
  });
});

after(async () => {
  await daemon?.stop();
  await dsnSink?.close();
  await plainSink?.close();
  await noticeSink?.close();
  if (base) rmSync(base, { recursive: true, force: true });
});

async function send(from: string, to: string, dsn?: { notify?: string[]; orcpt?: string }): Promise<string> {
  const r = await sendMail(daemon.port, { from, to: [to], raw: `From: ${from}\r\nSubject: dsn test\r\n\r\nhello\r\n`, dsn: dsn as never });
  assert.match(r.response, /^250 /);
  assert.ok(r.queueId);
  return r.queueId;
}

function noticesTo(sender: string): string[] {
  return noticesAt(noticeSink, sender);
}

test('an ORCPT received is the failure notice\'s Original-Recipient; without one, the address before alias expansion is, and the text says "expanded from"', async () => {
  const id = await send('orcpt@sender.test', 'gone@plain.test', { orcpt: 'rfc822;first@orig.example' });
  await daemon.waitRemoved(id);
  await waitFor(() => noticesTo('orcpt@sender.test').length > 0, 20_000, 'the failure notice');
  const notice = noticesTo('orcpt@sender.test')[0];
  assert.match(notice, /\r\nFinal-Recipient: rfc822; gone@plain\.test\r\nOriginal-Recipient: rfc822;first@orig\.example\r\nAction: failed\r\n/);
  const aliased = await send('lost@sender.test', 'lost@virt.test');
  await daemon.waitRemoved(aliased);
  await waitFor(() => noticesTo('lost@sender.test').length > 0, 20_000, 'the second failure notice');
  const second = noticesTo('lost@sender.test')[0];
  assert.match(second, /\r\n<gone@plain\.test> \(expanded from <lost@virt\.test>\): host 127\.0\.0\.2\[127\.0\.0\.2\]\r\n    said: 550 5\.1\.1/);
  assert.match(second, /\r\nFinal-Recipient: rfc822; gone@plain\.test\r\nOriginal-Recipient: rfc822; lost@virt\.test\r\nAction: failed\r\n/);
});

test('NOTIFY=SUCCESS to a next hop with DSN is passed on with ORCPT, and no success notice comes from here', async () => {
  const id = await send('dsnhop@sender.test', 'user@dsn.test', { notify: ['SUCCESS', 'FAILURE'] });
  await daemon.waitRemoved(id);
  const got = dsnSink.messages.find((m) => m.rcptTo.includes('user@dsn.test'));
  assert.ok(got, 'the DSN next hop got the message');
  assert.equal(got.rcptParams[0].NOTIFY, 'SUCCESS,FAILURE');
  assert.equal(got.rcptParams[0].ORCPT, 'rfc822;user@dsn.test');
  // A notice is queued before the message is removed: none was, for this message.
  assert.doesNotMatch(daemon.log(), new RegExp(`${id}: sender delivery status notification`));
  assert.equal(noticesTo('dsnhop@sender.test').length, 0);
  assert.match(daemon.log(), new RegExp(`${id}: to=<user@dsn\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:\\d+, .*status=sent`));
});

test('NOTIFY=SUCCESS to a next hop without DSN gets a "relayed" success notice naming the next hop', async () => {
  const id = await send('relayed@sender.test', 'user@plain.test', { notify: ['SUCCESS'] });
  await daemon.waitRemoved(id);
  await waitFor(() => noticesTo('relayed@sender.test').length > 0, 20_000, 'the success notice');
  const notice = noticesTo('relayed@sender.test')[0];
  assert.match(notice, /Subject: Successful Mail Delivery Report/);
  assert.match(notice, /\r\nFinal-Recipient: rfc822; user@plain\.test\r\nOriginal-Recipient: rfc822; user@plain\.test\r\nAction: relayed\r\nStatus: 2\.0\.0\r\nRemote-MTA: dns; 127\.0\.0\.2\r\n/);
  assert.equal(plainSink.messages.find((m) => m.rcptTo.includes('user@plain.test'))?.rcptParams[0].NOTIFY, undefined, 'no DSN parameters to a server without DSN');
});

test('after virtual alias expansion: orig_to=<alias> in the log, ORCPT=rfc822;alias to a DSN next hop', async () => {
  const one = await send('alias@sender.test', 'sales@virt.test');
  const two = await send('alias@sender.test', 'help@virt.test');
  await daemon.waitRemoved(one);
  await daemon.waitRemoved(two);
  assert.match(daemon.log(), new RegExp(`${one}: to=<desk@plain\\.test>, orig_to=<sales@virt\\.test>, relay=127\\.0\\.0\\.2\\[127\\.0\\.0\\.2\\]:\\d+, .*status=sent`));
  assert.match(daemon.log(), new RegExp(`${two}: to=<agent@dsn\\.test>, orig_to=<help@virt\\.test>, relay=`));
  const got = dsnSink.messages.find((m) => m.rcptTo.includes('agent@dsn.test'));
  assert.equal(got?.rcptParams[0].ORCPT, 'rfc822;help@virt.test');
  // An unexpanded recipient logs no orig_to.
  assert.doesNotMatch(daemon.log(), /to=<user@dsn\.test>, orig_to=/);
});

test('virtual(8) writes X-Original-To: the address before virtual alias expansion', async () => {
  const id = await send('vbox@sender.test', 'box@virt.test');
  await daemon.waitRemoved(id);
  const dir = join(base, 'vbox/mailbox/new');
  const files = readdirSync(dir);
  assert.equal(files.length, 1);
  assert.match(readFileSync(join(dir, files[0]), 'latin1'), /^Return-Path: <vbox@sender\.test>\nX-Original-To: box@virt\.test\nDelivered-To: mailbox@vbox\.test\n/);
  assert.match(daemon.log(), new RegExp(`${id}: to=<mailbox@vbox\\.test>, orig_to=<box@virt\\.test>, relay=virtual, .*status=sent \\(delivered to maildir\\)`));
});
