import { test } from 'node:test';
import assert from 'node:assert/strict';

// Layouts show local time, as Postfix's do: pin the zone so the expected text is exact.
process.env.TZ = 'UTC';

const {
  formatMailqEntry,
  formatPostcat,
  formatPostqueueJson,
  mailqFooter,
  mailqHeader,
  queueNameOf,
} = await import('../../src/admin/queue-format.js');
import type { QueuedMessage, QueuedRecipient } from '../../src/store/store-types.js';

const ARRIVAL = Date.UTC(2026, 10, 28, 10, 0, 0); // Sat Nov 28 10:00:00 2026

function rcpt(address: string, extra: Partial<QueuedRecipient> = {}): QueuedRecipient {
  return { address, state: 'ready', attempts: 0, ...extra };
}

function message(extra: Partial<QueuedMessage> = {}): QueuedMessage {
  return {
    queueId: 'ABCDEF1234',
    arrivalTime: ARRIVAL,
    sender: 'alice@example.org',
    recipients: [rcpt('bob@remote.test')],
    client: { name: 'localhost', addr: '127.0.0.1', protocol: 'local' },
    hold: false,
    headerLength: 0,
    size: 1234,
    location: { segment: 3, offset: 512, length: 1234 },
    ...extra,
  };
}

const REFUSED = 'connect to mx.remote.test[198.51.100.7]:25: Connection refused';

test('mailq header and an active entry match Postfix columns exactly', () => {
  assert.equal(mailqHeader(), '-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n');
  assert.equal(
    formatMailqEntry(message(), ARRIVAL),
    'ABCDEF1234*    1234 Sat Nov 28 10:00:00  alice@example.org\n' +
      '                                         bob@remote.test\n' +
      '\n',
  );
});

test('deferred entry shows each distinct reason right-aligned above its recipients', () => {
  const m = message({
    queueId: 'DEF0000001',
    size: 380,
    sender: '',
    recipients: [
      rcpt('a@remote.test', { state: 'deferred', reason: REFUSED }),
      rcpt('b@remote.test', { state: 'deferred', reason: REFUSED }),
      rcpt('done@remote.test', { state: 'delivered' }),
      rcpt('c@other.test', { state: 'deferred', reason: 'host mx.other.test[203.0.113.5] said: 450 4.7.1 Try again later' }),
    ],
  });
  assert.equal(queueNameOf(m), 'deferred');
  const pad = (s: string): string => ' '.repeat(Math.max(0, 76 - s.length)) + `(${s})`;
  assert.equal(
    formatMailqEntry(m, ARRIVAL),
    'DEF0000001      380 Sat Nov 28 10:00:00  MAILER-DAEMON\n' +
      pad(REFUSED) + '\n' +
      '                                         a@remote.test\n' +
      '                                         b@remote.test\n' +
      '(host mx.other.test[203.0.113.5] said: 450 4.7.1 Try again later)'.padStart(78) + '\n' +
      '                                         c@other.test\n' +
      '\n',
  );
  assert.equal(pad(REFUSED).length, 78, 'short reasons end in column 78');
});

test('hold entry is marked "!" and a long reason starts in column 0', () => {
  const long = 'host mx.remote.test[198.51.100.7] refused to talk to me: 554 5.7.1 Service unavailable; Client host blocked';
  const m = message({ queueId: 'HOLD000001', hold: true, recipients: [rcpt('x@remote.test', { state: 'deferred', reason: long })] });
  assert.equal(queueNameOf(m), 'hold');
  assert.equal(
    formatMailqEntry(m, ARRIVAL),
    'HOLD000001!    1234 Sat Nov 28 10:00:00  alice@example.org\n' +
      `(${long})\n` +
      '                                         x@remote.test\n' +
      '\n',
  );
});

test('footer counts Kbytes and requests, or says the queue is empty', () => {
  assert.equal(mailqFooter(0, 0), 'Mail queue is empty\n');
  assert.equal(mailqFooter(1500, 1), '-- 1 Kbytes in 1 Request.\n');
  assert.equal(mailqFooter(5 * 1024 + 10, 3), '-- 5 Kbytes in 3 Requests.\n');
});

