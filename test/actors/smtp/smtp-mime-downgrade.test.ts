/**
 * 8-bit to a 7-bit next hop (RFC 6152, Postfix's disable_mime_output_conversion
 * = no): 8-bit MIME parts reach a sink that does not offer 8BITMIME as
 * quoted-printable and decode (mailparser at the sink) to the original
 * text; in a multipart only the 8-bit part changes; an attached message is
 * walked as Postfix does; headers stay as they were; the switch sends as
 * is; nesting past mime_nesting_limit bounces with 5.6.0. Then the walk
 * itself on small inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { downgradeMime } from '../../../src/actors/smtp/smtp-mime-downgrade.js';
import type { DeliveryRequest } from '../../../src/protocol/protocol.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { deliverToSink } from './smtp-test-kit.js';

const u = (s: string): Buffer => Buffer.from(s, 'utf8');
const l = (s: string): Buffer => Buffer.from(s, 'latin1');

async function deliver(sink: SmtpSink, content: Buffer, params: Record<string, string> = {}, over: Partial<DeliveryRequest> = {}) {
  return (await deliverToSink(sink.port, content, params, { bodyType: '8BITMIME', ...over })).res;
}

const TEXT = 'Grüße aus Köln = 100 € \t\r\nÇa va très bien, naïve café.\r\n.Une ligne qui commence par un point\r\n' + 'ü'.repeat(120) + '\r\n';

test('8-bit text reaches a sink without 8BITMIME as quoted-printable that decodes to the original text', async () => {
  const sink = await startSmtpSink({ eightBitMime: false });
  try {
    const content = u('From: a@example.org\r\nTo: b@example.com\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nDKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s; bh=abc; b=def\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nX-After: kept\r\n\r\n' + TEXT);
    const res = await deliver(sink, content);
    assert.equal(res.outcomes[0].state, 'delivered');
    const msg = sink.messages[0];
    assert.equal(msg.mailParams.BODY, undefined, 'no BODY=8BITMIME to a server that did not offer it');
    assert.ok(!msg.raw.some((x) => x > 0x7f), 'nothing above 0x7f on the wire');
    const raw = msg.raw.toString('latin1');
    // The headers as they were, the old CTE header out, the new one at the end of the block.
    assert.ok(raw.startsWith('From: a@example.org\r\nTo: b@example.com\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nDKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s; bh=abc; b=def\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nX-After: kept\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'), raw.slice(0, 400));
    assert.ok(raw.split('\r\n').every((line) => line.length <= 76), 'no line longer than 76');
    const parsed = await simpleParser(msg.raw);
    assert.equal(parsed.text, TEXT.replace(/\r\n/g, '\n'));
  } finally {
    await sink.close();
  }
});

test('a multipart with one 8-bit part: only that part is converted; an attached message is walked; the rest byte for byte', async () => {
  const sink = await startSmtpSink({ eightBitMime: false });
  try {
    const head = 'From: a@example.org\r\nSubject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="=_outer"\r\n\r\nThis is a preamble.\r\n';
    const seven = '--=_outer\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain ascii part = kept\r\n';
    const b64 = '--=_outer\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n';
    const eight = '--=_outer\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' + TEXT;
    const nested = '--=_outer\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\nFrom: c@example.net\r\nSubject: inner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nInnen: Grüße\r\n';
    const tail = '--=_outer--\r\nepilogue\r\n';
    const content = u(head + seven + b64 + eight + nested + tail);
    await deliver(sink, content);
    const raw = sink.messages[0].raw.toString('latin1');
    assert.ok(!sink.messages[0].raw.some((x) => x > 0x7f));
    assert.ok(raw.startsWith(head + seven + b64), 'the preamble and the 7-bit parts are untouched');
    assert.ok(raw.endsWith(tail));
    assert.ok(raw.includes('--=_outer\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe'));
    assert.ok(raw.includes('--=_outer\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\nFrom: c@example.net\r\nSubject: inner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nInnen: Gr=C3=BC=C3=9Fe\r\n'), raw);
    const parsed = await simpleParser(sink.messages[0].raw);
    assert.equal(parsed.text?.includes(TEXT.replace(/\r\n/g, '\n').trimEnd()), true, parsed.text);
    assert.equal(parsed.attachments.find((a) => a.contentType === 'application/pdf')?.content.toString(), '%PDF-1.4\n');
  } finally {
    await sink.close();
  }
});

test('disable_mime_output_conversion = yes sends 8-bit as is; a server with 8BITMIME gets it as is with BODY=8BITMIME', async () => {
  const seven = await startSmtpSink({ eightBitMime: false });
  const eight = await startSmtpSink();
  try {
    const content = u('Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' + TEXT);
    await deliver(seven, content, { disable_mime_output_conversion: 'yes' });
    assert.deepEqual(seven.messages[0].raw, content);
    assert.equal(seven.messages[0].mailParams.BODY, undefined);
    await deliver(eight, content);
    assert.deepEqual(eight.messages[0].raw, content);
    assert.equal(eight.messages[0].mailParams.BODY, '8BITMIME');
  } finally {
    await seven.close();
    await eight.close();
  }
});

test('MIME nesting past mime_nesting_limit cannot be converted: 5.6.0, nothing sent', async () => {
  const sink = await startSmtpSink({ eightBitMime: false });
  try {
    let body = 'Subject: deep\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n';
    for (let i = 1; i <= 5; i++) body += `--b${i - 1}\r\nContent-Type: multipart/mixed; boundary="b${i}"\r\n\r\n`;
    body += '--b5\r\nContent-Transfer-Encoding: 8bit\r\n\r\nü\r\n';
    const res = await deliver(sink, u(body), { mime_nesting_limit: '3' });
    assert.equal(res.outcomes[0].state, 'bounced');
    assert.equal(res.outcomes[0].dsn, '5.6.0');
    assert.equal(res.outcomes[0].reason, 'MIME nesting exceeds safety limit');
    assert.equal(sink.messages.length, 0);
    const ok = await deliver(sink, u(body));
    assert.equal(ok.outcomes[0].state, 'delivered', 'within the default limit of 100 it converts');
    assert.ok(sink.messages[0].raw.toString('latin1').includes('Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=BC\r\n'));
  } finally {
    await sink.close();
  }
});

test('downgradeMime: a message without 8-bit parts is the same buffer; 7bit-labelled 8-bit text is left as Postfix leaves it; trailing space and "=" encoded', () => {
  const same = l('Subject: x\r\n\r\nhello\r\n');
  const r = downgradeMime(same, 100);
  assert.ok(r.ok && !r.changed && r.content === same);
  const unlabelled = u('Subject: x\r\n\r\nGrüße\r\n');
  const r2 = downgradeMime(unlabelled, 100);
  assert.ok(r2.ok && !r2.changed, 'no Content-Transfer-Encoding: 7bit by default, sent as is');
  const r3 = downgradeMime(u('Content-Transfer-Encoding: 8BIT\r\n\r\na=b \r\nü\ttab\t\r\n'), 100);
  assert.ok(r3.ok);
  assert.equal(r3.content.toString('latin1'), 'Content-Transfer-Encoding: quoted-printable\r\n\r\na=3Db=20\r\n=C3=BC\ttab=09\r\n');
  // A folded CTE header is dropped whole; headers ended by a non-header line get the empty line.
  const r4 = downgradeMime(u('X-A: 1\r\nContent-Transfer-Encoding:\r\n 8bit\r\nX-B: 2\r\nnot a header ü\r\n'), 100);
  assert.ok(r4.ok);
  assert.equal(r4.content.toString('latin1'), 'X-A: 1\r\nX-B: 2\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nnot a header =C3=BC\r\n');
});
