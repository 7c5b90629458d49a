/**
 * cleanup: the message as it leaves cleanup: Received, added headers,
 * byte-exact body, envelope rewriting.
 */
process.env.TZ = 'UTC';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from '../../src/cleanup/cleanup.js';
import { afterReceived, logLines, makeCleanup, queued, smtpInput } from './cleanup-fixture.js';

let dir: string;
let plain: Cleanup;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cleanup-'));
  await writeFile(join(dir, 'canonical'), 'old@sender.example new@sender.example\n');
  await writeFile(join(dir, 'virtual'), 'team@rcpt.example bob@rcpt.example, carol@rcpt.example\nping@rcpt.example pong@rcpt.example\npong@rcpt.example ping@rcpt.example\n');
  plain = makeCleanup({}, dir);
});

after(async () => {
  await plain.close();
  await rm(dir, { recursive: true, force: true });
});

test('prepends Received in Postfix format with the "for" clause for one recipient', async () => {
  const m = queued(await plain.process(smtpInput('Subject: hi\r\n\r\nbody\r\n')));
  const text = Buffer.from(m.content).toString('utf8');
  assert.equal(
    text,
    'Received: from mail.sender.example (mail.sender.example [192.0.2.10])\r\n' +
      '\tby mx.example.net (Postrider) with ESMTP id 4ZxYqT1abcDEF\r\n' +
      '\tfor <bob@rcpt.example>; Sat, 28 Nov 2026 20:31:07 +0000 (UTC)\r\n' +
      'Subject: hi\r\n\r\nbody\r\n',
  );
  assert.equal(m.headerLength, text.indexOf('\r\n\r\n') + 4);
});

test('Received without "for" for several recipients, with TLS information and an IPv6 client', async () => {
  const m = queued(
    await plain.process(
      smtpInput('Subject: hi\r\n\r\nx\r\n', {
        recipients: [{ address: 'a@rcpt.example' }, { address: 'b@rcpt.example' }],
        client: { name: 'unknown', addr: '2001:db8::5', protocol: 'ESMTPS' },
        heloName: 'client.example',
        tlsInfo: '(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))',
      }),
    ),
  );
  const text = Buffer.from(m.content).toString('utf8');
  assert.ok(
    text.startsWith(
      'Received: from client.example (unknown [IPv6:2001:db8::5])\r\n' +
        '\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n' +
        '\tby mx.example.net (Postrider) with ESMTPS id 4ZxYqT1abcDEF; Sat, 28 Nov 2026 20:31:07 +0000 (UTC)\r\nSubject: hi\r\n',
    ),
    text,
  );
});

test('a local submission gets Received "from userid", and From, Date and Message-ID where missing', async () => {
  logLines.length = 0;
  const r = await plain.process(
    smtpInput('Subject: local\r\n\r\nhello\r\n', {
      local: true,
      userid: 1000,
      sender: 'joe',
      client: { name: 'localhost', addr: '127.0.0.1', protocol: 'local' },
    }),
  );
  const m = queued(r);
  assert.equal(m.sender, 'joe@example.net');
  const text = Buffer.from(m.content).toString('utf8');
  assert.equal(
    text,
    'Received: by mx.example.net (Postrider, from userid 1000)\r\n' +
      '\tid 4ZxYqT1abcDEF; Sat, 28 Nov 2026 20:31:07 +0000 (UTC)\r\n' +
      'Message-Id: <20261128203107.4ZxYqT1abcDEF@mx.example.net>\r\n' +
      'Date: Sat, 28 Nov 2026 20:31:07 +0000 (UTC)\r\n' +
      'From: joe@example.net\r\n' +
      'Subject: local\r\n\r\nhello\r\n',
  );
  assert.equal(r.action === 'queue' && r.messageId, '<20261128203107.4ZxYqT1abcDEF@mx.example.net>');
  assert.ok(logLines.some((l) => l.endsWith('cleanup[1]: 4ZxYqT1abcDEF: message-id=<20261128203107.4ZxYqT1abcDEF@mx.example.net>')), logLines.join('\n'));
});

test('a local submission keeps the headers it has', async () => {
  const m = queued(
    await plain.process(
      smtpInput('From: Joe <joe@example.net>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <abc@host>\r\n\r\nx\r\n', { local: true, userid: 5 }),
    ),
  );
  const text = Buffer.from(m.content).toString('utf8');
  assert.equal(text.match(/^From:/gm)?.length, 1);
  assert.equal(text.match(/^Date:/gm)?.length, 1);
  assert.equal(text.match(/^Message-I[dD]:/gm)?.length, 1);
});

