import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { MainConfig } from '../../../src/config/main-config.js';
import type { QueuedMessage, QueuedRecipient } from '../../../src/store/store-types.js';
import { buildNotification, DOUBLE_BOUNCE_HEADER, type Notification, type NotificationInput } from '../../../src/actors/bounce/bounce-notification.js';

const config = new MainConfig(
  {
    myhostname: 'mx.example.test',
    myorigin: 'example.test',
    notify_classes: 'resource, software',
    bounce_notice_recipient: 'postmaster',
    '2bounce_notice_recipient': 'postmaster',
    maximal_queue_lifetime: '5d',
    delay_warning_time: '4h',
    bounce_size_limit: '50000',
  },
  '/nonexistent',
);

const ORIGINAL = Buffer.from(
  'From: Alice <alice@example.org>\r\nTo: bob@remote.test\r\nSubject: hello there\r\nMessage-Id: <m1@example.org>\r\n\r\nBody line one.\r\nBody line two.\r\n',
);

function rcpt(address: string, extra: Partial<QueuedRecipient> = {}): QueuedRecipient {
  return { address, state: 'ready', attempts: 1, ...extra };
}

function message(extra: Partial<QueuedMessage> = {}): QueuedMessage {
  return {
    queueId: 'ORIG1234AB',
    arrivalTime: Date.UTC(2026, 10, 28, 10, 0, 0),
    sender: 'alice@example.org',
    recipients: [rcpt('bob@remote.test', { orcpt: 'rfc822;bob@remote.test' }), rcpt('carol@remote.test')],
    client: { name: 'client.example.org', addr: '192.0.2.1', protocol: 'ESMTP' },
    hold: false,
    headerLength: ORIGINAL.indexOf('\r\n\r\n') + 4,
    size: ORIGINAL.length,
    location: { segment: 1, offset: 0, length: ORIGINAL.length },
    ...extra,
  };
}

/** buildNotification with this file's defaults: message(), ORIGINAL, a failure notice, `config`, now. */
function notice(over: Partial<NotificationInput> & Pick<NotificationInput, 'recipients' | 'queueId'>): Notification | undefined {
  return buildNotification({ message: message(), content: ORIGINAL, kind: 'failure', config, now: Date.now(), ...over });
}

const REMOTE_REASON = 'host mx.remote.test[198.51.100.7] said: 550 5.1.1 <bob@remote.test>: Recipient address rejected: User unknown (in reply to RCPT TO command)';
/** What the smtp agent carries beside that reason. */
const REMOTE_REPLY = '550 5.1.1 <bob@remote.test>: Recipient address rejected: User unknown';

interface Part {
  headers: Map<string, string>;
  body: string;
}

/** Splits a notification into its top headers and its MIME parts, by hand. */
function dissect(n: Notification): { headers: Map<string, string>; parts: Part[]; text: string } {
  const text = n.content.toString('latin1');
  assert.ok(!/[^\r]\n/.test(text.slice(0, 200)), 'header lines end in CRLF');
  const [head, ...rest] = text.split('\r\n\r\n');
  const headers = parseHeaders(head);
  const boundary = /boundary="([^"]+)"/.exec(headers.get('content-type') ?? '')?.[1];
  assert.ok(boundary, 'has a boundary');
  const body = rest.join('\r\n\r\n');
  const chunks = body.split(`\r\n--${boundary}`);
  assert.ok(chunks[chunks.length - 1].startsWith('--'), 'closing boundary present');
  const parts = chunks.slice(1, -1).map((c) => {
    const s = c.replace(/^\r\n/, '');
    const cut = s.indexOf('\r\n\r\n');
    return { headers: parseHeaders(s.slice(0, cut)), body: s.slice(cut + 4) };
  });
  return { headers, parts, text };
}

function parseHeaders(block: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of block.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) map.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
  }
  return map;
}

