/**
 * RFC 3030 CHUNKING in smtpd, over a raw socket so the test decides where
 * chunks and TCP segments end: every chunking shape arrives byte for byte,
 * pipelining, BDAT and DATA in one session, the size limit, RSET, errors
 * with Postfix's replies, BINARYMIME, bare <LF>, and a stalled client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ehloSession, logLines, startSmtpd, until, type Harness, type RawClient } from './smtpd-test-kit.js';

const MESSAGE = Buffer.from(
  'From: s@test.example\r\nTo: u@mx.test.example\r\nSubject: chunks\r\n\r\n' +
    '.a line that starts with a dot\r\n.\r\n..\r\n' +
    'a bare CR\r inside a line\r\n' +
    'x'.repeat(998) +
    '\r\nlast line\r\n',
  'latin1',
);

/** MAIL and RCPT, each answered. */
async function envelope(c: RawClient, mailArgs = ''): Promise<void> {
  assert.equal(await c.cmd(`MAIL FROM:<s@test.example>${mailArgs}`), '250 2.1.0 Ok');
  assert.equal(await c.cmd('RCPT TO:<u@mx.test.example>'), '250 2.1.5 Ok');
}

/** Sends `content` as BDAT chunks of the given sizes (the rest in the last one), waiting for each reply; returns the replies. */
async function sendChunks(c: RawClient, content: Buffer, sizes: number[]): Promise<string[]> {
  const replies: string[] = [];
  let at = 0;
  for (let i = 0; at < content.length || i === 0; i++) {
    const size = i < sizes.length ? Math.min(sizes[i], content.length - at) : content.length - at;
    const last = at + size >= content.length;
    c.send(Buffer.concat([Buffer.from(`BDAT ${size}${last ? ' LAST' : ''}\r\n`), content.subarray(at, at + size)]));
    at += size;
    replies.push((await c.reply())!);
    if (last) break;
  }
  return replies;
}

function contentOf(h: Harness, i = 0): Buffer {
  return Buffer.from(h.submissions[i].content);
}

test('EHLO offers CHUNKING and BINARYMIME', async () => {
  const h = await startSmtpd();
  try {
    const c = await ehloSession(h.port);
    c.send('EHLO again.test.example\r\n');
    const ehlo = (await c.reply())!;
    assert.match(ehlo, /^250-CHUNKING$|^250 CHUNKING$/m);
    assert.match(ehlo, /^250-BINARYMIME$/m);
    c.close();
  } finally {
    await h.stop();
  }
});

test('one chunk, many chunks, 1-byte chunks and chunks ending mid-line all arrive byte for byte', async () => {
  const h = await startSmtpd();
  try {
    const shapes: Array<[string, number[]]> = [
      ['one chunk', []],
      ['many chunks', [10, 100, 7, 500, 3]],
      ['mid-line and mid-CRLF', [MESSAGE.indexOf('\r\n') + 1, 5, 1, 1]],
      ['1-byte chunks', new Array<number>(MESSAGE.length).fill(1)],
    ];
    for (const [name, sizes] of shapes) {
      h.submissions.length = 0;
      const c = await ehloSession(h.port);
      await envelope(c);
      const replies = await sendChunks(c, MESSAGE, sizes);
      const final = replies.pop()!;
      assert.match(final, new RegExp(`^250 2\\.0\\.0 Ok: ${MESSAGE.length} bytes queued as \\w+$`), `${name}: ${final}`);
      for (const r of replies) assert.match(r, /^250 2\.0\.0 Ok: \d+ bytes$/, name);
      assert.equal(h.submissions.length, 1, name);
      assert.ok(contentOf(h).equals(MESSAGE), `${name}: byte-exact`);
      assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
      c.close();
    }
    await until(() => logLines.some((l) => /disconnect from localhost\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=1 bdat=\d+ quit=1 commands=\d+$/.test(l)));
  } finally {
    await h.stop();
  }
});