test('network mail from a client outside local_header_rewrite_clients gets no headers added, and logs message-id', async () => {
  logLines.length = 0;
  const r = await plain.process(smtpInput('Subject: none\r\n\r\nx\r\n'));
  const text = Buffer.from(queued(r).content).toString('utf8');
  assert.doesNotMatch(text, /^(Message-Id|Date|From):/im);
  assert.ok(logLines.some((l) => l.endsWith('4ZxYqT1abcDEF: message-id=<>')));
  logLines.length = 0;
  const r2 = await plain.process(smtpInput('Message-ID:\r\n  <folded@host>\r\n\r\nx\r\n'));
  assert.equal(r2.action === 'queue' && r2.messageId, '<folded@host>');
  assert.ok(logLines.some((l) => l.endsWith('4ZxYqT1abcDEF: message-id=<folded@host>')));
});

test('network mail from this host (permit_inet_interfaces) or with always_add_missing_headers gets Message-ID and Date', async () => {
  const fromLoopback = queued(await plain.process(smtpInput('Subject: x\r\n\r\nx\r\n', { client: { name: 'localhost', addr: '127.0.0.1', protocol: 'ESMTP' } })));
  assert.match(Buffer.from(fromLoopback.content).toString('utf8'), /\r\nMessage-Id: <20261128203107\.4ZxYqT1abcDEF@mx\.example\.net>\r\nDate: .*\r\nFrom: alice@sender\.example\r\n/);
  const always = makeCleanup({ always_add_missing_headers: 'yes' }, dir);
  const m = queued(await always.process(smtpInput('Subject: x\r\n\r\nx\r\n')));
  assert.match(Buffer.from(m.content).toString('utf8'), /\r\nMessage-Id: </);
  await always.close();
});

test('network mail from a client in mynetworks (permit_mynetworks) gets Message-ID; one outside does not', async () => {
  const c = makeCleanup({ local_header_rewrite_clients: 'permit_mynetworks', mynetworks: '127.0.0.0/8, [2001:db8::]/32, 192.0.2.0/24' }, dir);
  const inside = queued(await c.process(smtpInput('Subject: x\r\n\r\nx\r\n')));
  assert.match(Buffer.from(inside.content).toString('utf8'), /\r\nMessage-Id: </);
  const v6 = queued(await c.process(smtpInput('Subject: x\r\n\r\nx\r\n', { client: { name: 'v6.example', addr: '2001:db8::25', protocol: 'ESMTP' } })));
  assert.match(Buffer.from(v6.content).toString('utf8'), /\r\nMessage-Id: </);
  const outside = queued(await c.process(smtpInput('Subject: x\r\n\r\nx\r\n', { client: { name: 'out.example', addr: '198.51.100.7', protocol: 'ESMTP' } })));
  assert.doesNotMatch(Buffer.from(outside.content).toString('utf8'), /^Message-Id:/im);
  await c.close();
});

test('body and kept headers are byte-exact: 8-bit, UTF-8, a 998-character line', async () => {
  const eight = Buffer.from(Array.from({ length: 256 }, (_, i) => i).filter((b) => b !== 0x0a && b !== 0x0d));
  const head = Buffer.from('Subject: =?UTF-8?B?w6k=?=\r\nX-Raw: caf\u00e9 \u65e5\u672c\r\n\tfolded\r\n\r\n', 'utf8');
  const body = Buffer.concat([
    eight,
    Buffer.from('\r\n'),
    Buffer.from('Grüße, 日本語, emoji 😀\r\n', 'utf8'),
    Buffer.from('y'.repeat(998) + '\r\n'),
    Buffer.from('.leading dot kept\r\n\r\n\r\ntrailing blank lines\r\n'),
  ]);
  const m = queued(await plain.process(smtpInput(Buffer.concat([head, body]), { bodyType: '8BITMIME', smtputf8: true })));
  assert.deepEqual(afterReceived(m), Buffer.concat([head, body]));
  assert.deepEqual(Buffer.from(m.content).subarray(m.headerLength), body);
  assert.equal(m.bodyType, '8BITMIME');
  assert.equal(m.smtputf8, true);
});

test('a 10 MB body passes through unchanged', async () => {
  const head = Buffer.from('Subject: big\r\n\r\n');
  const line = Buffer.concat([randomBytes(700).map((b) => (b === 10 || b === 13 ? 65 : b)), Buffer.from('\r\n')]);
  const body = Buffer.concat(Array.from({ length: Math.ceil((10 * 1024 * 1024) / line.length) }, () => line));
  const m = queued(await plain.process(smtpInput(Buffer.concat([head, body]))));
  assert.ok(Buffer.from(m.content).subarray(m.headerLength).equals(body));
  assert.ok(afterReceived(m).subarray(0, head.length).equals(head));
});

