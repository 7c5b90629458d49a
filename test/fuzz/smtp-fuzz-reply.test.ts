/**
 * smtp-fuzz-reply: the well-formed-reply oracle accepts what RFC 5321 4.2
 * and RFC 3463 allow and names each way a reply can be broken; after the
 * 220 of STARTTLS it reads nothing until the handshake is done.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeBytes, ReplyReader } from '../../perf/fuzz/smtp-fuzz-reply.js';

function read(...chunks: string[]): ReplyReader {
  const r = new ReplyReader();
  for (const c of chunks) r.feed(Buffer.from(c, 'latin1'));
  return r;
}

test('well-formed replies, split anywhere, come out whole and without problems', () => {
  const text = '220 mx.test ESMTP\r\n250-mx.test\r\n250-PIPELINING\r\n250 SIZE 100\r\n250 2.1.0 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n221 2.0.0 Bye\r\n250\r\n';
  const r = new ReplyReader();
  for (let i = 0; i < text.length; i += 3) r.feed(Buffer.from(text.slice(i, i + 3), 'latin1'));
  r.end();
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.replies.map((x) => x.code), [220, 250, 250, 354, 221, 250]);
  assert.deepEqual(r.replies[1].lines, ['mx.test', 'PIPELINING', 'SIZE 100']);
  assert.equal(r.available, 6);
  assert.equal(r.take()?.code, 220);
  assert.equal(r.available, 5);
});

test('each kind of broken reply is named', () => {
  const cases: Array<[string, string]> = [
    ['250 2.0.0 Ok\n', 'bare-lf'],
    ['25O 2.0.0 Ok\r\n', 'bad-code'],
    ['650 6.0.0 Ok\r\n', 'bad-code'],
    ['250+2.0.0 Ok\r\n', 'bad-separator'],
    ['250-first\r\n251 second\r\n', 'multiline-code-mismatch'],
    ['550 5.1.1 caf\xe9\r\n', 'not-ascii'],
    ['550 5.1.1 a\x00b\r\n', 'not-ascii'],
    [`250 2.0.0 ${'x'.repeat(520)}\r\n`, 'line-too-long'],
    ['550 Error: no such user\r\n', 'no-enhanced-code'],
    ['451 5.3.0 mixed classes\r\n', 'enhanced-code-class'],
    ['250 4.0.0 mixed classes\r\n', 'enhanced-code-class'],
  ];
  for (const [text, kind] of cases) {
    const r = read(text);
    r.end();
    assert.ok(r.problems.some((p) => p.kind === kind), `${JSON.stringify(text)}: ${JSON.stringify(r.problems)}`);
  }
});

test('a reply cut off by the close is truncated, a finished one is not', () => {
  const cut = read('250-first\r\n250-sec');
  cut.end();
  assert.deepEqual(cut.problems.map((p) => p.kind), ['truncated']);
  const whole = read('221 2.0.0 Bye\r\n');
  whole.end();
  assert.deepEqual(whole.problems, []);
});

test('after the 220 of STARTTLS the TLS records are not read as replies, until resume', () => {
  const r = read('220 mx.test ESMTP\r\n', '220 2.0.0 Ready to start TLS\r\n\x15\x03\x03\x00\x02\x02\x28');
  r.feed(Buffer.from('\x15\x03\x03 more tls\n', 'latin1'));
  r.end();
  assert.deepEqual(r.problems, []);
  assert.equal(r.replies.length, 2);
  const up = read('220 mx.test ESMTP\r\n', '220 2.0.0 Ready to start TLS\r\n');
  up.resume();
  up.feed(Buffer.from('250-mx.test\r\n250 STARTTLS\r\n', 'latin1'));
  assert.deepEqual(up.replies.map((x) => x.code), [220, 220, 250]);
});

test('escapeBytes shows control and 8-bit bytes and shortens', () => {
  assert.equal(escapeBytes(Buffer.from('a\r\n\t\x00\xff\\', 'latin1')), 'a\\r\\n\\t\\x00\\xff\\\\');
  assert.equal(escapeBytes('x'.repeat(10), 4), 'xxxx...(10 bytes)');
});
