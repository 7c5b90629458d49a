import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDelay, formatDelivery, origRecipient } from '../../src/global/delivery-log.js';

test('delays print as Postfix\'s format_tv: two significant digits, 10 ms resolution', () => {
  assert.equal(formatDelay(0), '0');
  assert.equal(formatDelay(4), '0');
  assert.equal(formatDelay(5), '0.01');
  assert.equal(formatDelay(12), '0.01');
  assert.equal(formatDelay(123), '0.12');
  assert.equal(formatDelay(1234), '1.2');
  assert.equal(formatDelay(1000), '1');
  assert.equal(formatDelay(12_345), '12');
  assert.equal(formatDelay(123_456), '123');
  assert.equal(formatDelay(-5), '0');
});

test('the delivery line has Postfix\'s fields in Postfix\'s order', () => {
  const line = formatDelivery({
    to: 'u@example.com', origTo: 'alias@example.com', relay: 'mx.example.com[127.0.0.1]:25', connUse: 3,
    arrivalTime: 1000, activeTime: 1010, connectStart: 1020, transmitStart: 1070, end: 1120,
    dsn: '2.0.0', status: 'sent', reason: '250 2.0.0 Ok: queued as XYZ',
  });
  assert.equal(line, 'to=<u@example.com>, orig_to=<alias@example.com>, relay=mx.example.com[127.0.0.1]:25, conn_use=3, delay=0.12, delays=0.01/0.01/0.05/0.05, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as XYZ)');
});

test('orig_to and conn_use are left out when they say nothing', () => {
  const line = formatDelivery({
    to: 'u@example.com', origTo: 'U@example.com', relay: 'none', connUse: 1,
    arrivalTime: 0, activeTime: 0, connectStart: 0, transmitStart: 0, end: 2500,
    dsn: '4.4.1', status: 'deferred', reason: 'connect to x[1.2.3.4]:25: Connection refused',
  });
  assert.equal(line, 'to=<u@example.com>, relay=none, delay=2.5, delays=0/0/0/2.5, dsn=4.4.1, status=deferred (connect to x[1.2.3.4]:25: Connection refused)');
  assert.equal(origRecipient('rfc822;a@b'), 'a@b');
  assert.equal(origRecipient('x400;whatever'), undefined);
});
