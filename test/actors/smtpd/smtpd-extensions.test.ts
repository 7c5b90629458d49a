/** ESMTP extensions: SIZE, 8BITMIME, SMTPUTF8, DSN, STARTTLS, AUTH, with Postfix's replies. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { makeTestCert } from '../../helpers/tls-cert.js';
import { saslAddUser } from '../../../src/global/sasl-passwd.js';
import { ehloSession, logLines, RawClient, sendMail, startSmtpd, starttls, until } from './smtpd-test-kit.js';

const cert = makeTestCert('localhost');

test('SIZE: a too big SIZE= at MAIL and a too big message are refused with 552 5.3.4', async () => {
  const h = await startSmtpd({ message_size_limit: '1000' });
  try {
    const c = await ehloSession(h.port);
    assert.equal(await c.cmd('MAIL FROM:<s@test.example> SIZE=5000'), '552 5.3.4 Message size exceeds fixed limit');
    assert.equal(await c.cmd('MAIL FROM:<s@test.example> SIZE=500'), '250 2.1.0 Ok');
    await c.cmd('RCPT TO:<u@mx.test.example>');
    assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    assert.equal(await c.cmd('Subject: big\r\n\r\n' + 'x'.repeat(2000) + '\r\n.'), '552 5.3.4 Error: message file too big', 'Postfix\'s words for DATA past message_size_limit');
    // The session goes on.
    assert.equal(await c.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    c.close();
    assert.equal(h.submissions.length, 0);
  } finally {
    await h.stop();
  }
});

test('8BITMIME, SMTPUTF8 and the DSN parameters reach the submission', async () => {
  const h = await startSmtpd();
  try {
    const c = await ehloSession(h.port);
    assert.equal(await c.cmd('MAIL FROM:<s@test.example> BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=abc+2Bdef'), '250 2.1.0 Ok');
    assert.equal(await c.cmd('RCPT TO:<u@mx.test.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig@test.example'), '250 2.1.5 Ok');
    assert.equal(await c.cmd('RCPT TO:<v@mx.test.example> NOTIFY=NEVER'), '250 2.1.5 Ok');
    await c.cmd('DATA');
    assert.match((await c.cmd('Subject: x\r\n\r\nbody\r\n.'))!, /^250 2\.0\.0 Ok: queued as/);
    c.close();
    const s = h.submissions[0];
    assert.equal(s.bodyType, '8BITMIME');
    assert.equal(s.smtputf8, true);
    assert.equal(s.ret, 'HDRS');
    assert.equal(s.envid, 'abc+def');
    assert.deepEqual(s.recipients, [
      { address: 'u@mx.test.example', orcpt: 'rfc822;orig@test.example', notify: ['SUCCESS', 'FAILURE'] },
      { address: 'v@mx.test.example', notify: ['NEVER'] },
    ]);
  } finally {
    await h.stop();
  }
});

test('smtputf8_enable = no: SMTPUTF8 not offered and refused at MAIL', async () => {
  const h = await startSmtpd({ smtputf8_enable: 'no' });
  try {
    const c = await ehloSession(h.port);
    assert.equal(await c.cmd('MAIL FROM:<s@test.example> SMTPUTF8'), '555 5.5.4 Unsupported option: SMTPUTF8');
    c.close();
  } finally {
    await h.stop();
  }
});

test('STARTTLS with a certificate, then mail over TLS (protocol ESMTPS); encrypt level refuses plain MAIL', async () => {
  const h = await startSmtpd({
    smtpd_tls_security_level: 'encrypt',
    smtpd_tls_cert_file: cert.certFile,
    smtpd_tls_key_file: cert.keyFile,
    smtpd_tls_received_header: 'yes',
  });
  try {
    const plain = await ehloSession(h.port);
    assert.equal(await plain.cmd('MAIL FROM:<s@test.example>'), '530 5.7.0 Must issue a STARTTLS command first');
    plain.close();
    const t = await starttls(h.port, cert.cert);
    const ehlo = await t.cmd('EHLO client.test.example');
    assert.ok(!ehlo.includes('STARTTLS'), 'STARTTLS not offered twice');
    assert.equal(await t.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    assert.equal(await t.cmd('RCPT TO:<u@mx.test.example>'), '250 2.1.5 Ok');
    assert.equal(await t.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    assert.match(await t.cmd('Subject: tls\r\n\r\nsecret\r\n.'), /^250 2\.0\.0 Ok: queued as/);
    t.close();
    const s = h.submissions[0];
    assert.equal(s.client.protocol, 'ESMTPS');
    assert.match(s.tlsInfo ?? '', /^\(using TLSv1\.[23] with cipher [A-Z0-9_-]+\)$/);
    // nodemailer's client too, with requireTLS.
    const r = await sendMail(h.port, { from: 's@test.example', to: ['u@mx.test.example'], body: 'Subject: x\r\n\r\ny\r\n', ignoreTLS: false, requireTLS: true, ca: cert.cert });
    assert.match(r, /^250 2\.0\.0 Ok: queued as/);
  } finally {
    await h.stop();
  }
});

test('AUTH PLAIN and LOGIN over TLS with good and bad secrets; AUTH not offered nor accepted before TLS', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smtpd-sasl-'));
  saslAddUser(join(dir, 'sasl_passwd'), 'alice@test.example', 'correct horse');
  const h = await startSmtpd(
    {
      mynetworks: '192.0.2.0/24',
      smtpd_tls_security_level: 'may',
      smtpd_tls_cert_file: cert.certFile,
      smtpd_tls_key_file: cert.keyFile,
      smtpd_sasl_auth_enable: 'yes',
      smtpd_sasl_password_maps: 'texthash:sasl_passwd',
    },
    dir,
  );
  try {
    const plain = await ehloSession(h.port);
    const ehloPlain = (await plain.cmd('EHLO client.test.example'))!;
    assert.ok(ehloPlain.includes('STARTTLS'));
    assert.ok(!ehloPlain.includes('AUTH'), 'no AUTH before TLS');
    const token = Buffer.from('\0alice@test.example\0correct horse').toString('base64');
    assert.equal(await plain.cmd(`AUTH PLAIN ${token}`), '503 5.5.1 Error: authentication not enabled');
    plain.close();

    const t = await starttls(h.port, cert.cert);
    const ehlo = await t.cmd('EHLO client.test.example');
    assert.ok(ehlo.split('\r\n').some((l) => l.slice(4) === 'AUTH PLAIN LOGIN'), ehlo);
    const bad = Buffer.from('\0alice@test.example\0wrong').toString('base64');
    assert.equal(await t.cmd(`AUTH PLAIN ${bad}`), '535 5.7.8 Error: authentication failed: authentication failure');
    assert.equal(await t.cmd(`AUTH PLAIN ${token}`), '235 2.7.0 Authentication successful');
    assert.equal(await t.cmd('MAIL FROM:<alice@test.example>'), '250 2.1.0 Ok');
    // permit_sasl_authenticated: relaying allowed for the authenticated client.
    assert.equal(await t.cmd('RCPT TO:<far@elsewhere.example>'), '250 2.1.5 Ok');
    t.close();

    const l = await starttls(h.port, cert.cert);
    await l.cmd('EHLO client.test.example');
    assert.equal(await l.cmd('AUTH LOGIN'), '334 VXNlcm5hbWU6');
    assert.equal(await l.cmd(Buffer.from('alice@test.example').toString('base64')), '334 UGFzc3dvcmQ6');
    assert.equal(await l.cmd(Buffer.from('nope').toString('base64')), '535 5.7.8 Error: authentication failed: authentication failure');
    assert.equal(await l.cmd('AUTH LOGIN'), '334 VXNlcm5hbWU6');
    await l.cmd(Buffer.from('alice@test.example').toString('base64'));
    assert.equal(await l.cmd(Buffer.from('correct horse').toString('base64')), '235 2.7.0 Authentication successful');
    l.close();

    // Unauthenticated TLS client: still no relay.
    const u = await starttls(h.port, cert.cert);
    await u.cmd('EHLO client.test.example');
    await u.cmd('MAIL FROM:<x@test.example>');
    assert.equal(await u.cmd('RCPT TO:<far@elsewhere.example>'), '454 4.7.1 <far@elsewhere.example>: Relay access denied');
    u.close();

    // nodemailer's client with AUTH PLAIN over STARTTLS; protocol ESMTPSA.
    const r = await sendMail(h.port, {
      from: 'alice@test.example',
      to: ['far@elsewhere.example'],
      body: 'Subject: x\r\n\r\ny\r\n',
      ignoreTLS: false,
      requireTLS: true,
      ca: cert.cert,
      auth: { user: 'alice@test.example', pass: 'correct horse', method: 'PLAIN' },
    });
    assert.match(r, /^250 2\.0\.0 Ok: queued as/);
    const s = h.submissions.at(-1)!;
    assert.equal(s.client.protocol, 'ESMTPSA');
    assert.equal(s.client.saslUser, 'alice@test.example');
    await until(() => logLines.some((x) => x.includes('SASL PLAIN authentication failed: authentication failure')));
    assert.ok(!logLines.some((x) => x.includes('correct horse') || x.includes(token)), 'secrets never logged');
  } finally {
    await h.stop();
  }
});

/** A TLS handshake from the first byte; resolves with the greeting, or the handshake error's message. */
async function wrapped(port: number, maxVersion?: 'TLSv1.2' | 'TLSv1.3'): Promise<{ greeting?: string; error?: string; socket?: TLSSocket }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: cert.cert, servername: 'localhost', maxVersion });
    socket.setEncoding('latin1');
    let buffer = '';
    socket.on('data', (d: string) => {
      buffer += d;
      if (buffer.includes('\r\n')) resolve({ greeting: buffer.split('\r\n')[0], socket });
    });
    socket.once('error', (err) => resolve({ error: err.message }));
  });
}

