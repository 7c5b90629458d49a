/**
 * sendmail -bv end to end, as Postfix 3.7 does it: nothing is delivered;
 * each recipient is tested as far as its delivery agent would go (smtp:
 * MAIL FROM and RCPT TO, then RSET or QUIT, never DATA; local: the alias
 * expansion and whether the user exists; error: its text), each verdict is
 * logged status=deliverable or status=undeliverable, and the sender gets
 * one "Mail Delivery Status Report" with a line and a DSN block per
 * address (Action: deliverable / undeliverable). A local alias's forwarded
 * addresses go into a verify-only copy, which reports on them in turn.
 * The verify-only flag is kept by the journal: a message that waits in the
 * queue over a restart is still only verified.
 * The next hop is a sink offering DSN; reports go through the relayhost, a
 * second sink.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSmtpSink, type SmtpSink, noticesTo as noticesAt } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/send-mail.js';

let nextHop: SmtpSink;
let noticeSink: SmtpSink;
let daemon: RunningDaemon;
let dir = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postrider-verify-'));
  writeFileSync(join(dir, 'aliases'), `team: ann@remote.test, ${join(dir, 'team.mbox')}\n`);
  nextHop = await startSmtpSink({ rcpt: (to) => (to.startsWith('nobody@') ? { code: 550, message: '5.1.1 <nobody@remote.test>: Recipient address rejected: User unknown' } : null) });
  noticeSink = await startSmtpSink({ host: '127.0.0.3' });
  writeFileSync(join(dir, 'transport'), [`remote.test smtp:[127.0.0.1]:${nextHop.port}`, 'gone.test error:5.1.2 this domain is gone', 'drop.test discard:dropped here', ''].join('\n'));
  writeFileSync(join(dir, 'transport.re'), `/@later\\.test$/ later:[127.0.0.1]:${nextHop.port}\n`);
  daemon = await startDaemon({
    params: {
      myhostname: 'box.test',
      mydestination: '$myhostname',
      alias_maps: `hash:${join(dir, 'aliases')}`,
      alias_database: `hash:${join(dir, 'aliases')}`,
      relayhost: `[127.0.0.3]:${noticeSink.port}`,
      transport_maps: `texthash:${join(dir, 'transport')}, regexp:${join(dir, 'transport.re')}`,
      virtual_mailbox_domains: 'vbox.test',
      virtual_mailbox_maps: 'inline:{ box@vbox.test=vbox/box/ }',
      virtual_mailbox_base: dir,
    },
  });
});

after(async () => {
  await daemon?.stop();
  await nextHop?.close();
  await noticeSink?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function reportsTo(sender: string): string[] {
  return noticesAt(noticeSink, sender);
}

/** The queue id pickup gave the verify-only message of `sender`. */
async function queueIdOf(sender: string): Promise<string> {
  let id = '';
  await waitFor(() => {
    id = new RegExp(`([0-9A-Za-z]+): uid=\\d+ from=<${sender.replace(/\./g, '\\.')}>`).exec(daemon.log())?.[1] ?? '';
    return id !== '';
  }, 20_000, 'pickup');
  return id;
}

/** A report's lines, with wrapped lines joined, for matching. */
function unwrapped(report: string): string {
  return report.replace(/\r\n {4}(?=\S)/g, ' ');
}

