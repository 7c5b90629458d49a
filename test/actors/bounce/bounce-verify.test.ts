/**
 * sendmail -bv's report as bounce writes it: Postfix's "Mail Delivery
 * Status Report" wording, one line per address ("delivery via RELAY:
 * ...", "(expanded from <alias>)" for an address of a local expansion),
 * Action: deliverable / undeliverable in the DSN part, NOTIFY ignored,
 * headers only, and nothing for the null sender.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MainConfig } from '../../../src/config/main-config.js';
import type { QueuedMessage } from '../../../src/store/store-types.js';
import { buildNotification } from '../../../src/actors/bounce/bounce-notification.js';

const config = new MainConfig({ myhostname: 'mx.example.test', myorigin: 'example.test' }, '/nonexistent');
const CONTENT = Buffer.from('From: tester@example.test\r\nMessage-Id: <v1@example.test>\r\n\r\n');

function message(sender = 'tester@example.test'): QueuedMessage {
  return {
    queueId: 'VRFY12345A',
    arrivalTime: Date.UTC(2026, 11, 5, 8, 0, 0),
    sender,
    recipients: [
      { address: 'ann@remote.test', state: 'delivered', attempts: 1, notify: ['NEVER'] },
      { address: 'ghost@example.test', state: 'bounced', attempts: 1 },
      { address: 'team@example.test', state: 'delivered', attempts: 1 },
    ],
    client: { name: 'localhost', addr: '127.0.0.1', protocol: 'local' },
    hold: false,
    headerLength: CONTENT.length,
    size: CONTENT.length,
    location: { segment: 1, offset: 0, length: CONTENT.length },
    verify: true,
  };
}

const RECIPIENTS = [
  { index: 0, dsn: '2.1.5', reason: '250 2.1.5 Ok', reply: '250 2.1.5 Ok', relay: 'mx.remote.test[192.0.2.9]:25', action: 'deliverable' as const },
  { index: 1, dsn: '5.1.1', reason: 'unknown user: "ghost"', relay: 'local', action: 'undeliverable' as const },
  { index: 2, dsn: '2.0.0', reason: 'delivers to mailbox', relay: 'local', action: 'deliverable' as const, finalAddress: 'pat@example.test' },
];

test('the report: Postfix\'s subject and words, a line per address, Action: deliverable / undeliverable, the headers only', () => {
  const n = buildNotification({ message: message(), content: CONTENT, kind: 'verify', recipients: RECIPIENTS, config, queueId: 'RPT0000001', now: Date.now() });
  assert.ok(n);
  assert.deepEqual(n.recipients, ['tester@example.test']);
  const text = n.content.toString('latin1');
  assert.match(text, /\r\nSubject: Mail Delivery Status Report\r\n/);
  assert.match(text, /\r\nThis is the mail system at host mx\.example\.test\.\r\n\r\nEnclosed is the mail delivery report that you requested\.\r\n\r\n {19}The mail system\r\n/);
  assert.match(text, /\r\n<ann@remote\.test>: delivery via mx\.remote\.test\[192\.0\.2\.9\]:25: 250 2\.1\.5 Ok\r\n/);
  assert.match(text, /\r\n<ghost@example\.test>: delivery via local: unknown user: "ghost"\r\n/);
  // Wrapped at 79 columns, the rest indented by 4, as Postfix wraps a report's lines.
  assert.match(text, /\r\n<pat@example\.test> \(expanded from <team@example\.test>\): delivery via local:\r\n {4}delivers to mailbox\r\n/);
  // NOTIFY=NEVER does not hide an address from the report sendmail -bv asked for.
  assert.match(text, /\r\nFinal-Recipient: rfc822; ann@remote\.test\r\nOriginal-Recipient: rfc822; ann@remote\.test\r\nAction: deliverable\r\nStatus: 2\.1\.5\r\nRemote-MTA: dns; mx\.remote\.test\r\nDiagnostic-Code: smtp; 250 2\.1\.5 Ok\r\n/);
  assert.match(text, /\r\nFinal-Recipient: rfc822; ghost@example\.test\r\nOriginal-Recipient: rfc822; ghost@example\.test\r\nAction: undeliverable\r\nStatus: 5\.1\.1\r\n/);
  assert.match(text, /\r\nFinal-Recipient: rfc822; pat@example\.test\r\nOriginal-Recipient: rfc822; team@example\.test\r\nAction: deliverable\r\nStatus: 2\.0\.0\r\n/);
  assert.match(text, /\r\nContent-Description: Message Headers\r\nContent-Type: text\/rfc822-headers\r\n/);
});

test('no report for the null sender', () => {
  const n = buildNotification({ message: message(''), content: CONTENT, kind: 'verify', recipients: RECIPIENTS, config, queueId: 'RPT0000002', now: Date.now() });
  assert.equal(n, undefined);
});