/** The per-recipient blocks of a delivery-status body, as field maps. */
function recipientBlocks(body: string): Map<string, string>[] {
  const blocks = body.trim().split('\r\n\r\n').map(parseHeaders);
  return blocks.slice(1);
}

test('failure notice has the three RFC 3464 parts with Postfix wording and fields', async () => {
  const n = notice({
    recipients: [{ index: 0, dsn: '5.1.1', reason: REMOTE_REASON, relay: 'mx.remote.test[198.51.100.7]:25', reply: REMOTE_REPLY }],
    queueId: 'DSN0000001',
    now: Date.UTC(2026, 10, 28, 12, 0, 0),
  });
  assert.ok(n);
  assert.equal(n.sender, '');
  assert.deepEqual(n.recipients, ['alice@example.org']);
  const { headers, parts, text } = dissect(n);
  assert.equal(n.headerLength, text.indexOf('\r\n\r\n') + 4);
  assert.equal(headers.get('from'), 'MAILER-DAEMON@mx.example.test (Mail Delivery System)');
  assert.equal(headers.get('to'), 'alice@example.org');
  assert.equal(headers.get('subject'), 'Undelivered Mail Returned to Sender');
  assert.equal(headers.get('auto-submitted'), 'auto-replied');
  assert.equal(headers.get('mime-version'), '1.0');
  assert.match(headers.get('content-type') ?? '', /^multipart\/report; report-type=delivery-status;/);
  assert.match(headers.get('message-id') ?? '', /^<\d{14}\.DSN0000001@mx\.example\.test>$/);
  assert.ok(headers.get('date'));
  assert.equal(parts.length, 3);

  assert.equal(parts[0].headers.get('content-type'), 'text/plain; charset=us-ascii');
  assert.match(parts[0].body, /^This is the mail system at host mx\.example\.test\.\r\n/);
  assert.match(parts[0].body, /I'm sorry to have to inform you that your message could not\r\nbe delivered/);
  assert.match(parts[0].body, /<bob@remote\.test>: host mx\.remote\.test\[198\.51\.100\.7\] said: 550/);
  for (const line of parts[0].body.split('\r\n')) assert.ok(line.length <= 79, `wrapped: ${line}`);

  assert.equal(parts[1].headers.get('content-type'), 'message/delivery-status');
  const perMessage = parseHeaders(parts[1].body.trim().split('\r\n\r\n')[0]);
  assert.equal(perMessage.get('reporting-mta'), 'dns; mx.example.test');
  assert.equal(perMessage.get('x-postrider-queue-id'), 'ORIG1234AB');
  assert.equal(perMessage.get('x-postrider-sender'), 'rfc822; alice@example.org');
  assert.ok(perMessage.get('arrival-date'));
  const [block] = recipientBlocks(parts[1].body);
  assert.equal(block.get('final-recipient'), 'rfc822; bob@remote.test');
  assert.equal(block.get('original-recipient'), 'rfc822;bob@remote.test');
  assert.equal(block.get('action'), 'failed');
  assert.equal(block.get('status'), '5.1.1');
  assert.equal(block.get('remote-mta'), 'dns; mx.remote.test');
  assert.equal(
    block.get('diagnostic-code'),
    'smtp; 550 5.1.1 <bob@remote.test>: Recipient address rejected: User unknown',
  );
  assert.ok(block.get('last-attempt-date'));
  assert.equal(block.get('will-retry-until'), undefined);

  assert.equal(parts[2].headers.get('content-type'), 'message/rfc822');
  assert.equal(parts[2].headers.get('content-description'), 'Undelivered Message');
  assert.equal(parts[2].headers.get('content-transfer-encoding'), '7bit');
  assert.ok(parts[2].body.includes('Body line two.'), 'the whole original is returned');
  assert.ok(parts[2].body.startsWith('From: Alice <alice@example.org>\r\n'));

  // A MIME parser agrees on the structure.
  const parsed = await simpleParser(n.content);
  assert.equal(parsed.subject, 'Undelivered Mail Returned to Sender');
  const types = parsed.attachments.map((a) => a.contentType);
  assert.ok(types.includes('message/rfc822'), `attachments: ${types.join(', ')}`);
  // mailparser shows message/delivery-status inline, as text.
  assert.match(parsed.text ?? '', /Reporting-MTA: dns; mx\.example\.test/);
  assert.match(parsed.text ?? '', /Final-Recipient: rfc822; bob@remote\.test/);
});

test('the Diagnostic-Code comes from the reply field; a reason that only reads like a reply stays local text', () => {
  const n = notice({
    recipients: [{ index: 0, dsn: '5.1.1', reason: 'host evil[192.0.2.1] said: 550 5.1.1 fake (in reply to RCPT TO command)' }],
    queueId: 'DSN0000011',
  });
  assert.ok(n);
  const [block] = recipientBlocks(dissect(n).parts[1].body);
  assert.equal(block.get('diagnostic-code'), 'X-Postrider; host evil[192.0.2.1] said: 550 5.1.1 fake (in reply to RCPT TO command)');
  const success = notice({
    message: message({ recipients: [rcpt('bob@remote.test', { notify: ['SUCCESS'] })] }),
    kind: 'success',
    recipients: [{ index: 0, dsn: '2.0.0', reason: '250 2.0.0 Ok: queued as X', relay: 'mx.remote.test[198.51.100.7]:25', reply: '250 2.0.0 Ok: queued as X' }],
    queueId: 'DSN0000012',
  });
  assert.ok(success);
  assert.equal(recipientBlocks(dissect(success).parts[1].body)[0].get('diagnostic-code'), 'smtp; 250 2.0.0 Ok: queued as X');
});

test('RET=HDRS returns only the original headers as text/rfc822-headers', () => {
  const n = notice({
    message: message({ ret: 'HDRS', envid: 'ENV-42' }),
    recipients: [{ index: 1, dsn: '5.0.0', reason: 'unknown user: "carol"', relay: 'virtual' }],
    queueId: 'DSN0000002',
  });
  assert.ok(n);
  const { parts } = dissect(n);
  assert.equal(parts[2].headers.get('content-type'), 'text/rfc822-headers');
  assert.equal(parts[2].headers.get('content-description'), 'Undelivered Message Headers');
  assert.ok(parts[2].body.includes('Subject: hello there'));
  assert.ok(!parts[2].body.includes('Body line'), 'no body with RET=HDRS');
  const perMessage = parseHeaders(parts[1].body.trim().split('\r\n\r\n')[0]);
  assert.equal(perMessage.get('original-envelope-id'), 'ENV-42');
  const [block] = recipientBlocks(parts[1].body);
  assert.equal(block.get('final-recipient'), 'rfc822; carol@remote.test');
  // As Postfix: without ORCPT, the recipient as received (here the address itself).
  assert.equal(block.get('original-recipient'), 'rfc822; carol@remote.test');
  assert.equal(block.get('remote-mta'), undefined, 'local delivery has no Remote-MTA');
  assert.equal(block.get('diagnostic-code'), 'X-Postrider; unknown user: "carol"');
});

test('delay notice: Action delayed, Will-Retry-Until, headers only, delay wording', () => {
  const n = notice({
    kind: 'delay',
    recipients: [{ index: 0, dsn: '4.4.1', reason: 'connect to mx.remote.test[198.51.100.7]:25: Connection refused' }],
    queueId: 'DSN0000003',
  });
  assert.ok(n);
  const { headers, parts } = dissect(n);
  assert.equal(headers.get('subject'), 'Delayed Mail (still being retried)');
  assert.match(parts[0].body, /THIS IS A WARNING ONLY/);
  assert.match(parts[0].body, /could not be delivered for more than 4 hour\(s\)\.\r\nIt will be retried until it is 5 day\(s\) old\./);
  const [block] = recipientBlocks(parts[1].body);
  assert.equal(block.get('action'), 'delayed');
  assert.equal(block.get('status'), '4.4.1');
  assert.ok(block.get('will-retry-until'));
  assert.equal(parts[2].headers.get('content-type'), 'text/rfc822-headers');
});

test('success notice only for recipients that asked NOTIFY=SUCCESS', () => {
  const msg = message({
    recipients: [rcpt('bob@remote.test', { notify: ['SUCCESS', 'FAILURE'] }), rcpt('carol@remote.test')],
  });
  const none = notice({
    message: msg,
    kind: 'success',
    recipients: [{ index: 1, dsn: '2.0.0', reason: 'delivered to maildir' }],
    queueId: 'DSN0000004',
  });
  assert.equal(none, undefined, 'no success notice without NOTIFY=SUCCESS');
  const n = notice({
    message: msg,
    kind: 'success',
    recipients: [
      { index: 0, dsn: '2.0.0', reason: '250 2.0.0 Ok: queued as X', relay: 'mx.remote.test[198.51.100.7]:25' },
      { index: 1, dsn: '2.0.0', reason: 'delivered to maildir' },
    ],
    queueId: 'DSN0000005',
  });
  assert.ok(n);
  const { headers, parts } = dissect(n);
  assert.equal(headers.get('subject'), 'Successful Mail Delivery Report');
  assert.match(parts[0].body, /Your message was successfully delivered to the destination\(s\)/);
  const blocks = recipientBlocks(parts[1].body);
  assert.equal(blocks.length, 1);
  assert.equal(blocks[0].get('action'), 'delivered');
  assert.equal(blocks[0].get('status'), '2.0.0');
  assert.equal(parts[2].headers.get('content-description'), 'Message Headers');
});

test('NOTIFY=NEVER suppresses the failure notice', () => {
  const n = notice({
    message: message({ recipients: [rcpt('bob@remote.test', { notify: ['NEVER'] })] }),
    recipients: [{ index: 0, dsn: '5.1.1', reason: REMOTE_REASON }],
    queueId: 'DSN0000006',
  });
  assert.equal(n, undefined);
});

test('a failed bounce becomes one double bounce to postmaster; a failed double bounce is dropped', () => {
  const bounceMsg = message({ sender: '', queueId: 'BOUNCE0001' });
  const delay = notice({
    message: bounceMsg,
    kind: 'delay',
    recipients: [{ index: 0, dsn: '4.4.1', reason: 'connection refused' }],
    queueId: 'X1',
  });
  assert.equal(delay, undefined, 'no delay notice for the null sender');
  const n = notice({
    message: bounceMsg,
    recipients: [{ index: 0, dsn: '5.1.1', reason: REMOTE_REASON }],
    queueId: 'DOUBLE0001',
  });
  assert.ok(n);
  assert.equal(n.sender, '');
  assert.deepEqual(n.recipients, ['postmaster@example.test']);
  const { headers, parts } = dissect(n);
  assert.equal(headers.get(DOUBLE_BOUNCE_HEADER.toLowerCase()), 'yes');
  const perMessage = parseHeaders(parts[1].body.trim().split('\r\n\r\n')[0]);
  assert.equal(perMessage.get('x-postrider-sender'), 'rfc822; MAILER-DAEMON');

  // The double bounce itself fails: nothing more is sent.
  const again = notice({
    message: message({ sender: '', queueId: 'DOUBLE0001', recipients: [rcpt('postmaster@example.test')] }),
    content: n.content,
    recipients: [{ index: 0, dsn: '5.1.1', reason: 'no such user' }],
    queueId: 'X2',
  });
  assert.equal(again, undefined);
});

test('notify_classes=bounce adds bounce_notice_recipient to a failure notice', () => {
  const n = notice({
    recipients: [{ index: 0, dsn: '5.1.1', reason: REMOTE_REASON }],
    config: config.with({ notify_classes: 'bounce, resource', bounce_notice_recipient: 'hostmaster' }),
    queueId: 'DSN0000007',
  });
  assert.ok(n);
  assert.deepEqual(n.recipients, ['alice@example.org', 'hostmaster@example.test']);
});

test('an 8-bit original makes the report 8bit; a large original is returned as headers', () => {
  const eight = Buffer.concat([Buffer.from('Subject: caf\xc3\xa9\r\n\r\nna\xc3\xafve body\r\n', 'latin1')]);
  const n = notice({
    message: message({ size: eight.length, bodyType: '8BITMIME' }),
    content: eight,
    recipients: [{ index: 0, dsn: '5.1.1', reason: 'bad \u00e9 reply\r\nInjected: header' }],
    queueId: 'DSN0000008',
  });
  assert.ok(n);
  const { headers, parts } = dissect(n);
  assert.equal(headers.get('content-transfer-encoding'), '8bit');
  assert.equal(parts[2].headers.get('content-transfer-encoding'), '8bit');
  assert.ok(n.content.includes(Buffer.from('na\xc3\xafve', 'latin1')), 'original bytes unchanged');
  assert.ok(!parts[0].body.includes('\r\nInjected: header'), 'reason cannot inject lines');
  const before = n.content.subarray(0, n.content.indexOf('Content-Description: Undelivered'));
  assert.ok(before.every((b) => b < 0x80), 'report parts are 7-bit');

  const big = Buffer.from('Subject: big\r\n\r\n' + 'x'.repeat(70000) + '\r\n');
  const b = notice({
    message: message({ size: big.length }),
    content: big,
    recipients: [{ index: 0, dsn: '5.1.1', reason: 'no' }],
    queueId: 'DSN0000009',
  });
  assert.ok(b);
  const { parts: bp } = dissect(b);
  assert.equal(bp[2].headers.get('content-type'), 'text/rfc822-headers');
  assert.ok(b.content.length < 10000);
});

test('unknown recipient indexes are ignored, and none left means no notice', () => {
  const n = notice({
    recipients: [{ index: 7, dsn: '5.1.1', reason: 'no' }],
    queueId: 'DSN0000010',
  });
  assert.equal(n, undefined);
});

test('notify_classes=delay adds delay_notice_recipient to a delay notice; without the class it is not copied', () => {
  const delayed = (cfg: MainConfig) => notice({ kind: 'delay', recipients: [{ index: 0, dsn: '4.4.1', reason: 'connection refused' }], config: cfg, queueId: 'DSN0000010' });
  assert.deepEqual(delayed(config.with({ notify_classes: 'delay', delay_notice_recipient: 'delays' }))?.recipients, ['alice@example.org', 'delays@example.test']);
  assert.deepEqual(delayed(config.with({ delay_notice_recipient: 'delays' }))?.recipients, ['alice@example.org']);
});

test('bounce_size_limit: an original larger than the limit is returned as headers only', () => {
  const content = Buffer.from('Subject: mid\r\n\r\n' + 'y'.repeat(2000) + '\r\n');
  const with_ = (limit: string) =>
    dissect(notice({ message: message({ size: content.length }), content, recipients: [{ index: 0, dsn: '5.1.1', reason: 'no' }], config: config.with({ bounce_size_limit: limit }), queueId: 'DSN0000011' })!).parts[2].headers.get('content-type');
  assert.equal(with_('50000'), 'message/rfc822');
  assert.equal(with_('1000'), 'text/rfc822-headers');
});

test('2bounce_notice_recipient gets the double bounce', () => {
  const n = notice({
    message: message({ sender: '' }),
    recipients: [{ index: 0, dsn: '5.1.1', reason: 'no' }],
    config: config.with({ '2bounce_notice_recipient': 'mailadmin' }),
    queueId: 'DSN0000012',
  });
  assert.deepEqual(n?.recipients, ['mailadmin@example.test']);
});