test('sendmail -bv: RCPT but never DATA at the next hop, one report with a verdict per address, nothing delivered', async () => {
  const sender = 'tester@sender.test';
  const r = await daemon.cli(['sendmail', '-bv', '-f', sender, 'ann@remote.test', 'nobody@remote.test', 'ghost@box.test', 'x@gone.test']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `Mail Delivery Status Report will be mailed to <${sender}>.\n`);
  const id = await queueIdOf(sender);
  await daemon.waitRemoved(id);
  await waitFor(() => reportsTo(sender).length > 0, 20_000, 'the report');

  assert.match(nextHop.wire, /RCPT TO:<ann@remote\.test>/);
  assert.match(nextHop.wire, /RCPT TO:<nobody@remote\.test>/);
  assert.doesNotMatch(nextHop.wire, /^(DATA|BDAT)/m, 'no message content was sent');
  assert.equal(nextHop.messages.length, 0, 'nothing delivered');

  const report = unwrapped(reportsTo(sender)[0]);
  assert.match(report, /\r\nSubject: Mail Delivery Status Report\r\n/);
  assert.match(report, /Content-Type: multipart\/report; report-type=delivery-status;/);
  assert.match(report, /\r\nEnclosed is the mail delivery report that you requested\.\r\n/);
  assert.match(report, new RegExp(`\\r\\n<ann@remote\\.test>: delivery via 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${nextHop.port}: 250 `));
  assert.match(report, /\r\n<nobody@remote\.test>: delivery via 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1/);
  assert.match(report, /\r\n<ghost@box\.test>: delivery via local: unknown user: "ghost"\r\n/);
  assert.match(report, /\r\n<x@gone\.test>: this domain is gone\r\n/);
  assert.match(report, /\r\nFinal-Recipient: rfc822; ann@remote\.test\r\nOriginal-Recipient: rfc822; ann@remote\.test\r\nAction: deliverable\r\nStatus: 2\.\d\.\d\r\nRemote-MTA: dns; 127\.0\.0\.1\r\nDiagnostic-Code: smtp; 250 /);
  assert.match(report, /\r\nFinal-Recipient: rfc822; nobody@remote\.test\r\nOriginal-Recipient: rfc822; nobody@remote\.test\r\nAction: undeliverable\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; 127\.0\.0\.1\r\nDiagnostic-Code: smtp; 550 5\.1\.1/);
  assert.match(report, /\r\nFinal-Recipient: rfc822; ghost@box\.test\r\nOriginal-Recipient: rfc822; ghost@box\.test\r\nAction: undeliverable\r\nStatus: 5\.1\.1\r\n/);
  assert.match(report, /\r\nFinal-Recipient: rfc822; x@gone\.test\r\nOriginal-Recipient: rfc822; x@gone\.test\r\nAction: undeliverable\r\nStatus: 5\.1\.2\r\n/);
  assert.match(report, /Content-Description: Message Headers\r\nContent-Type: text\/rfc822-headers/);
  assert.equal(reportsTo(sender).length, 1, 'one report');

  const log = daemon.log();
  assert.match(log, new RegExp(`${id}: to=<ann@remote\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:\\d+, .*status=deliverable \\(250 `));
  assert.match(log, new RegExp(`${id}: to=<nobody@remote\\.test>, relay=.*dsn=5\\.1\\.1, status=undeliverable \\(host 127`));
  assert.match(log, new RegExp(`${id}: to=<ghost@box\\.test>, relay=local, .*dsn=5\\.1\\.1, status=undeliverable \\(unknown user: "ghost"\\)`));
  assert.match(log, new RegExp(`${id}: to=<x@gone\\.test>, relay=none, .*status=undeliverable \\(this domain is gone\\)`));
  assert.match(log, new RegExp(`${id}: sender delivery status notification: `));
  assert.doesNotMatch(log, new RegExp(`${id}: to=<[^>]+>, .*status=(sent|bounced)`));
  assert.doesNotMatch(log, new RegExp(`${id}: sender non-delivery notification`));
});

test('sendmail -bv of a local alias: the file is only named, and the forwarded address is verified by a verify-only copy', async () => {
  const sender = 'lists@sender.test';
  const rcpts = (): number => nextHop.wire.split('RCPT TO:<ann@remote.test>').length;
  const before = rcpts();
  const r = await daemon.cli(['sendmail', '-bv', '-f', sender, 'team@box.test']);
  assert.equal(r.code, 0, r.stderr);
  const id = await queueIdOf(sender);
  await daemon.waitRemoved(id);
  await waitFor(() => reportsTo(sender).length >= 2, 20_000, 'the two reports');
  const [first, second] = reportsTo(sender).map(unwrapped).sort((a, b) => Number(b.includes('delivers to file')) - Number(a.includes('delivers to file')));
  // A file of an alias is reported under the alias, as the address that delivers to it.
  assert.match(first, new RegExp(`\\r\\n<team@box\\.test>: delivery via local: delivers to file: ${join(dir, 'team.mbox').replace(/[./]/g, '\\$&')}\\r\\n`));
  assert.match(first, /\r\n<ann@remote\.test> \(expanded from <team@box\.test>\): delivery via local: forwarded as [0-9A-Za-z]+\r\n/);
  assert.match(first, /\r\nFinal-Recipient: rfc822; ann@remote\.test\r\nOriginal-Recipient: rfc822; team@box\.test\r\nAction: deliverable\r\n/);
  assert.match(second, /\r\n<ann@remote\.test> \(expanded from <team@box\.test>\): delivery via 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: 250 /);
  assert.match(second, /\r\nAction: deliverable\r\n/);
  assert.ok(rcpts() > before, 'the forwarded address was tested at the next hop');
  assert.equal(nextHop.messages.length, 0, 'nothing delivered');
  assert.equal(existsSync(join(dir, 'team.mbox')), false, 'the alias file was not written');
});