test('smtpd_tls_wrappermode: TLS from the first byte, no STARTTLS offered', async () => {
  const h = await startSmtpd({ smtpd_tls_wrappermode: 'yes', smtpd_tls_cert_file: cert.certFile, smtpd_tls_key_file: cert.keyFile });
  try {
    const r = await wrapped(h.port);
    assert.equal(r.error, undefined);
    assert.match(r.greeting ?? '', /^220 mx\.test\.example ESMTP/);
    r.socket!.destroy();
    // Plain text gets no SMTP greeting from a wrapper-mode service: the TLS handshake fails and the connection ends.
    const plain = await RawClient.open(h.port);
    plain.send('EHLO client.test.example\r\n');
    const got = await plain.reply(3000).catch(() => undefined);
    assert.ok(got === undefined || !got.startsWith('220'), String(got));
    plain.close();
  } finally {
    await h.stop();
  }
  const off = await startSmtpd({ smtpd_tls_security_level: 'may', smtpd_tls_cert_file: cert.certFile, smtpd_tls_key_file: cert.keyFile });
  try {
    const c = await ehloSession(off.port);
    assert.match((await c.cmd('EHLO again.example'))!, /250-STARTTLS/);
    c.close();
  } finally {
    await off.stop();
  }
});

test('smtpd_tls_protocols and smtpd_tls_mandatory_protocols bound the TLS versions a client may use', async () => {
  const base = { smtpd_tls_wrappermode: 'yes', smtpd_tls_cert_file: cert.certFile, smtpd_tls_key_file: cert.keyFile };
  // Wrapper mode is mandatory TLS: smtpd_tls_mandatory_protocols applies.
  const strict = await startSmtpd({ ...base, smtpd_tls_mandatory_protocols: '>=TLSv1.3' });
  try {
    assert.match((await wrapped(strict.port, 'TLSv1.2')).error ?? '', /version|protocol|alert/i, 'a TLS 1.2 client is refused');
    const ok = await wrapped(strict.port, 'TLSv1.3');
    assert.match(ok.greeting ?? '', /^220 /);
    ok.socket!.destroy();
  } finally {
    await strict.stop();
  }
  const lenient = await startSmtpd({ ...base, smtpd_tls_mandatory_protocols: '!SSLv2, !SSLv3' });
  try {
    const ok = await wrapped(lenient.port, 'TLSv1.2');
    assert.match(ok.greeting ?? '', /^220 /);
    ok.socket!.destroy();
  } finally {
    await lenient.stop();
  }
});