test('a whole listing reads like mailq', () => {
  const a = message();
  const b = message({ queueId: 'BBBB000002', size: 2000, recipients: [rcpt('z@remote.test', { state: 'deferred', reason: 'timeout' })] });
  const listing = mailqHeader() + formatMailqEntry(a, 0) + formatMailqEntry(b, 0) + mailqFooter(a.size + b.size, 2);
  const lines = listing.split('\n');
  assert.equal(lines[0].startsWith('-Queue ID-'), true);
  assert.equal(lines[3], '', 'blank line between entries');
  assert.equal(lines[lines.length - 2], '-- 3 Kbytes in 2 Requests.');
});

test('queueNameOf: active while anything is ready', () => {
  assert.equal(queueNameOf(message()), 'active');
  assert.equal(
    queueNameOf(message({ recipients: [rcpt('a@x', { state: 'deferred' }), rcpt('b@x')] })),
    'active',
  );
});

test('postqueue -j line has Postfix fields, order and spacing', () => {
  const m = message({
    recipients: [
      rcpt('a@remote.test', { state: 'deferred', reason: 'say "hi"' }),
      rcpt('b@remote.test'),
      rcpt('gone@remote.test', { state: 'bounced', reason: 'no' }),
    ],
  });
  const line = formatPostqueueJson(m, 'deferred');
  assert.equal(
    line,
    '{"queue_name": "deferred", "queue_id": "ABCDEF1234", "arrival_time": 1795860000, "message_size": 1234, ' +
      '"forced_expire": false, "sender": "alice@example.org", "recipients": [' +
      '{"address": "a@remote.test", "delay_reason": "say \\"hi\\""}, {"address": "b@remote.test"}]}',
  );
  const obj = JSON.parse(line);
  assert.equal(obj.arrival_time, Math.floor(ARRIVAL / 1000));
  assert.equal(obj.recipients.length, 2);
  assert.equal(obj.recipients[1].delay_reason, undefined);
  assert.ok(!line.includes('\n'));
});

test('postcat layout: envelope records, contents, extracted segment, end marker', () => {
  const content = Buffer.from('Subject: hi\r\nFrom: alice@example.org\r\n\r\nline 1\r\nline 2\r\n');
  const m = message({
    envid: 'E1',
    ret: 'HDRS',
    recipients: [rcpt('bob@remote.test', { orcpt: 'rfc822;bob@remote.test', notify: ['FAILURE', 'DELAY'], origRcpt: 'team@remote.test' }), rcpt('c@x.test', { state: 'delivered' })],
  });
  const out = formatPostcat(m, content, {});
  const size = [1234, 512, 2, 0, 1234, 0].map((n) => String(n).padStart(15)).join(' ');
  assert.equal(
    out,
    [
      '*** ENVELOPE RECORDS active/ABCDEF1234 ***',
      `message_size: ${size}`,
      'message_arrival_time: Sat Nov 28 10:00:00 2026',
      'create_time: Sat Nov 28 10:00:00 2026',
      'named_attribute: rewrite_context=local',
      'named_attribute: client_name=localhost',
      'named_attribute: client_address=127.0.0.1',
      'named_attribute: protocol_name=local',
      'dsn_envelope_id: E1',
      'dsn_return_flags: 2',
      'sender: alice@example.org',
      'dsn_original_recipient: rfc822;bob@remote.test',
      'dsn_notify_flags: 12',
      'original_recipient: team@remote.test',
      'recipient: bob@remote.test',
      'original_recipient: c@x.test',
      'done_recipient: c@x.test',
      '*** MESSAGE CONTENTS active/ABCDEF1234 ***',
      'Subject: hi',
      'From: alice@example.org',
      '',
      'line 1',
      'line 2',
      '*** HEADER EXTRACTED active/ABCDEF1234 ***',
      'named_attribute: encoding=7bit',
      '*** MESSAGE FILE END active/ABCDEF1234 ***',
      '',
    ].join('\n'),
  );
  assert.equal(formatPostcat(m, content, { headers: true }), 'Subject: hi\nFrom: alice@example.org\n');
  assert.equal(formatPostcat(m, content, { body: true }), '\nline 1\nline 2\n');
});

test('control characters in addresses cannot forge listing lines', () => {
  const m = message({ sender: 'evil\n@x', recipients: [rcpt('a\r\nb@x')] });
  const out = formatMailqEntry(m, 0);
  assert.equal(out.split('\n').length, 4);
  assert.ok(out.includes('evil?@x'));
});
