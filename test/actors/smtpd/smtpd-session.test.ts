/** The SMTP session: greeting, EHLO extensions, a delivery, log lines, submit results. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ehloSession, logLines, RawClient, sendMail, startSmtpd, until } from './smtpd-test-kit.js';

test('greets with the banner, lists the extensions, queues a message and logs as Postfix', async () => {
  const h = await startSmtpd({ message_size_limit: '5000000' });
  try {
    const c = await RawClient.open(h.port);
    assert.equal(await c.reply(), '220 mx.test.example ESMTP Postrider');
    const ehlo = (await c.cmd('EHLO client.test.example'))!;
    const lines = ehlo.split('\r\n').map((l) => l.slice(4));
    assert.equal(lines[0], 'mx.test.example');
    for (const ext of ['PIPELINING', 'SIZE 5000000', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'DSN', 'BINARYMIME', 'CHUNKING']) assert.ok(lines.includes(ext), ext);
    assert.ok(!lines.some((l) => l.startsWith('STARTTLS')), 'no STARTTLS without a certificate');
    assert.ok(!lines.some((l) => l.startsWith('AUTH')), 'no AUTH unless enabled');
    assert.equal(await c.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    assert.equal(await c.cmd('RCPT TO:<u@mx.test.example>'), '250 2.1.5 Ok');
    assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    const r = await c.cmd('Subject: hi\r\n\r\nbody\r\n.');
    assert.match(r!, /^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]{12})$/);
    assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
    await c.closedByServer();
    await until(() => logLines.some((l) => l.includes('disconnect from localhost[127.0.0.1]')));
    const qid = /queued as (\S+)/.exec(r!)![1];
    assert.equal(h.submissions.length, 1);
    const s = h.submissions[0];
    assert.equal(s.queueId, qid);
    assert.equal(s.sender, 's@test.example');
    assert.deepEqual(s.recipients, [{ address: 'u@mx.test.example' }]);
    assert.equal(Buffer.from(s.content).toString(), 'Subject: hi\r\n\r\nbody\r\n');
    assert.equal(s.client.name, 'localhost');
    assert.equal(s.client.addr, '127.0.0.1');
    assert.equal(s.client.protocol, 'ESMTP');
    assert.equal(s.heloName, 'client.test.example');
    assert.ok(logLines.some((l) => l.endsWith('postrider/smtpd[1]: connect from localhost[127.0.0.1]')));
    assert.ok(logLines.some((l) => l.endsWith(`: ${qid}: client=localhost[127.0.0.1]`)));
    assert.ok(logLines.some((l) => l.endsWith('disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5')));
    assert.deepEqual({ ...h.smtpd.stats(), active: 0 }, { sessions: 1, accepted: 1, rejected: 0, active: 0 });
  } finally {
    await h.stop();
  }
});

test('refuses relaying for strangers with 454 (default) and logs the NOQUEUE reject line', async () => {
  const h = await startSmtpd({ mynetworks: '192.0.2.0/24' });
  try {
    const c = await ehloSession(h.port, 'h.example');
    await c.cmd('MAIL FROM:<s@x.example>');
    assert.equal(await c.cmd('RCPT TO:<u@example.com>'), '454 4.7.1 <u@example.com>: Relay access denied');
    assert.equal(await c.cmd('RCPT TO:<u@mx.test.example>'), '250 2.1.5 Ok');
    c.close();
    await until(() => logLines.some((l) => l.includes('NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 454 4.7.1 <u@example.com>: Relay access denied; from=<s@x.example> to=<u@example.com> proto=ESMTP helo=<h.example>')));
  } finally {
    await h.stop();
  }
});

test('a store failure answers 451 4.3.0 and a content rejection its own reply', async () => {
  const h = await startSmtpd();
  try {
    h.failWith = { ok: false, code: 452, dsn: '4.3.1', text: 'Insufficient system storage' };
    await assert.rejects(sendMail(h.port, { from: 's@test.example', to: ['u@mx.test.example'], body: 'Subject: a\r\n\r\nx\r\n' }), (e: Error & { response?: string }) => e.response === '451 4.3.0 Error: queue file write error');
    h.failWith = 'throw';
    await assert.rejects(sendMail(h.port, { from: 's@test.example', to: ['u@mx.test.example'], body: 'Subject: a\r\n\r\nx\r\n' }), (e: Error & { response?: string }) => e.response === '451 4.3.0 Error: queue file write error');
    h.failWith = { ok: false, code: 550, dsn: '5.7.1', text: 'Message content rejected' };
    await assert.rejects(sendMail(h.port, { from: 's@test.example', to: ['u@mx.test.example'], body: 'Subject: a\r\n\r\nx\r\n' }), (e: Error & { response?: string }) => e.response === '550 5.7.1 Message content rejected');
    h.failWith = undefined;
    const ok = await sendMail(h.port, { from: 's@test.example', to: ['u@mx.test.example'], body: 'Subject: a\r\n\r\nx\r\n' });
    assert.match(ok, /^250 2\.0\.0 Ok: queued as /);
    assert.equal(h.submissions.length, 1);
  } finally {
    await h.stop();
  }
});

test('smtpd_helo_required: no (default) lets MAIL come first; yes asks for HELO/EHLO', async () => {
  const h = await startSmtpd();
  try {
    const c = await RawClient.open(h.port);
    await c.reply();
    assert.equal(await c.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    assert.equal(await c.cmd('RCPT TO:<u@mx.test.example>'), '250 2.1.5 Ok');
    await c.cmd('DATA');
    assert.match((await c.cmd('Subject: x\r\n\r\ny\r\n.'))!, /^250 2\.0\.0/);
    c.close();
    assert.equal(h.submissions[0].heloName, undefined);
    assert.equal(h.submissions[0].client.protocol, 'SMTP');
  } finally {
    await h.stop();
  }
  const y = await startSmtpd({ smtpd_helo_required: 'yes' });
  try {
    const c = await RawClient.open(y.port);
    await c.reply();
    assert.equal(await c.cmd('MAIL FROM:<s@test.example>'), '503 5.5.1 Error: send HELO/EHLO first');
    c.close();
  } finally {
    await y.stop();
  }
});

test('PIPELINING after EHLO: MAIL, RCPT and DATA sent in one write get their replies in order', async () => {
  const h = await startSmtpd();
  try {
    const c = await RawClient.open(h.port);
    await c.reply();
    assert.match((await c.cmd('EHLO p.example'))!, /^250-mx\.test\.example/);
    c.send('MAIL FROM:<s@test.example>\r\nRCPT TO:<a@mx.test.example>\r\nRCPT TO:<b@mx.test.example>\r\nDATA\r\n');
    assert.equal(await c.reply(), '250 2.1.0 Ok');
    assert.equal(await c.reply(), '250 2.1.5 Ok');
    assert.equal(await c.reply(), '250 2.1.5 Ok');
    assert.equal(await c.reply(), '354 End data with <CR><LF>.<CR><LF>');
    c.send('Subject: p\r\n\r\nq\r\n.\r\nMAIL FROM:<s2@test.example>\r\nRCPT TO:<c@mx.test.example>\r\nQUIT\r\n');
    assert.match((await c.reply())!, /^250 2\.0\.0 Ok: queued as/);
    assert.equal(await c.reply(), '250 2.1.0 Ok');
    assert.equal(await c.reply(), '250 2.1.5 Ok');
    assert.equal(await c.reply(), '221 2.0.0 Bye');
    c.close();
    assert.deepEqual(h.submissions[0].recipients.map((r) => r.address), ['a@mx.test.example', 'b@mx.test.example']);
  } finally {
    await h.stop();
  }
});

test('smtpd_greet_wait: the greeting waits; a client that talks before it is refused as improper pipelining', async () => {
  const h = await startSmtpd({ smtpd_greet_wait: '2s' });
  try {
    const c = await RawClient.open(h.port);
    c.send('EHLO early.example\r\n');
    assert.match((await c.reply())!, /^554 5\.5\.0 Error: SMTP protocol synchronization/);
    c.close();
    // Waiting for the greeting is fine.
    const patient = await ehloSession(h.port);
    patient.close();
  } finally {
    await h.stop();
  }
});

test('a client that leaves without QUIT: "lost connection after CMD", and commands=0/0 when it sent none, as Postfix logs', async () => {
  const h = await startSmtpd({});
  try {
    const before = logLines.length;
    const silent = await RawClient.open(h.port);
    await silent.reply();
    silent.close();
    await until(() => logLines.slice(before).some((l) => l.includes('disconnect from localhost[127.0.0.1] commands=0/0')));
    const first = logLines.slice(before);
    const lost = first.findIndex((l) => l.endsWith('postrider/smtpd[1]: lost connection after CONNECT from localhost[127.0.0.1]'));
    assert.ok(lost >= 0, first.join('\n'));
    assert.ok(lost < first.findIndex((l) => l.includes('commands=0/0')), 'the lost connection line comes first');

    const mid = logLines.length;
    const c = await ehloSession(h.port, 'h.example');
    assert.equal(await c.cmd('MAIL FROM:<s@x.example>'), '250 2.1.0 Ok');
    c.close();
    await until(() => logLines.slice(mid).some((l) => l.includes('disconnect from localhost[127.0.0.1] ehlo=1 mail=1 commands=2')));
    assert.ok(logLines.slice(mid).some((l) => l.endsWith('lost connection after MAIL from localhost[127.0.0.1]')), logLines.slice(mid).join('\n'));

    const end = logLines.length;
    const polite = await ehloSession(h.port, 'h.example');
    assert.equal(await polite.cmd('QUIT'), '221 2.0.0 Bye');
    await polite.closedByServer();
    await until(() => logLines.slice(end).some((l) => l.includes('disconnect from localhost[127.0.0.1] ehlo=1 quit=1 commands=2')));
    assert.ok(!logLines.slice(end).some((l) => l.includes('lost connection')), 'QUIT is not a lost connection');
  } finally {
    await h.stop();
  }
});
