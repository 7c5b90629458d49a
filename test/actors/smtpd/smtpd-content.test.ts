/** Message content reaches the submission byte for byte: dot-stuffing, 8-bit, UTF-8, long lines, 10 MB. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ehloSession, sendMail, startSmtpd } from './smtpd-test-kit.js';

/** Dot-stuffs a message as a client must (RFC 5321 4.5.2). */
function stuff(content: Buffer): Buffer {
  const text = content.toString('latin1');
  return Buffer.from(text.replace(/(^|\r\n)\./g, '$1..'), 'latin1');
}

test('dot-stuffed lines, 8-bit and UTF-8 bytes and 998-character lines arrive exactly', async () => {
  const h = await startSmtpd();
  try {
    const parts = [
      'Subject: =?UTF-8?B?w6nDqA==?=\r\n',
      'Content-Type: text/plain; charset=utf-8\r\n',
      'Content-Transfer-Encoding: 8bit\r\n',
      '\r\n',
      '.leading dot\r\n',
      '.\r\n',
      '..two dots\r\n',
      'grüße, 日本語, emoji 📮\r\n',
      'x'.repeat(998) + '\r\n',
      'a line with a bare CR\r inside\r\n',
      'last\r\n',
    ];
    const content = Buffer.concat([...parts.map((p) => Buffer.from(p, 'utf8')), Buffer.from([0xe9, 0xff, 0x80, 0x0d, 0x0a])]);
    const c = await ehloSession(h.port);
    await c.cmd('MAIL FROM:<s@test.example> BODY=8BITMIME');
    await c.cmd('RCPT TO:<u@mx.test.example>');
    assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.send(Buffer.concat([stuff(content), Buffer.from('.\r\n')]));
    assert.match((await c.reply())!, /^250 2\.0\.0 Ok: queued as/);
    c.close();
    assert.equal(h.submissions.length, 1);
    assert.ok(Buffer.from(h.submissions[0].content).equals(content), 'byte-exact content');
  } finally {
    await h.stop();
  }
});

test('a message with a 10 MB attachment arrives whole through nodemailer\'s client', async () => {
  const h = await startSmtpd({ message_size_limit: '40000000' });
  try {
    const attachment = randomBytes(10 * 1024 * 1024).toString('base64').replace(/.{76}/g, '$&\r\n');
    const body = Buffer.from(
      'Subject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' +
        '--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n.\r\n' +
        '--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
        attachment +
        '\r\n--b--\r\n',
      'latin1',
    );
    const r = await sendMail(h.port, { from: 's@test.example', to: ['u@mx.test.example'], body });
    assert.match(r, /^250 2\.0\.0 Ok: queued as/);
    assert.equal(h.submissions.length, 1);
    const got = Buffer.from(h.submissions[0].content);
    assert.equal(got.length, body.length);
    assert.ok(got.equals(body), 'byte-exact 10 MB content');
    // Past message_spool_threshold (1 MiB by default): written to a spool file as it arrived.
    assert.equal(h.spooled, 1);
  } finally {
    await h.stop();
  }
});
