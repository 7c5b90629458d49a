/** smtpd-connection: soft_bounce on every reply, and strict_rfc821_envelopes (bare addresses), over a real socket. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasAngleAddress } from '../../../src/actors/smtpd/smtpd-connection.js';
import { ehloSession, logLines, RawClient, startSmtpd, until } from './smtpd-test-kit.js';

test('soft_bounce: every 5xx reply goes out as 4xx, restrictions, syntax errors and content rejections alike, and is logged so', async () => {
  const h = await startSmtpd({ soft_bounce: 'yes', mynetworks: '192.0.2.0/24', smtpd_relay_restrictions: 'reject_unauth_destination' });
  try {
    const c = await ehloSession(h.port);
    assert.equal(await c.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    assert.equal(await c.cmd('RCPT TO:<soft@elsewhere.example>'), '454 4.7.1 <soft@elsewhere.example>: Relay access denied');
    assert.equal(await c.cmd('BOGUS'), '400 4.5.2 Error: command not recognized');
    assert.equal(await c.cmd('RCPT TO:<u@mx.test.example>'), '250 2.1.5 Ok');
    h.failWith = { ok: false, code: 550, dsn: '5.7.1', text: 'no spam here' };
    await c.cmd('DATA');
    assert.equal(await c.cmd('Subject: x\r\n\r\ny\r\n.'), '450 4.7.1 no spam here');
    c.close();
    await until(() => logLines.some((l) => l.includes('reject: RCPT from localhost[127.0.0.1]: 454 4.7.1 <soft@elsewhere.example>: Relay access denied;')));
  } finally {
    await h.stop();
  }
  const hard = await startSmtpd({ mynetworks: '192.0.2.0/24', smtpd_relay_restrictions: 'reject_unauth_destination' });
  try {
    const c = await ehloSession(hard.port);
    await c.cmd('MAIL FROM:<s@test.example>');
    assert.equal(await c.cmd('RCPT TO:<hard@elsewhere.example>'), '554 5.7.1 <hard@elsewhere.example>: Relay access denied');
    c.close();
  } finally {
    await hard.stop();
  }
});

test('strict_rfc821_envelopes: MAIL FROM and RCPT TO need <address>; off (the default) a bare address is taken, as Postfix does', async () => {
  const h = await startSmtpd({ strict_rfc821_envelopes: 'yes' });
  try {
    const c = await ehloSession(h.port);
    assert.equal(await c.cmd('MAIL FROM:s@test.example'), '501 5.1.7 Bad sender address syntax');
    assert.equal(await c.cmd('MAIL FROM: <s@test.example>'), '250 2.1.0 Ok');
    assert.equal(await c.cmd('RCPT TO:u@mx.test.example'), '501 5.1.3 Bad recipient address syntax');
    assert.equal(await c.cmd('RCPT TO:<u@mx.test.example> NOTIFY=NEVER'), '250 2.1.5 Ok');
    c.close();
  } finally {
    await h.stop();
  }
  const lax = await startSmtpd();
  try {
    const c = await ehloSession(lax.port);
    assert.equal(await c.cmd('MAIL FROM:s@test.example'), '250 2.1.0 Ok');
    assert.equal(await c.cmd('RCPT TO:u@mx.test.example NOTIFY=NEVER'), '250 2.1.5 Ok');
    await c.cmd('DATA');
    assert.match((await c.cmd('Subject: x\r\n\r\ny\r\n.'))!, /^250 2\.0\.0 Ok/);
    c.close();
    assert.equal(lax.submissions[0].sender, 's@test.example');
    assert.deepEqual(lax.submissions[0].recipients, [{ address: 'u@mx.test.example', notify: ['NEVER'] }]);
  } finally {
    await lax.stop();
  }
  assert.equal(hasAngleAddress(Buffer.from('MAIL FROM:<>'), 'MAIL FROM:'), true);
  assert.equal(hasAngleAddress(Buffer.from('MAIL FROM:Joe <j@x.example>'), 'MAIL FROM:'), false);
});

test('disable_vrfy_command = yes: VRFY gets 502 5.5.1 and EHLO does not list it; by default EHLO lists VRFY and ETRN after SIZE', async () => {
  const off = await startSmtpd({ disable_vrfy_command: 'yes' });
  try {
    const c = await RawClient.open(off.port);
    await c.reply();
    const ehlo = (await c.cmd('EHLO client.test.example'))!.split('\r\n');
    assert.ok(!ehlo.some((l) => /^250[- ]VRFY$/.test(l)) && ehlo.includes('250-ETRN'), ehlo.join('|'));
    assert.equal(await c.cmd('VRFY root'), '502 5.5.1 VRFY command is disabled');
    c.close();
  } finally {
    await off.stop();
  }
  const on = await startSmtpd();
  try {
    const c = await RawClient.open(on.port);
    await c.reply();
    const ehlo = (await c.cmd('EHLO client.test.example'))!.split('\r\n');
    const size = ehlo.findIndex((l) => l.startsWith('250-SIZE'));
    assert.deepEqual(ehlo.slice(size + 1, size + 3), ['250-VRFY', '250-ETRN'], ehlo.join('|'));
    // CHUNKING comes last, as in Postfix's EHLO reply.
    assert.equal(ehlo[ehlo.length - 1], '250 CHUNKING', ehlo.join('|'));
    assert.equal(await c.cmd('VRFY u@mx.test.example'), '252 2.0.0 u@mx.test.example');
    assert.equal(await c.cmd('ETRN mx.test.example'), '459 <mx.test.example>: service unavailable', 'fast_flush_domains is $relay_domains, empty here');
    c.close();
  } finally {
    await on.stop();
  }
});