test('sendmail -bv to virtual(8) and discard(8): the mailbox is looked up but not written, discard gives its text', async () => {
  const sender = 'virt@sender.test';
  const r = await daemon.cli(['sendmail', '-bv', '-f', sender, 'box@vbox.test', 'nobox@vbox.test', 'any@drop.test']);
  assert.equal(r.code, 0, r.stderr);
  const id = await queueIdOf(sender);
  await daemon.waitRemoved(id);
  await waitFor(() => reportsTo(sender).length > 0, 20_000, 'the report');
  const report = unwrapped(reportsTo(sender)[0]);
  assert.match(report, /\r\n<box@vbox\.test>: delivery via virtual: delivers to maildir\r\n/);
  assert.match(report, /\r\n<nobox@vbox\.test>: delivery via virtual: unknown user: "nobox@vbox\.test"\r\n/);
  assert.match(report, /\r\n<any@drop\.test>: dropped here\r\n/);
  assert.match(report, /\r\nFinal-Recipient: rfc822; box@vbox\.test\r\nOriginal-Recipient: rfc822; box@vbox\.test\r\nAction: deliverable\r\n/);
  assert.match(report, /\r\nFinal-Recipient: rfc822; nobox@vbox\.test\r\nOriginal-Recipient: rfc822; nobox@vbox\.test\r\nAction: undeliverable\r\nStatus: 5\.1\.1\r\n/);
  assert.match(report, /\r\nFinal-Recipient: rfc822; any@drop\.test\r\nOriginal-Recipient: rfc822; any@drop\.test\r\nAction: deliverable\r\n/);
  assert.equal(existsSync(join(dir, 'vbox')), false, 'no maildir was made');
  assert.match(daemon.log(), new RegExp(`${id}: to=<any@drop\\.test>, relay=none, .*status=deliverable \\(dropped here\\)`));
});

test('the verify-only flag survives the journal and a restart: a message waiting for its transport is verified, not delivered, afterwards', async () => {
  const sender = 'later@sender.test';
  // No "later" service yet: qmgr keeps the recipient deferred ("mail transport unavailable").
  const r = await daemon.cli(['sendmail', '-bv', '-f', sender, 'someone@later.test']);
  assert.equal(r.code, 0, r.stderr);
  const id = await queueIdOf(sender);
  await waitFor(() => new RegExp(`${id}: to=<someone@later\\.test>, .*status=deferred \\(mail transport unavailable\\)`).test(daemon.log()), 20_000, 'the deferral');
  await daemon.stop();
  appendFileSync(join(daemon.configDir, 'master.cf'), 'later     unix  -       -       n       -       -       smtp\n');
  await daemon.restart();
  const flushed = await daemon.cli(['flush']);
  assert.equal(flushed.code, 0, flushed.stderr);
  await daemon.waitRemoved(id);
  await waitFor(() => reportsTo(sender).length > 0, 20_000, 'the report');
  assert.match(nextHop.wire, /RCPT TO:<someone@later\.test>/);
  assert.equal(nextHop.messages.length, 0, 'nothing delivered');
  assert.match(unwrapped(reportsTo(sender)[0]), /\r\nFinal-Recipient: rfc822; someone@later\.test\r\nOriginal-Recipient: rfc822; someone@later\.test\r\nAction: deliverable\r\n/);
  assert.match(daemon.log(), new RegExp(`${id}: to=<someone@later\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:\\d+, .*status=deliverable`));
});