test('the Received header tells TLS (smtpd_tls_received_header) and the AUTH user (smtpd_sasl_authenticated_header) only when asked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smtpd-sasl-'));
  saslAddUser(join(dir, 'sasl_passwd'), 'alice@test.example', 'correct horse');
  const params = {
    smtpd_tls_security_level: 'may',
    smtpd_tls_cert_file: cert.certFile,
    smtpd_tls_key_file: cert.keyFile,
    smtpd_sasl_auth_enable: 'yes',
    smtpd_sasl_password_maps: 'texthash:sasl_passwd',
  };
  const send = (port: number): Promise<string> =>
    sendMail(port, { from: 'alice@test.example', to: ['u@mx.test.example'], body: 'Subject: x\r\n\r\ny\r\n', ignoreTLS: false, requireTLS: true, ca: cert.cert, auth: { user: 'alice@test.example', pass: 'correct horse' } });
  const quiet = await startSmtpd(params, dir);
  try {
    assert.match(await send(quiet.port), /^250 /);
    assert.equal(quiet.submissions[0].tlsInfo, undefined);
    assert.equal(quiet.submissions[0].authenticatedSender, undefined);
  } finally {
    await quiet.stop();
  }
  const told = await startSmtpd({ ...params, smtpd_tls_received_header: 'yes', smtpd_sasl_authenticated_header: 'yes' }, dir);
  try {
    assert.match(await send(told.port), /^250 /);
    assert.match(told.submissions[0].tlsInfo ?? '', /^\(using TLSv1\.[23] with cipher /);
    assert.equal(told.submissions[0].authenticatedSender, 'alice@test.example');
  } finally {
    await told.stop();
  }
});

test('smtpd_tls_auth_only = no offers AUTH before STARTTLS; yes (Postrider\'s default) only after', async () => {
  const params = { smtpd_tls_security_level: 'may', smtpd_tls_cert_file: cert.certFile, smtpd_tls_key_file: cert.keyFile, smtpd_sasl_auth_enable: 'yes' };
  const open = await startSmtpd({ ...params, smtpd_tls_auth_only: 'no' });
  try {
    const c = await ehloSession(open.port);
    assert.match((await c.cmd('EHLO again.example'))!, /^250-AUTH PLAIN LOGIN$/m);
    c.close();
  } finally {
    await open.stop();
  }
  const only = await startSmtpd(params);
  try {
    const c = await ehloSession(only.port);
    assert.doesNotMatch((await c.cmd('EHLO again.example'))!, /AUTH/);
    c.close();
  } finally {
    await only.stop();
  }
});
