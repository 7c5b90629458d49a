/**
 * smtpd-connection over real sockets: smtpd_junk_command_limit with the
 * error limits, smtpd_forbid_unauth_pipelining (before the greeting, after
 * EHLO, DATA, and in a HELO session), command lines that are not UTF-8,
 * 8-bit envelope addresses and SMTPUTF8, A-label domains kept as written,
 * and smtpd_session_limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeBytes, writtenAddress } from '../../../src/actors/smtpd/smtpd-connection.js';
import { ehloSession, logLines, RawClient, startSmtpd, until } from './smtpd-test-kit.js';

test('smtpd_junk_command_limit: junk commands past the limit count as errors up to the hard limit', async () => {
  const h = await startSmtpd({ smtpd_junk_command_limit: '2', smtpd_soft_error_limit: '100', smtpd_hard_error_limit: '3' });
  try {
    // EHLO is the first junk command; with a limit of 2 the first three are free.
    const c = await ehloSession(h.port);
    for (let i = 0; i < 5; i++) assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok', `NOOP ${i + 1}`);
    assert.equal(await c.cmd('NOOP'), '421 4.7.0 mx.test.example Error: too many errors');
    assert.ok(await c.closedByServer());
    await until(() => logLines.some((l) => l.includes('disconnect from localhost[127.0.0.1] ehlo=1 noop=5 commands=6')));
  } finally {
    await h.stop();
  }
});

test('smtpd_junk_command_limit: a delivered message forgives the junk and the errors', async () => {
  const h = await startSmtpd({ smtpd_junk_command_limit: '1', smtpd_soft_error_limit: '100', smtpd_hard_error_limit: '2' });
  try {
    const c = await ehloSession(h.port);
    assert.match((await c.cmd('VRFY root'))!, /^252 /);
    assert.equal(await c.cmd('RSET'), '250 2.0.0 Ok');
    await c.cmd('MAIL FROM:<s@test.example>');
    await c.cmd('RCPT TO:<u@mx.test.example>');
    await c.cmd('DATA');
    assert.match((await c.cmd('Subject: x\r\n\r\ny\r\n.'))!, /^250 2\.0\.0 Ok: queued as/);
    // Without the reset the second NOOP would already be the hard limit.
    for (let i = 0; i < 4; i++) assert.equal(await c.cmd('NOOP'), '250 2.0.0 Ok', `NOOP ${i + 1}`);
    assert.equal(await c.cmd('NOOP'), '421 4.7.0 mx.test.example Error: too many errors');
  } finally {
    await h.stop();
  }
});

test('smtpd_forbid_unauth_pipelining: input before the greeting gets 554 5.5.0 instead of the greeting', async () => {
  // The greeting waits, so the client's bytes are there before it, whatever the scheduling.
  const h = await startSmtpd({ smtpd_greet_wait: '0.3s' });
  try {
    const c = await RawClient.open(h.port);
    c.send('EHLO early.example\r\nMAIL FROM:<s@test.example>\r\n');
    assert.equal(await c.reply(), '554 5.5.0 Error: SMTP protocol synchronization');
    assert.ok(await c.closedByServer());
    assert.equal(h.submissions.length, 0);
    await until(() => logLines.some((l) => l.includes('improper command pipelining after CONNECT from localhost[127.0.0.1]: EHLO early.example\\r\\nMAIL FROM:<s@test.example>\\r\\n')));
  } finally {
    await h.stop();
  }
});

test('smtpd_forbid_unauth_pipelining: a whole transaction sent without waiting for any reply is refused', async () => {
  const h = await startSmtpd();
  try {
    const c = await RawClient.open(h.port);
    c.send('EHLO dump.example\r\nMAIL FROM:<s@test.example>\r\nRCPT TO:<u@mx.test.example>\r\nDATA\r\nSubject: spam\r\n\r\nspam\r\n.\r\nQUIT\r\n');
    const replies: string[] = [];
    for (let r = await c.reply(); r !== undefined; r = await c.reply()) replies.push(r);
    // Either the bytes beat the greeting (refused at CONNECT) or they follow EHLO (refused there).
    assert.equal(replies.at(-1), '554 5.5.0 Error: SMTP protocol synchronization', replies.join(' | '));
    assert.ok(replies.every((r) => r.startsWith('220 ') || r.startsWith('554 ')), replies.join(' | '));
    assert.equal(h.submissions.length, 0);
  } finally {
    await h.stop();
  }
});

test('smtpd_forbid_unauth_pipelining: EHLO, DATA and a HELO session end a pipelined group', async () => {
  const h = await startSmtpd();
  try {
    const e = await RawClient.open(h.port);
    await e.reply();
    e.send('EHLO p.example\r\nMAIL FROM:<s@test.example>\r\n');
    assert.equal(await e.reply(), '554 5.5.0 Error: SMTP protocol synchronization');
    assert.ok(await e.closedByServer());
    await until(() => logLines.some((l) => l.includes('improper command pipelining after EHLO from localhost[127.0.0.1]: MAIL FROM:<s@test.example>\\r\\n')));

    const d = await ehloSession(h.port);
    d.send('MAIL FROM:<s@test.example>\r\nRCPT TO:<u@mx.test.example>\r\nDATA\r\nSubject: x\r\n\r\ny\r\n.\r\n');
    assert.equal(await d.reply(), '250 2.1.0 Ok');
    assert.equal(await d.reply(), '250 2.1.5 Ok');
    assert.equal(await d.reply(), '554 5.5.0 Error: SMTP protocol synchronization');
    assert.ok(await d.closedByServer());

    const s = await RawClient.open(h.port);
    await s.reply();
    assert.match((await s.cmd('HELO old.example'))!, /^250 mx\.test\.example/);
    s.send('MAIL FROM:<s@test.example>\r\nRCPT TO:<u@mx.test.example>\r\n');
    assert.equal(await s.reply(), '554 5.5.0 Error: SMTP protocol synchronization', 'no PIPELINING without EHLO');
    assert.ok(await s.closedByServer());
    assert.equal(h.submissions.length, 0);
  } finally {
    await h.stop();
  }
});

test('smtpd_forbid_unauth_pipelining = no: the improper pipelining is logged and served', async () => {
  const h = await startSmtpd({ smtpd_forbid_unauth_pipelining: 'no', smtpd_greet_wait: '0.3s' });
  try {
    const c = await RawClient.open(h.port);
    c.send('EHLO early.example\r\nNOOP\r\n');
    assert.match((await c.reply())!, /^220 /);
    assert.match((await c.reply())!, /^250-mx\.test\.example/);
    assert.equal(await c.reply(), '250 2.0.0 Ok');
    c.close();
    await until(() => logLines.some((l) => l.includes('improper command pipelining after CONNECT from localhost[127.0.0.1]: EHLO early.example\\r\\nNOOP\\r\\n')));
  } finally {
    await h.stop();
  }
});

test('a command line that is not UTF-8 gets 500 5.5.2 Error: bad UTF-8 syntax, with SMTPUTF8 or without', async () => {
  const h = await startSmtpd();
  try {
    const c = await ehloSession(h.port);
    assert.equal(await c.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    // 0xE9 is "é" in Latin-1: one byte that UTF-8 cannot start a character with.
    c.send(Buffer.concat([Buffer.from('RCPT TO:<caf'), Buffer.from([0xe9]), Buffer.from('@mx.test.example>\r\n')]));
    assert.equal(await c.reply(), '500 5.5.2 Error: bad UTF-8 syntax');
    await c.cmd('RSET');
    assert.equal(await c.cmd('MAIL FROM:<s@test.example> SMTPUTF8'), '250 2.1.0 Ok');
    c.send(Buffer.concat([Buffer.from('RCPT TO:<caf'), Buffer.from([0xe9]), Buffer.from('@mx.test.example>\r\n')]));
    assert.equal(await c.reply(), '500 5.5.2 Error: bad UTF-8 syntax');
    assert.equal(await c.cmd('RCPT TO:<ok@mx.test.example>'), '250 2.1.5 Ok');
    await c.cmd('DATA');
    assert.match((await c.cmd('Subject: x\r\n\r\ny\r\n.'))!, /^250 2\.0\.0/);
    assert.deepEqual(h.submissions[0].recipients.map((r) => r.address), ['ok@mx.test.example'], 'no U+FFFD address slipped in');
    c.close();
  } finally {
    await h.stop();
  }
});

test('a UTF-8 envelope address needs SMTPUTF8: 553 5.6.7 without it, accepted byte for byte with it', async () => {
  const h = await startSmtpd();
  const utf8 = (line: string): Buffer => Buffer.from(line + '\r\n', 'utf8');
  try {
    const c = await ehloSession(h.port);
    c.send(utf8('MAIL FROM:<jos\u00e9@test.example>'));
    assert.equal(await c.reply(), '553 5.6.7 Must declare SMTPUTF8 to send unicode address');
    assert.equal(await c.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    c.send(utf8('RCPT TO:<caf\u00e9@mx.test.example>'));
    assert.equal(await c.reply(), '553 5.6.7 Must declare SMTPUTF8 to send unicode address');
    await c.cmd('RSET');
    c.send(utf8('MAIL FROM:<jos\u00e9@test.example> SMTPUTF8'));
    assert.equal(await c.reply(), '250 2.1.0 Ok');
    c.send(utf8('RCPT TO:<caf\u00e9@mx.test.example>'));
    assert.equal(await c.reply(), '250 2.1.5 Ok');
    await c.cmd('DATA');
    assert.match((await c.cmd('Subject: x\r\n\r\ny\r\n.'))!, /^250 2\.0\.0/);
    const s = h.submissions[0];
    assert.equal(s.sender, 'jos\u00e9@test.example');
    assert.deepEqual(s.recipients.map((r) => r.address), ['caf\u00e9@mx.test.example']);
    assert.equal(s.smtputf8, true);
    c.close();
  } finally {
    await h.stop();
  }
});

test('an A-label domain stays an A-label: no conversion to Unicode on the way in', async () => {
  const h = await startSmtpd({ relay_domains: 'xn--bcher-kva.example' });
  try {
    const c = await ehloSession(h.port);
    assert.equal(await c.cmd('MAIL FROM:<s@xn--mnchen-3ya.example>'), '250 2.1.0 Ok');
    assert.equal(await c.cmd('RCPT TO:<u@xn--bcher-kva.example>'), '250 2.1.5 Ok');
    assert.equal(await c.cmd('RCPT TO:<@relay.example:v@xn--bcher-kva.example>'), '250 2.1.5 Ok');
    await c.cmd('DATA');
    assert.match((await c.cmd('Subject: x\r\n\r\ny\r\n.'))!, /^250 2\.0\.0/);
    const s = h.submissions[0];
    assert.equal(s.sender, 's@xn--mnchen-3ya.example');
    assert.deepEqual(s.recipients.map((r) => r.address), ['u@xn--bcher-kva.example', 'v@xn--bcher-kva.example']);
    assert.equal(s.smtputf8, undefined);
    c.close();
  } finally {
    await h.stop();
  }
});

test('smtpd_session_limit: a session beyond it gets 421 4.3.2 All server ports are busy; a freed slot serves again', async () => {
  const h = await startSmtpd({ smtpd_session_limit: '2' });
  try {
    const a = await ehloSession(h.port);
    const b = await ehloSession(h.port);
    const c = await RawClient.open(h.port);
    assert.equal(await c.reply(), '421 4.3.2 All server ports are busy');
    assert.ok(await c.closedByServer());
    await until(() => logLines.some((l) => /NOQUEUE: reject: CONNECT from \[127\.0\.0\.1\]:\d+: all server ports busy/.test(l)));
    assert.equal(h.smtpd.stats().rejected, 1);
    a.close();
    await until(() => h.smtpd.stats().active === 1);
    const d = await ehloSession(h.port);
    assert.equal(await d.cmd('NOOP'), '250 2.0.0 Ok');
    d.close();
    b.close();
  } finally {
    await h.stop();
  }
});

test('writtenAddress and escapeBytes', () => {
  assert.equal(writtenAddress('RCPT TO:<u@xn--bcher-kva.example> NOTIFY=NEVER'), 'u@xn--bcher-kva.example');
  assert.equal(writtenAddress('MAIL FROM:<@a.example,@b.example:u@c.example>'), 'u@c.example');
  assert.equal(writtenAddress('RCPT TO:<u@[IPv6:::1]>'), undefined);
  assert.equal(writtenAddress('RCPT TO:<postmaster>'), undefined);
  assert.equal(escapeBytes(Buffer.from('A\r\n\t\\\x01\xff', 'latin1')), 'A\\r\\n\\t\\\\\\001\\377');
});

test('RSET and DATA with an argument, and unknown ESMTP parameters, are refused as Postfix refuses them', async () => {
  const h = await startSmtpd();
  try {
    const c = await ehloSession(h.port);
    assert.equal(await c.cmd('RSET x'), '501 5.5.4 Syntax: RSET');
    assert.equal(await c.cmd('MAIL FROM:<s@test.example> SIZE=10 XYZZY'), '555 5.5.4 Unsupported option: XYZZY');
    assert.equal(await c.cmd('MAIL FROM:<s@test.example> SIZE=10 BODY=8BITMIME'), '250 2.1.0 Ok');
    assert.equal(await c.cmd('RCPT TO:<u@mx.test.example> FOO=BAR'), '555 5.5.4 Unsupported option: FOO=BAR', 'the option as written, as Postfix names it');
    assert.equal(await c.cmd(`RCPT TO:<u@mx.test.example> ${'>'.repeat(600)}`), `555 5.5.4 Unsupported option: ${'>'.repeat(200)}`, 'a long option is cut so the reply stays a legal line');
    assert.equal(await c.cmd('RCPT TO:<u@mx.test.example> NOTIFY=NEVER'), '250 2.1.5 Ok');
    assert.equal(await c.cmd('DATA x'), '501 5.5.4 Syntax: DATA');
    c.close();
    const e = await RawClient.open(h.port);
    await e.reply();
    assert.equal(await e.cmd('EHLO'), '501 Syntax: EHLO hostname', 'Postfix\'s syntax reply, without an enhanced code');
    e.close();
  } finally {
    await h.stop();
  }
});

test('each session gets an id of its own (thread and count, no random bytes), sessions open at once included', async () => {
  const h = await startSmtpd();
  try {
    const clients = await Promise.all([ehloSession(h.port), ehloSession(h.port), ehloSession(h.port)]);
    // The library's connection set of this smtpd: what the policy client keys its sessions by.
    const server = (h.smtpd as unknown as { server: { connections: Set<{ id: string }> } }).server;
    await until(() => server.connections.size === 3);
    const ids = [...server.connections].map((c) => c.id);
    assert.equal(new Set(ids).size, 3, ids.join(' '));
    for (const id of ids) assert.match(id, /^[0-9a-v]+\.[0-9a-v]+$/);
    for (const c of clients) c.close();
  } finally {
    await h.stop();
  }
});
