/**
 * smtpd-anvil: the client counters (MemoryAnvil) and the limits smtpd puts
 * on them over real sockets: messages, recipients and AUTH commands per
 * anvil_rate_time_unit, with Postfix's replies and warnings, the
 * exemption of smtpd_client_event_limit_exceptions, and counts that
 * several Smtpds of one service share.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAnvil } from '../../../src/actors/smtpd/smtpd-anvil.js';
import { saslAddUser } from '../../../src/global/sasl-passwd.js';
import { ehloSession, logLines, RawClient, startSmtpd, until } from './smtpd-test-kit.js';

const STRANGER = { mynetworks: '192.0.2.0/24' };

test('MemoryAnvil counts per service and client; one window per client resets every rate', async () => {
  let now = 0;
  const a = new MemoryAnvil(1000, () => now);
  assert.deepEqual(await a.connect('smtp', '1.2.3.4'), { count: 1, rate: 1 });
  assert.deepEqual(await a.connect('smtp', '1.2.3.4'), { count: 2, rate: 2 });
  assert.deepEqual(await a.connect('submission', '1.2.3.4'), { count: 1, rate: 1 });
  assert.equal(await a.mail('smtp', '1.2.3.4'), 1);
  assert.equal(await a.rcpt('smtp', '1.2.3.4'), 1);
  assert.equal(await a.rcpt('smtp', '1.2.3.4'), 2);
  assert.equal(await a.auth('smtp', '1.2.3.4'), 1);
  a.disconnect('smtp', '1.2.3.4');
  assert.equal(a.open('smtp', '1.2.3.4'), 1);
  now = 999;
  assert.equal(await a.rcpt('smtp', '1.2.3.4'), 3);
  now = 1000;
  assert.equal(await a.rcpt('smtp', '1.2.3.4'), 1, 'a new window');
  assert.equal(await a.mail('smtp', '1.2.3.4'), 1);
  assert.deepEqual(await a.connect('smtp', '1.2.3.4'), { count: 2, rate: 1 }, 'the open count outlives the window');
  a.disconnect('smtp', '1.2.3.4');
  a.disconnect('smtp', '1.2.3.4');
  a.disconnect('smtp', '1.2.3.4');
  assert.equal(a.open('smtp', '1.2.3.4'), 0, 'never below zero');
  // An idle client is forgotten once its window is over; its next connection starts afresh.
  now = 5000;
  assert.deepEqual(await a.connect('smtp', '5.6.7.8'), { count: 1, rate: 1 });
  assert.deepEqual(await a.connect('smtp', '1.2.3.4'), { count: 1, rate: 1 });
});

test('smtpd_client_message_rate_limit: 450 4.7.1 Error: too much mail from ADDR, across connections', async () => {
  const h = await startSmtpd({ ...STRANGER, smtpd_client_message_rate_limit: '2', anvil_rate_time_unit: '60s' });
  try {
    const a = await ehloSession(h.port);
    assert.equal(await a.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    assert.equal(await a.cmd('RSET'), '250 2.0.0 Ok');
    a.close();
    const b = await ehloSession(h.port);
    assert.equal(await b.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    await b.cmd('RSET');
    assert.equal(await b.cmd('MAIL FROM:<s@test.example>'), '450 4.7.1 Error: too much mail from 127.0.0.1');
    b.close();
    await until(() => logLines.some((l) => l.includes('warning: Message delivery request rate limit exceeded: 3 from localhost[127.0.0.1] for service 127.0.0.1:0')));
  } finally {
    await h.stop();
  }
});

test('smtpd_client_recipient_rate_limit: 450 4.7.1 Error: too many recipients from ADDR; the accepted ones still get the message', async () => {
  const h = await startSmtpd({ ...STRANGER, smtpd_client_recipient_rate_limit: '3', anvil_rate_time_unit: '60s' });
  try {
    const c = await ehloSession(h.port);
    await c.cmd('MAIL FROM:<s@test.example>');
    for (const u of ['a', 'b', 'c']) assert.equal(await c.cmd(`RCPT TO:<${u}@mx.test.example>`), '250 2.1.5 Ok');
    assert.equal(await c.cmd('RCPT TO:<d@mx.test.example>'), '450 4.7.1 Error: too many recipients from 127.0.0.1');
    assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    assert.match((await c.cmd('Subject: x\r\n\r\ny\r\n.'))!, /^250 2\.0\.0 Ok: queued as/);
    assert.deepEqual(h.submissions[0].recipients.map((r) => r.address), ['a@mx.test.example', 'b@mx.test.example', 'c@mx.test.example']);
    c.close();
    await until(() => logLines.some((l) => l.includes('warning: Recipient address rate limit exceeded: 4 from localhost[127.0.0.1] for service 127.0.0.1:0')));
  } finally {
    await h.stop();
  }
});

test('smtpd_client_auth_rate_limit: reconnecting does not reset the count; 450 4.7.1 Error: too many AUTH commands from ADDR', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smtpd-anvil-'));
  saslAddUser(join(dir, 'sasl_passwd'), 'alice@test.example', 'correct horse');
  const h = await startSmtpd(
    { ...STRANGER, smtpd_sasl_auth_enable: 'yes', smtpd_tls_auth_only: 'no', smtpd_sasl_password_maps: 'texthash:sasl_passwd', smtpd_client_auth_rate_limit: '3' },
    dir,
  );
  try {
    const bad = Buffer.from('\0alice@test.example\0guess').toString('base64');
    for (let i = 0; i < 3; i++) {
      const c = await ehloSession(h.port);
      assert.equal(await c.cmd(`AUTH PLAIN ${bad}`), '535 5.7.8 Error: authentication failed: authentication failure');
      c.close();
    }
    const c = await ehloSession(h.port);
    const good = Buffer.from('\0alice@test.example\0correct horse').toString('base64');
    assert.equal(await c.cmd(`AUTH PLAIN ${good}`), '450 4.7.1 Error: too many AUTH commands from 127.0.0.1', 'even the right secret waits for the next time unit');
    c.close();
    await until(() => logLines.some((l) => l.includes('warning: AUTH command rate limit exceeded: 4 from localhost[127.0.0.1] for service 127.0.0.1:0')));
  } finally {
    await h.stop();
  }
});

test('smtpd_client_event_limit_exceptions ($mynetworks by default) are not rate limited', async () => {
  const h = await startSmtpd({ mynetworks: '127.0.0.0/8', smtpd_client_message_rate_limit: '1', smtpd_client_recipient_rate_limit: '1' });
  try {
    const c = await ehloSession(h.port);
    for (let i = 0; i < 3; i++) {
      assert.equal(await c.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
      assert.equal(await c.cmd('RCPT TO:<a@mx.test.example>'), '250 2.1.5 Ok');
      assert.equal(await c.cmd('RCPT TO:<b@mx.test.example>'), '250 2.1.5 Ok');
      await c.cmd('RSET');
    }
    c.close();
  } finally {
    await h.stop();
  }
});

test('two listeners of one service that share an anvil share the counts (connections and messages)', async () => {
  const anvil = new MemoryAnvil(60_000);
  const params = { ...STRANGER, smtpd_client_connection_count_limit: '2', smtpd_client_message_rate_limit: '1' };
  const one = await startSmtpd(params, undefined, { anvil });
  const two = await startSmtpd(params, undefined, { anvil });
  try {
    const a = await ehloSession(one.port);
    const b = await ehloSession(two.port);
    const c = await RawClient.open(two.port);
    assert.equal(await c.reply(), '421 4.7.0 mx.test.example Error: too many connections from 127.0.0.1');
    assert.equal(await a.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    assert.equal(await b.cmd('MAIL FROM:<s@test.example>'), '450 4.7.1 Error: too much mail from 127.0.0.1');
    a.close();
    b.close();
    c.close();
    await until(() => anvil.open('127.0.0.1:0', '127.0.0.1') === 0);
  } finally {
    await one.stop();
    await two.stop();
  }
});
