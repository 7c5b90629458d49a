/**
 * REQUIRETLS (RFC 8689) in smtpd: offered in EHLO only in a TLS session (after
 * CHUNKING, as Postfix lists it), taken on MAIL FROM only there and recorded
 * with the submission; outside TLS, or with requiretls_enable = no, it is
 * Postfix's "555 5.5.4 Unsupported option: REQUIRETLS".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTestCert } from '../../helpers/tls-cert.js';
import { ehloSession, startSmtpd, starttls } from './smtpd-test-kit.js';

const cert = makeTestCert('localhost');
const TLS = { smtpd_tls_security_level: 'may', smtpd_tls_cert_file: cert.certFile, smtpd_tls_key_file: cert.keyFile };

test('REQUIRETLS: offered and taken only over TLS, recorded with the message; refused in plain text', async () => {
  const h = await startSmtpd(TLS);
  try {
    const plain = await ehloSession(h.port);
    const ehloPlain = (await plain.cmd('EHLO client.test.example'))!;
    assert.ok(!ehloPlain.includes('REQUIRETLS'), ehloPlain);
    assert.equal(await plain.cmd('MAIL FROM:<s@test.example> REQUIRETLS'), '555 5.5.4 Unsupported option: REQUIRETLS');
    plain.close();

    const t = await starttls(h.port, cert.cert);
    const ehlo = (await t.cmd('EHLO client.test.example')).split('\r\n').map((l) => l.slice(4));
    assert.equal(ehlo[ehlo.length - 1], 'REQUIRETLS', 'listed last, after CHUNKING, as Postfix');
    assert.equal(ehlo[ehlo.length - 2], 'CHUNKING');
    assert.equal(await t.cmd('MAIL FROM:<s@test.example> REQUIRETLS'), '250 2.1.0 Ok');
    assert.equal(await t.cmd('RCPT TO:<u@mx.test.example>'), '250 2.1.5 Ok');
    await t.cmd('DATA');
    assert.match(await t.cmd('Subject: x\r\n\r\ny\r\n.'), /^250 2\.0\.0 Ok: queued as/);
    // A message without it in the same session is not marked.
    assert.equal(await t.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    assert.equal(await t.cmd('RCPT TO:<u@mx.test.example>'), '250 2.1.5 Ok');
    await t.cmd('DATA');
    assert.match(await t.cmd('Subject: x\r\n\r\ny\r\n.'), /^250 2\.0\.0 Ok: queued as/);
    t.close();
    assert.equal(h.submissions.length, 2);
    assert.equal(h.submissions[0].requiretls, true);
    assert.equal(h.submissions[1].requiretls, undefined);
  } finally {
    await h.stop();
  }
});

test('requiretls_enable = no: REQUIRETLS not offered over TLS and refused at MAIL', async () => {
  const h = await startSmtpd({ ...TLS, requiretls_enable: 'no' });
  try {
    const t = await starttls(h.port, cert.cert);
    const ehlo = await t.cmd('EHLO client.test.example');
    assert.ok(!ehlo.includes('REQUIRETLS'), ehlo);
    assert.equal(await t.cmd('MAIL FROM:<s@test.example> REQUIRETLS'), '555 5.5.4 Unsupported option: REQUIRETLS');
    t.close();
    assert.equal(h.submissions.length, 0);
  } finally {
    await h.stop();
  }
});