test('8-bit bytes, every byte value but bare LF, and a "CRLF.CRLF" inside a chunk stay content', async () => {
  const h = await startSmtpd();
  try {
    const all: number[] = [];
    for (let b = 0; b < 256; b++) if (b !== 0x0a) all.push(b);
    const content = Buffer.concat([
      Buffer.from('Subject: bytes\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
      Buffer.from(all),
      Buffer.from('\r\n.\r\nMAIL FROM:<evil@attacker.example>\r\n.\r\n'),
      Buffer.from('grüße 📮\r\n', 'utf8'),
    ]);
    const c = await ehloSession(h.port);
    await envelope(c, ' BODY=8BITMIME');
    const replies = await sendChunks(c, content, [60, 61]);
    assert.match(replies.at(-1)!, /^250 2\.0\.0 Ok: \d+ bytes queued as/);
    assert.equal(h.submissions.length, 1);
    assert.ok(contentOf(h).equals(content));
    assert.equal(h.submissions[0].bodyType, '8BITMIME');
    c.close();
  } finally {
    await h.stop();
  }
});

test('pipelined: two transactions, every command and chunk in one write, answered in order', async () => {
  const h = await startSmtpd();
  try {
    const c = await ehloSession(h.port);
    const first = Buffer.from('Subject: one\r\n\r\nfirst\r\n');
    const second = Buffer.from('Subject: two\r\n\r\nsecond\r\nRSET\r\n');
    c.send(
      Buffer.concat([
        Buffer.from('MAIL FROM:<s@test.example>\r\nRCPT TO:<u@mx.test.example>\r\n'),
        Buffer.from(`BDAT 10\r\n`),
        first.subarray(0, 10),
        Buffer.from(`BDAT ${first.length - 10} LAST\r\n`),
        first.subarray(10),
        Buffer.from('MAIL FROM:<t@test.example>\r\nRCPT TO:<v@mx.test.example>\r\n'),
        Buffer.from(`BDAT ${second.length} LAST\r\n`),
        second,
        Buffer.from('RSET\r\nQUIT\r\n'),
      ]),
    );
    const replies: string[] = [];
    for (;;) {
      const r = await c.reply();
      if (r === undefined) break;
      replies.push(r);
      if (r.startsWith('221')) break;
    }
    assert.equal(replies.length, 9, replies.join(' | '));
    assert.deepEqual(replies.slice(0, 3), ['250 2.1.0 Ok', '250 2.1.5 Ok', '250 2.0.0 Ok: 10 bytes']);
    assert.match(replies[3], new RegExp(`^250 2\\.0\\.0 Ok: ${first.length} bytes queued as`));
    assert.deepEqual(replies.slice(4, 6), ['250 2.1.0 Ok', '250 2.1.5 Ok']);
    assert.match(replies[6], new RegExp(`^250 2\\.0\\.0 Ok: ${second.length} bytes queued as`));
    assert.deepEqual(replies.slice(7), ['250 2.0.0 Ok', '221 2.0.0 Bye']);
    assert.equal(h.submissions.length, 2);
    assert.ok(contentOf(h, 0).equals(first));
    assert.ok(contentOf(h, 1).equals(second), 'a command line inside a chunk is content');
    assert.equal(h.submissions[1].sender, 't@test.example');
  } finally {
    await h.stop();
  }
});

test('BDAT and DATA in one session; DATA, MAIL and RCPT within a BDAT transaction are refused as Postfix does', async () => {
  const h = await startSmtpd();
  try {
    const c = await ehloSession(h.port);
    await envelope(c);
    c.send('BDAT 5\r\nSubje');
    assert.equal(await c.reply(), '250 2.0.0 Ok: 5 bytes');
    assert.equal(await c.cmd('DATA'), '503 5.5.1 Error: DATA after BDAT');
    assert.equal(await c.cmd('RCPT TO:<v@mx.test.example>'), '503 5.5.1 Error: RCPT after BDAT');
    assert.equal(await c.cmd('MAIL FROM:<x@test.example>'), '503 5.5.1 Error: nested MAIL command');
    c.send('BDAT 15 LAST\r\nct: a\r\n\r\nbody\r\n');
    assert.match((await c.reply())!, /^250 2\.0\.0 Ok: 20 bytes queued as/);
    await envelope(c);
    assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    assert.match((await c.cmd('Subject: b\r\n\r\nby DATA\r\n.'))!, /^250 2\.0\.0 Ok: queued as \w+$/);
    assert.equal(h.submissions.length, 2);
    assert.equal(contentOf(h, 0).toString(), 'Subject: a\r\n\r\nbody\r\n');
    assert.equal(contentOf(h, 1).toString(), 'Subject: b\r\n\r\nby DATA\r\n');
    c.close();
  } finally {
    await h.stop();
  }
});

test('a chunk past message_size_limit gets 552 5.3.4; the rest of the transaction is read and discarded; the session goes on', async () => {
  const h = await startSmtpd({ message_size_limit: '1000' });
  try {
    const c = await ehloSession(h.port);
    await envelope(c);
    c.send(Buffer.concat([Buffer.from('BDAT 600\r\n'), Buffer.alloc(600, 0x61)]));
    assert.equal(await c.reply(), '250 2.0.0 Ok: 600 bytes');
    // Pipelined: the refused chunk's bytes, then one more chunk, then a whole good message.
    const good = Buffer.from('Subject: small\r\n\r\nfits\r\n');
    c.send(
      Buffer.concat([
        Buffer.from('BDAT 500\r\n'),
        Buffer.alloc(500, 0x62),
        Buffer.from('BDAT 20 LAST\r\n'),
        Buffer.alloc(20, 0x63),
        Buffer.from('MAIL FROM:<s@test.example>\r\nRCPT TO:<u@mx.test.example>\r\n'),
        Buffer.from(`BDAT ${good.length} LAST\r\n`),
        good,
      ]),
    );
    assert.equal(await c.reply(), '552 5.3.4 Chunk exceeds message size limit');
    assert.equal(await c.reply(), '551 5.0.0 Discarded 20 bytes after earlier error');
    assert.equal(await c.reply(), '250 2.1.0 Ok');
    assert.equal(await c.reply(), '250 2.1.5 Ok');
    assert.match((await c.reply())!, /^250 2\.0\.0 Ok: \d+ bytes queued as/);
    assert.equal(h.submissions.length, 1);
    assert.ok(contentOf(h).equals(good));
    await until(() => logLines.some((l) => /warning: \w+: BDAT request from localhost\[127\.0\.0\.1\] exceeds message size limit/.test(l)));
    c.close();
  } finally {
    await h.stop();
  }
});

test('"BDAT 4294967296" is refused before a byte is read, and the session ends (nothing to wait for)', async () => {
  const h = await startSmtpd();
  try {
    const c = await ehloSession(h.port);
    await envelope(c);
    assert.equal(await c.cmd('BDAT 4294967296 LAST'), '552 5.3.4 Chunk exceeds message size limit');
    assert.ok(await c.closedByServer());
    assert.equal(h.submissions.length, 0);
    await until(() => logLines.some((l) => l.includes('too much BDAT content -- disabling further input from localhost[127.0.0.1]')));
  } finally {
    await h.stop();
  }
});

test('RSET between chunks drops the message; a new transaction is needed, and works', async () => {
  const h = await startSmtpd();
  try {
    const c = await ehloSession(h.port);
    await envelope(c);
    c.send('BDAT 7\r\nSubject');
    assert.equal(await c.reply(), '250 2.0.0 Ok: 7 bytes');
    assert.equal(await c.cmd('RSET'), '250 2.0.0 Ok');
    c.send('BDAT 5 LAST\r\nhello');
    assert.equal(await c.reply(), '503 5.5.1 Error: need RCPT command');
    await envelope(c);
    c.send('BDAT 0 LAST\r\n');
    assert.match((await c.reply())!, /^250 2\.0\.0 Ok: 0 bytes queued as/);
    assert.equal(h.submissions.length, 1);
    assert.equal(contentOf(h).length, 0, 'the chunk before RSET is gone');
    c.close();
  } finally {
    await h.stop();
  }
});

test('BDAT without recipients, a null chunk and a malformed count get Postfix\'s replies', async () => {
  const h = await startSmtpd({ mynetworks: '192.0.2.0/24' });
  try {
    const c = await ehloSession(h.port);
    c.send('BDAT 3 LAST\r\nabc');
    assert.equal(await c.reply(), '503 5.5.1 Error: need RCPT command');
    assert.equal(await c.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    assert.equal(await c.cmd('RCPT TO:<nobody@elsewhere.example>'), '454 4.7.1 <nobody@elsewhere.example>: Relay access denied');
    c.send('BDAT 3\r\nabcBDAT 2 LAST\r\nde');
    assert.equal(await c.reply(), '554 5.5.1 Error: no valid recipients');
    assert.equal(await c.reply(), '551 5.0.0 Discarded 2 bytes after earlier error');
    await envelope(c);
    assert.equal(await c.cmd('BDAT 0'), '551 5.7.1 Null BDAT request');
    assert.equal(await c.cmd('BDAT 12x'), '521 5.5.4 Syntax: BDAT count [LAST]');
    assert.ok(await c.closedByServer());
    assert.equal(h.submissions.length, 0);
    await until(() => logLines.some((l) => /warning: \w+: malformed BDAT command syntax from localhost\[127\.0\.0\.1\]: BDAT 12x/.test(l)));
  } finally {
    await h.stop();
  }
});

test('BODY=BINARYMIME: DATA is refused, BDAT keeps every byte (bare LF too)', async () => {
  const h = await startSmtpd();
  try {
    const c = await ehloSession(h.port);
    await envelope(c, ' BODY=BINARYMIME');
    assert.equal(await c.cmd('DATA'), '503 5.5.1 Error: BODY=BINARYMIME requires BDAT');
    const bytes: number[] = [];
    for (let i = 0; i < 1024; i++) bytes.push((i * 37) & 0xff);
    const content = Buffer.concat([Buffer.from('Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'), Buffer.from(bytes), Buffer.from('\n\n.\n')]);
    const replies = await sendChunks(c, content, [100, 333]);
    assert.match(replies.at(-1)!, /^250 2\.0\.0 Ok: \d+ bytes queued as/);
    assert.equal(h.submissions.length, 1);
    assert.ok(contentOf(h).equals(content));
    assert.equal(h.submissions[0].bodyType, 'BINARYMIME');
    c.close();
  } finally {
    await h.stop();
  }
});

test('bare LF: normalize makes it CRLF (across chunk ends too), reject ends the session; a last line without its end gets CRLF', async () => {
  const h = await startSmtpd();
  try {
    const c = await ehloSession(h.port);
    await envelope(c);
    const replies = await sendChunks(c, Buffer.from('Subject: lf\n\nbare\r\nsplit CR\r\nno end'), [16, 5, 10]);
    assert.match(replies.at(-1)!, /^250 2\.0\.0 Ok: \d+ bytes queued as/);
    assert.equal(contentOf(h).toString(), 'Subject: lf\r\n\r\nbare\r\nsplit CR\r\nno end\r\n');
    c.close();
  } finally {
    await h.stop();
  }
  const r = await startSmtpd({ smtpd_forbid_bare_newline: 'reject', smtpd_forbid_bare_newline_exclusions: '' });
  try {
    const c = await ehloSession(r.port);
    await envelope(c);
    // CR at the end of one chunk, LF at the start of the next: a CRLF, not a bare LF.
    const ok = Buffer.from('Subject: ok\r\n\r\nfine\r\n');
    const replies = await sendChunks(c, ok, [12]);
    assert.equal(replies[0], '250 2.0.0 Ok: 12 bytes');
    assert.match(replies[1], /^250 2\.0\.0 Ok: \d+ bytes queued as/);
    assert.ok(contentOf(r).equals(ok));
    await envelope(c);
    c.send('BDAT 10 LAST\r\nSubject\n\nx');
    assert.equal(await c.reply(), '521 5.5.2 Error: bare <LF> received');
    assert.ok(await c.closedByServer());
    assert.equal(r.submissions.length, 1);
    c.close();
  } finally {
    await r.stop();
  }
});

test('a client that stops sending a chunk meets smtpd_timeout; nothing is queued', async () => {
  const h = await startSmtpd({ smtpd_timeout: '1s' });
  try {
    const c = await ehloSession(h.port);
    await envelope(c);
    c.send('BDAT 100 LAST\r\nSubject: half\r\n');
    assert.equal(await c.reply(5000), '421 4.4.2 mx.test.example Error: timeout exceeded');
    assert.ok(await c.closedByServer());
    assert.equal(h.submissions.length, 0);
    await until(() => logLines.some((l) => l.includes('timeout after BDAT from localhost[127.0.0.1]')));
  } finally {
    await h.stop();
  }
});

test('the first chunk passes smtpd_data_restrictions; BDAT LAST passes smtpd_end_of_data_restrictions', async () => {
  const h = await startSmtpd({ smtpd_data_restrictions: 'reject' });
  try {
    const c = await ehloSession(h.port);
    await envelope(c);
    c.send('BDAT 3\r\nabcBDAT 3 LAST\r\ndef');
    assert.equal(await c.reply(), '554 5.7.1 <DATA>: Data command rejected: Access denied');
    assert.equal(await c.reply(), '551 5.0.0 Discarded 3 bytes after earlier error');
    assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok');
    c.close();
    assert.equal(h.submissions.length, 0);
  } finally {
    await h.stop();
  }
  const e = await startSmtpd({ smtpd_end_of_data_restrictions: 'reject' });
  try {
    const c = await ehloSession(e.port);
    await envelope(c);
    c.send('BDAT 14 LAST\r\nSubject: x\r\n\r\n');
    assert.equal(await c.reply(), '554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied');
    assert.equal(e.submissions.length, 0);
    // The transaction is over; the next one works.
    assert.equal(await c.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    c.close();
  } finally {
    await e.stop();
  }
});

test('the queue\'s refusal of a BDAT message is its reply, and the session goes on', async () => {
  const h = await startSmtpd();
  try {
    h.failWith = { ok: false, code: 554, dsn: '5.4.0', text: 'Error: too many hops' };
    const c = await ehloSession(h.port);
    await envelope(c);
    c.send('BDAT 14 LAST\r\nSubject: x\r\n\r\n');
    assert.equal(await c.reply(), '554 5.4.0 Error: too many hops');
    h.failWith = undefined;
    await envelope(c);
    c.send('BDAT 14 LAST\r\nSubject: y\r\n\r\n');
    assert.match((await c.reply())!, /^250 2\.0\.0 Ok: 14 bytes queued as/);
    c.close();
  } finally {
    await h.stop();
  }
});
