/** The one SMTP reply parser and its two readings: access table results and remote server replies. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ACCESS_REPLY_DETAIL,
  SERVER_REPLY_DETAIL,
  parseReply,
  parseServerReply,
  readReply,
  replyClass,
} from '../../src/util/smtp-reply.js';

test('readReply splits code, enhanced code and text, and keeps the whole line', () => {
  assert.deepEqual(readReply('550 5.1.1 <u@x>: User unknown', SERVER_REPLY_DETAIL), {
    code: 550, dsn: '5.1.1', text: '<u@x>: User unknown', line: '550 5.1.1 <u@x>: User unknown',
  });
  assert.deepEqual(readReply('250-first\n250 2.0.0 Ok\n', SERVER_REPLY_DETAIL), {
    code: 250, dsn: '2.0.0', text: 'first 250 2.0.0 Ok', line: '250-first 250 2.0.0 Ok',
  });
});

test('readReply fills a missing enhanced code from the basic code with the caller\'s detail', () => {
  assert.equal(readReply('451 try later', SERVER_REPLY_DETAIL).dsn, '4.0.0');
  assert.equal(readReply('451 try later', ACCESS_REPLY_DETAIL).dsn, '4.7.1');
  assert.equal(readReply('550', ACCESS_REPLY_DETAIL).dsn, '5.7.1');
  assert.equal(readReply('250 ok', SERVER_REPLY_DETAIL).dsn, '2.0.0');
});

test('readReply ignores an enhanced code out of step with the basic code, as Postfix does', () => {
  assert.deepEqual(readReply('550 4.7.0 mismatched', SERVER_REPLY_DETAIL), { code: 550, dsn: '5.0.0', text: '4.7.0 mismatched', line: '550 4.7.0 mismatched' });
  // A 3xx reply never carries a usable enhanced code; it counts as class 4.
  assert.equal(readReply('354 4.0.0 go ahead', SERVER_REPLY_DETAIL).dsn, '4.0.0');
  // "5.7.1x" is not an enhanced code: it stays in the text.
  assert.deepEqual(readReply('550 5.7.1x no', ACCESS_REPLY_DETAIL), { code: 550, dsn: '5.7.1', text: '5.7.1x no', line: '550 5.7.1x no' });
});

test('readReply: a reply without exactly three leading digits is garbage: code 0, class 4', () => {
  for (const raw of ['garbage', '5501 too many digits', '55 short', '', ' 550 leading space']) {
    const r = readReply(raw, SERVER_REPLY_DETAIL);
    assert.equal(r.code, 0, raw);
    assert.equal(r.dsn, '4.0.0', raw);
  }
});

test('replyClass maps 2xx and 5xx to themselves and everything else to 4', () => {
  assert.deepEqual([250, 354, 421, 550, 600, 0].map(replyClass), [2, 4, 4, 5, 4, 4]);
});

test('parseReply reads access table results: 4xx/5xx only, X.7.1 by default, text without codes', () => {
  assert.deepEqual(parseReply('  550 5.7.0 No spam  '), { code: 550, dsn: '5.7.0', text: 'No spam' });
  assert.deepEqual(parseReply('450\ttry later'), { code: 450, dsn: '4.7.1', text: 'try later' });
  assert.deepEqual(parseReply('554'), { code: 554, dsn: '5.7.1', text: '' });
  for (const value of ['REJECT', '250 ok', '354 go', '4501 x', '600 odd']) assert.equal(parseReply(value), undefined, value);
});

test('parseServerReply reads a remote reply: X.0.0 by default, the whole line as text, 4.0.0 for garbage', () => {
  assert.deepEqual(parseServerReply('552 5.3.4 too big'), { code: 552, dsn: '5.3.4', text: '552 5.3.4 too big' });
  assert.deepEqual(parseServerReply('421 closing'), { code: 421, dsn: '4.0.0', text: '421 closing' });
  assert.deepEqual(parseServerReply('\u0000\u0001 binary junk\r\n'), { code: 0, dsn: '4.0.0', text: '\u0000\u0001 binary junk' });
});