test('a message without a body, and one without a final CRLF, get the empty line that ends the header', async () => {
  const m = queued(await plain.process(smtpInput('Subject: no body\r\n')));
  assert.equal(afterReceived(m).toString(), 'Subject: no body\r\n\r\n');
  assert.equal(m.headerLength, m.content.length);
  const m2 = queued(await plain.process(smtpInput('Subject: no newline')));
  assert.equal(afterReceived(m2).toString(), 'Subject: no newline\r\n\r\n');
  const m3 = queued(await plain.process(smtpInput('')));
  assert.equal(afterReceived(m3).toString(), '\r\n');
});

test('LF-only input is normalised to CRLF', async () => {
  const m = queued(await plain.process(smtpInput('Subject: lf\nX-Fold: a\n b\n\nline 1\nline 2\r\nline 3\n')));
  assert.equal(afterReceived(m).toString(), 'Subject: lf\r\nX-Fold: a\r\n b\r\n\r\nline 1\r\nline 2\r\nline 3\r\n');
  assert.equal(Buffer.from(m.content).subarray(m.headerLength).toString(), 'line 1\r\nline 2\r\nline 3\r\n');
});

test('content smtpd marked as CRLF already (crlf) is taken as given, not scanned for bare LF again', async () => {
  // The bare LF here could not come from smtpd (its collector turns each into CRLF): it shows the scan was skipped.
  const m = queued(await plain.process({ ...smtpInput('Subject: s\r\n\r\nbody\nend\r\n'), crlf: true }));
  assert.equal(Buffer.from(m.content).subarray(m.headerLength).toString(), 'body\nend\r\n');
});

test('a first line that is not a header starts the body', async () => {
  const m = queued(await plain.process(smtpInput('Subject: x\r\nthis is not a header\r\nmore\r\n')));
  assert.equal(afterReceived(m).toString(), 'Subject: x\r\n\r\nthis is not a header\r\nmore\r\n');
});

test('headers beyond header_size_limit become body', async () => {
  const small = makeCleanup({ header_size_limit: '60' }, dir);
  const input = 'Subject: one\r\nX-A: 0123456789012345678901234567890\r\nX-B: over the limit\r\n\r\nbody\r\n';
  const m = queued(await small.process(smtpInput(input)));
  const content = Buffer.from(m.content);
  assert.equal(afterReceived(m).toString(), 'Subject: one\r\nX-A: 0123456789012345678901234567890\r\n\r\nX-B: over the limit\r\n\r\nbody\r\n');
  assert.equal(content.subarray(m.headerLength).toString(), 'X-B: over the limit\r\n\r\nbody\r\n');
  await small.close();
});

test('envelope: canonical and virtual alias expansion keep ORCPT and NOTIFY and record the original recipient; duplicates go as in Postfix', async () => {
  const c = makeCleanup({ canonical_maps: 'texthash:canonical', virtual_alias_maps: 'texthash:virtual' }, dir);
  const m = queued(
    await c.process(
      smtpInput('Subject: x\r\n\r\nx\r\n', {
        sender: 'old@sender.example',
        recipients: [
          { address: 'team@rcpt.example', orcpt: 'rfc822;team@rcpt.example', notify: ['SUCCESS', 'FAILURE'] },
          { address: 'Bob@rcpt.example' },
          { address: 'dave@rcpt.example', notify: ['NEVER'] },
        ],
      }),
    ),
  );
  assert.equal(m.sender, 'new@sender.example');
  // Bob@ came as itself, bob@ through team@: two recipients, as Postfix keeps them (each its own X-Original-To).
  assert.deepEqual(m.recipients, [
    { address: 'bob@rcpt.example', orcpt: 'rfc822;team@rcpt.example', notify: ['SUCCESS', 'FAILURE'], origRcpt: 'team@rcpt.example' },
    { address: 'carol@rcpt.example', orcpt: 'rfc822;team@rcpt.example', notify: ['SUCCESS', 'FAILURE'], origRcpt: 'team@rcpt.example' },
    { address: 'Bob@rcpt.example' },
    { address: 'dave@rcpt.example', notify: ['NEVER'] },
  ]);
  const off = makeCleanup({ canonical_maps: 'texthash:canonical', virtual_alias_maps: 'texthash:virtual', enable_original_recipient: 'no' }, dir);
  const m2 = queued(
    await off.process(
      smtpInput('Subject: x\r\n\r\nx\r\n', {
        recipients: [{ address: 'team@rcpt.example' }, { address: 'Bob@rcpt.example' }, { address: 'team@rcpt.example', notify: ['NEVER'] }],
      }),
    ),
  );
  assert.deepEqual(m2.recipients, [{ address: 'bob@rcpt.example' }, { address: 'carol@rcpt.example' }]);
  await off.close();
  // The null sender stays null.
  assert.equal(queued(await c.process(smtpInput('x: y\r\n\r\n', { sender: '' }))).sender, '');
  await c.close();
});

