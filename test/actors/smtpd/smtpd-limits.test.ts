/** Limits: recipients, timeout, connections per client, errors; hostile input gets replies and others are still served. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ehloSession, logLines, RawClient, sendMail, startSmtpd, until } from './smtpd-test-kit.js';

test('smtpd_recipient_limit: 452 4.5.3 Error: too many recipients', async () => {
  const h = await startSmtpd({ smtpd_recipient_limit: '3' });
  try {
    const c = await ehloSession(h.port);
    await c.cmd('MAIL FROM:<s@test.example>');
    for (let i = 0; i < 3; i++) assert.equal(await c.cmd(`RCPT TO:<u${i}@mx.test.example>`), '250 2.1.5 Ok');
    assert.equal(await c.cmd('RCPT TO:<u9@mx.test.example>'), '452 4.5.3 Error: too many recipients');
    await c.cmd('DATA');
    assert.match((await c.cmd('Subject: x\r\n\r\ny\r\n.'))!, /^250 2\.0\.0/);
    assert.equal(h.submissions[0].recipients.length, 3);
    c.close();
  } finally {
    await h.stop();
  }
});

test('1,100 recipients: the 100 past smtpd_recipient_limit get 452 and are not errors; DATA delivers to the first 1,000', async () => {
  const h = await startSmtpd();
  try {
    const c = await ehloSession(h.port);
    assert.equal(await c.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    // Pipelined in groups, as a bulk client sends them.
    const replies: string[] = [];
    for (let g = 0; g < 11; g++) {
      let group = '';
      for (let i = 0; i < 100; i++) group += `RCPT TO:<u${g * 100 + i}@mx.test.example>\r\n`;
      c.send(group);
      for (let i = 0; i < 100; i++) replies.push((await c.reply())!);
    }
    assert.equal(replies.filter((r) => r === '250 2.1.5 Ok').length, 1000);
    assert.deepEqual([...new Set(replies.slice(1000))], ['452 4.5.3 Error: too many recipients']);
    assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    assert.match((await c.cmd('Subject: many\r\n\r\nhi\r\n.'))!, /^250 2\.0\.0 Ok: queued as/);
    assert.equal(h.submissions[0].recipients.length, 1000);
    assert.equal(h.submissions[0].recipients[999].address, 'u999@mx.test.example');
    assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
  } finally {
    await h.stop();
  }
});

test('smtpd_recipient_overshoot_limit: only the 452s past it count toward the hard error limit', async () => {
  const h = await startSmtpd({ smtpd_recipient_limit: '1', smtpd_recipient_overshoot_limit: '2', smtpd_hard_error_limit: '2', smtpd_soft_error_limit: '100' });
  try {
    const c = await ehloSession(h.port);
    await c.cmd('MAIL FROM:<s@test.example>');
    assert.equal(await c.cmd('RCPT TO:<a@mx.test.example>'), '250 2.1.5 Ok');
    for (let i = 0; i < 4; i++) assert.equal(await c.cmd(`RCPT TO:<x${i}@mx.test.example>`), '452 4.5.3 Error: too many recipients');
    assert.equal(await c.cmd('DATA'), '421 4.7.0 mx.test.example Error: too many errors');
    // A new transaction starts a new overshoot count.
    const d = await ehloSession(h.port);
    for (let t = 0; t < 2; t++) {
      await d.cmd('MAIL FROM:<s@test.example>');
      await d.cmd('RCPT TO:<a@mx.test.example>');
      for (let i = 0; i < 2; i++) assert.equal(await d.cmd(`RCPT TO:<x${i}@mx.test.example>`), '452 4.5.3 Error: too many recipients');
      assert.equal(await d.cmd('RSET'), '250 2.0.0 Ok');
    }
    d.close();
  } finally {
    await h.stop();
  }
});

test('smtpd_timeout: an idle client gets 421 4.4.2 Error: timeout exceeded and is disconnected', async () => {
  const h = await startSmtpd({ smtpd_timeout: '1s' });
  try {
    const c = await ehloSession(h.port);
    assert.equal(await c.reply(5000), '421 4.4.2 mx.test.example Error: timeout exceeded');
    assert.ok(await c.closedByServer());
    await until(() => logLines.some((l) => l.includes('timeout after EHLO from localhost[127.0.0.1]')));
  } finally {
    await h.stop();
  }
});

test('smtpd_client_connection_count_limit: the next connection gets 421 4.7.0; mynetworks are exempt', async () => {
  const h = await startSmtpd({ smtpd_client_connection_count_limit: '2', mynetworks: '192.0.2.0/24' });
  try {
    const a = await ehloSession(h.port);
    const b = await ehloSession(h.port);
    const c = await RawClient.open(h.port);
    assert.equal(await c.reply(), '421 4.7.0 mx.test.example Error: too many connections from 127.0.0.1');
    assert.ok(await c.closedByServer());
    a.close();
    await until(() => h.smtpd.stats().active === 1);
    const d = await ehloSession(h.port);
    d.close();
    b.close();
    await until(() => logLines.some((l) => l.includes('warning: Connection concurrency limit exceeded: 3 from localhost[127.0.0.1] for service 127.0.0.1:0')));
  } finally {
    await h.stop();
  }
  const x = await startSmtpd({ smtpd_client_connection_count_limit: '1', mynetworks: '127.0.0.0/8' });
  try {
    const a = await ehloSession(x.port);
    const b = await ehloSession(x.port);
    a.close();
    b.close();
  } finally {
    await x.stop();
  }
});

test('smtpd_client_event_limit_exceptions: listed clients are not counted, whatever mynetworks says', async () => {
  const h = await startSmtpd({ smtpd_client_connection_count_limit: '1', mynetworks: '192.0.2.0/24', smtpd_client_event_limit_exceptions: '127.0.0.1' });
  try {
    const a = await ehloSession(h.port);
    const b = await ehloSession(h.port);
    a.close();
    b.close();
  } finally {
    await h.stop();
  }
});

test('smtpd_client_connection_rate_limit: over the rate in the time unit gets 421 4.7.0', async () => {
  const h = await startSmtpd({ smtpd_client_connection_rate_limit: '2', anvil_rate_time_unit: '60s', mynetworks: '192.0.2.0/24' });
  try {
    for (let i = 0; i < 2; i++) {
      const c = await ehloSession(h.port);
      c.close();
    }
    const c = await RawClient.open(h.port);
    assert.equal(await c.reply(), '421 4.7.0 mx.test.example Error: too many connections from 127.0.0.1');
    c.close();
  } finally {
    await h.stop();
  }
});

test('smtpd_hard_error_limit: 421 4.7.0 Error: too many errors; the tarpit delays replies past the soft limit', async () => {
  const h = await startSmtpd({ smtpd_soft_error_limit: '2', smtpd_hard_error_limit: '4', smtpd_error_sleep_time: '0.2s' });
  try {
    const c = await ehloSession(h.port);
    for (let i = 0; i < 4; i++) {
      const started = performance.now();
      assert.equal(await c.cmd('RCPT TO:<u@mx.test.example>'), '503 5.5.1 Error: need MAIL command');
      // From the third command on the session is at the soft limit: each reply waits smtpd_error_sleep_time.
      if (i >= 2) assert.ok(performance.now() - started >= 150, `command ${i + 1} not delayed`);
    }
    assert.equal(await c.cmd('NOOP'), '421 4.7.0 mx.test.example Error: too many errors');
    assert.ok(await c.closedByServer());
    await until(() => logLines.some((l) => l.includes('too many errors after NOOP from localhost[127.0.0.1]')));
    await until(() => logLines.some((l) => l.includes('disconnect from localhost[127.0.0.1] ehlo=1 rcpt=0/4 commands=1/5')));
  } finally {
    await h.stop();
  }
});

test('garbage, binary noise and oversized lines get replies; another client completes a message meanwhile', async () => {
  const h = await startSmtpd({ smtpd_hard_error_limit: '100' });
  try {
    const g = await ehloSession(h.port);
    assert.equal(await g.cmd('XYZZY plugh'), '500 5.5.2 Error: command not recognized');
    assert.equal(await g.cmd('MAIL FROM:<not an address>'), '501 5.1.7 Bad sender address syntax');
    assert.equal(await g.cmd('DATA'), '554 5.5.1 Error: no valid recipients');
    assert.equal(await g.cmd('RCPT TO:<>'), '503 5.5.1 Error: need MAIL command', 'Postfix asks for MAIL before it reads the address');
    assert.equal(await g.cmd('GET / HTTP/1.1'), '221 2.7.0 Error: I can break rules, too. Goodbye.');
    assert.ok(await g.closedByServer());

    const n = await ehloSession(h.port);
    const noise = randomBytes(4000);
    for (let i = 0; i < noise.length; i++) if (noise[i] === 0x0a || noise[i] === 0x0d) noise[i] = 0x41;
    noise[0] = 0xff;
    n.send(Buffer.concat([noise, Buffer.from('\r\n')]));
    assert.equal(await n.reply(), '500 5.5.2 Error: bad UTF-8 syntax');
    assert.equal(await n.cmd('NOOP'), '250 2.0.0 Ok');

    const big = await ehloSession(h.port);
    big.send('MAIL FROM:<' + 'a'.repeat(40000));
    assert.equal(await big.reply(), '421 4.7.0 mx.test.example Error: command line too long');
    assert.ok(await big.closedByServer());

    const ok = await sendMail(h.port, { from: 's@test.example', to: ['u@mx.test.example'], body: 'Subject: meanwhile\r\n\r\nfine\r\n' });
    assert.match(ok, /^250 2\.0\.0 Ok: queued as/);
    assert.equal(await n.cmd('QUIT'), '221 2.0.0 Bye');
    n.close();
  } finally {
    await h.stop();
  }
});

test('drain waits for a session in progress, refuses new ones, and closes leftovers with 421', async () => {
  const h = await startSmtpd();
  const c = await ehloSession(h.port);
  await c.cmd('MAIL FROM:<s@test.example>');
  const drained = h.smtpd.drain(500);
  assert.equal(await c.cmd('RCPT TO:<u@mx.test.example>'), '250 2.1.5 Ok');
  await drained;
  assert.equal(await c.reply(), '421 4.3.2 mx.test.example Error: service shutting down');
  await assert.rejects(RawClient.open(h.port));
  c.close();
});

test('at the drain deadline a message being queued gets its 250 first, then 421; an idle session gets 421 at once', async () => {
  const h = await startSmtpd();
  let release!: () => void;
  h.hold = new Promise((r) => (release = r));
  const busy = await ehloSession(h.port);
  const idle = await ehloSession(h.port);
  await busy.cmd('MAIL FROM:<s@test.example>');
  await busy.cmd('RCPT TO:<u@mx.test.example>');
  assert.match((await busy.cmd('DATA')) ?? '', /^354/);
  busy.send('Subject: slow\r\n\r\nqueued at the deadline\r\n.\r\n');
  await until(() => h.held === 1);
  const drained = h.smtpd.drain(100);
  assert.equal(await idle.reply(), '421 4.3.2 mx.test.example Error: service shutting down');
  await new Promise((r) => setTimeout(r, 200));
  release();
  assert.match((await busy.reply()) ?? '', /^250 2\.0\.0 Ok: queued as /);
  assert.equal(await busy.reply(), '421 4.3.2 mx.test.example Error: service shutting down');
  await drained;
  assert.equal(h.submissions.length, 1);
  busy.close();
  idle.close();
});