test('an alias expansion error is a temporary reject with 4.6.0', async () => {
  const c = makeCleanup({ virtual_alias_maps: 'texthash:virtual', virtual_alias_recursion_limit: '10' }, dir);
  const r = await c.process(smtpInput('Subject: x\r\n\r\nx\r\n', { recipients: [{ address: 'ping@rcpt.example' }] }));
  assert.deepEqual(r, { action: 'reject', reason: '4.6.0 Alias expansion error' });
  await c.close();
});

test('a rewrite service that fails gives a temporary reject, not a throw', async () => {
  const { Cleanup } = await import('../../src/cleanup/cleanup.js');
  const { MainConfig } = await import('../../src/config/main-config.js');
  const { Logger } = await import('../../src/util/log.js');
  const c = new Cleanup({
    config: new MainConfig({ myhostname: 'mx.example.net' }, dir),
    log: new Logger('cleanup', 2),
    instance: 2,
    rewrite: async () => {
      throw new Error('peer timed out');
    },
  });
  const r = await c.process(smtpInput('Subject: x\r\n\r\nx\r\n'));
  assert.equal(r.action, 'reject');
  assert.match((r as { reason: string }).reason, /^4\.3\.0 .*peer timed out/);
  await c.close();
});

test('Received names the AUTH user when smtpd asked for it, after the TLS line, as a safe comment', async () => {
  const m = queued(
    await plain.process(
      smtpInput('Subject: hi\r\n\r\nx\r\n', {
        tlsInfo: '(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))',
        authenticatedSender: 'alice (boss)',
      }),
    ),
  );
  const text = Buffer.from(m.content).toString('utf8');
  assert.ok(
    text.startsWith(
      'Received: from mail.sender.example (mail.sender.example [192.0.2.10])\r\n' +
        '\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n' +
        '\t(Authenticated sender: alice ?boss?)\r\n' +
        '\tby mx.example.net (Postrider) with ESMTP id 4ZxYqT1abcDEF\r\n',
    ),
    text,
  );
});

test('hopcount_limit: a message with that many Received headers, its own included, is refused as a mail loop (554 5.4.0)', async () => {
  const hops = (n: number) => 'Received: from a by b; Sat, 28 Nov 2026 20:00:00 +0000\r\n'.repeat(n) + 'Subject: loop\r\n\r\nround and round\r\n';
  const c = makeCleanup({ hopcount_limit: '5' }, dir);
  try {
    logLines.length = 0;
    // 4 on arrival and the one cleanup adds: 5, the limit (Postfix counts its own Received: header).
    assert.deepEqual(await c.process(smtpInput(hops(4))), { action: 'reject', reason: '5.4.0 Error: too many hops', code: 554 });
    assert.ok(logLines.some((l) => l.includes('4ZxYqT1abcDEF: message rejected: hopcount exceeded')), logLines.join('\n'));
    assert.equal((await c.process(smtpInput(hops(3)))).action, 'queue');
  } finally {
    await c.close();
  }
  // Postfix's default 50.
  assert.equal((await plain.process(smtpInput(hops(48)))).action, 'queue');
  assert.equal((await plain.process(smtpInput(hops(49)))).action, 'reject');
});

test('a spooled message: only its header section is read and queued, the body stays in the file; body_checks read it whole', async () => {
  const header = 'From: alice@sender.example\r\nSubject: big\r\nMessage-ID: <spooled@sender.example>\r\n\r\n';
  // Near the start: body_checks look at the first body_checks_size_limit bytes, as Postfix's.
  const body = 'first line\r\nFORBIDDEN words\r\n' + 'a line of the body that is long enough\r\n'.repeat(30_000);
  const path = join(dir, 'spooled-message');
  await writeFile(path, header + body);
  const spooled = { path, length: Buffer.byteLength(header + body) };
  const m = queued(await plain.process(smtpInput('', { spooled })));
  assert.deepEqual(m.bodyFile, { offset: header.length, length: Buffer.byteLength(body) });
  const text = Buffer.from(m.content).toString('utf8');
  assert.match(text, /^Received: from mail\.sender\.example/);
  assert.ok(text.endsWith(header), 'the header section as received, behind the Received: header');
  assert.equal(m.headerLength, m.content.length);

  await writeFile(join(dir, 'body_checks'), '/^FORBIDDEN/ REJECT no thanks\n');
  const checking = makeCleanup({ body_checks: `regexp:${join(dir, 'body_checks')}` }, dir);
  try {
    const r = await checking.process(smtpInput('', { spooled }));
    assert.equal(r.action, 'reject');
    await writeFile(path, header + body.replace('FORBIDDEN', 'allowed'));
    const whole = queued(await checking.process(smtpInput('', { spooled })));
    assert.equal(whole.bodyFile, undefined);
    assert.ok(afterReceived(whole).equals(Buffer.from(header + body.replace('FORBIDDEN', 'allowed'))));
  } finally {
    await checking.close();
  }
});
