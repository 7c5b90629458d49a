/**
 * smtp-session: the source address (smtp_bind_address, smtp_bind_address6),
 * the client certificate (smtp_tls_cert_file), the greeting timeout and a
 * 5xx greeting (smtp_skip_5xx_greeting).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { SmtpAgent } from '../../../src/actors/smtp/smtp-agent.js';
import { startSmtpSink } from '../../helpers/smtp-sink.js';
import { makeTestCert } from '../../helpers/tls-cert.js';
import { captureLog, contentReader, makeConfig, makeRequest } from './smtp-test-kit.js';

async function deliverOnce(params: Record<string, string>, nexthop: string) {
  const agent = new SmtpAgent({ config: makeConfig({ smtp_connection_cache_time_limit: '0s', ...params }), log: captureLog().log, readContent: contentReader() });
  try {
    return (await agent.deliver(makeRequest({ nexthop }))).outcomes[0];
  } finally {
    await agent.close();
  }
}

test('smtp_bind_address is the source address of IPv4 connections; smtp_bind_address6 of IPv6 ones only', async () => {
  const sink = await startSmtpSink();
  const sink6 = await startSmtpSink({ host: '::1' });
  try {
    assert.equal((await deliverOnce({}, `[127.0.0.1]:${sink.port}`)).state, 'delivered');
    assert.equal(sink.messages.at(-1)!.clientAddress, '127.0.0.1');
    assert.equal((await deliverOnce({ smtp_bind_address: '127.0.0.2' }, `[127.0.0.1]:${sink.port}`)).state, 'delivered');
    assert.equal(sink.messages.at(-1)!.clientAddress, '127.0.0.2');
    // An IPv6 source address this host does not have: IPv6 connections fail, IPv4 ones are not touched.
    const v6 = await deliverOnce({ smtp_bind_address6: '2001:db8::1' }, `[::1]:${sink6.port}`);
    assert.equal(v6.state, 'deferred');
    assert.match(v6.reason, /^connect to ::1\[::1\]:\d+: Cannot assign requested address$/);
    assert.equal((await deliverOnce({ smtp_bind_address6: '2001:db8::1' }, `[127.0.0.1]:${sink.port}`)).state, 'delivered');
    assert.equal(sink6.messages.length, 0);
  } finally {
    await sink.close();
    await sink6.close();
  }
});

test('smtp_tls_cert_file and smtp_tls_key_file: the client certificate a server that asks for one gets', async () => {
  const client = makeTestCert('client.test');
  const sink = await startSmtpSink({ starttls: true, tlsOptions: { requestCert: true, rejectUnauthorized: true, ca: client.cert } });
  try {
    const without = await deliverOnce({ smtp_tls_security_level: 'encrypt' }, `[127.0.0.1]:${sink.port}`);
    assert.equal(without.state, 'deferred');
    assert.match(without.reason, /^Cannot start TLS: handshake failure with host 127\.0\.0\.1\[127\.0\.0\.1\]/);
    assert.equal(sink.messages.length, 0);
    const withCert = await deliverOnce(
      { smtp_tls_security_level: 'encrypt', smtp_tls_cert_file: client.certFile, smtp_tls_key_file: client.keyFile },
      `[127.0.0.1]:${sink.port}`,
    );
    assert.equal(withCert.state, 'delivered', withCert.reason);
    assert.equal(sink.messages.at(-1)!.secure, true);
  } finally {
    await sink.close();
  }
});

test('smtp_helo_name is the name sent in EHLO; $myhostname by default', async () => {
  const sink = await startSmtpSink();
  try {
    await deliverOnce({}, `[127.0.0.1]:${sink.port}`);
    assert.equal(sink.messages.at(-1)!.helo, 'client.test');
    await deliverOnce({ smtp_helo_name: 'out.example.net' }, `[127.0.0.1]:${sink.port}`);
    assert.equal(sink.messages.at(-1)!.helo, 'out.example.net');
  } finally {
    await sink.close();
  }
});

test('smtp_helo_timeout: a server that never greets is given up on with Postfix\'s reason', async () => {
  const silent = createServer((socket) => socket.on('error', () => undefined));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const port = (silent.address() as AddressInfo).port;
  try {
    const o = await deliverOnce({ smtp_helo_timeout: '1s' }, `[127.0.0.1]:${port}`);
    assert.deepEqual([o.state, o.dsn], ['deferred', '4.4.2']);
    assert.equal(o.reason, 'conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting');
  } finally {
    silent.close();
  }
});

test('smtp_skip_5xx_greeting: yes (default) defers a 5xx greeting so the next MX is tried; no bounces it', async () => {
  const sink = await startSmtpSink({ greeting: { code: 554, message: '5.7.1 go away' } });
  try {
    const skip = await deliverOnce({}, `[127.0.0.1]:${sink.port}`);
    assert.deepEqual([skip.state, skip.dsn], ['deferred', '4.7.1']);
    assert.match(skip.reason, /^host 127\.0\.0\.1\[127\.0\.0\.1\] refused to talk to me: 554 5\.7\.1 go away/);
    const bounce = await deliverOnce({ smtp_skip_5xx_greeting: 'no' }, `[127.0.0.1]:${sink.port}`);
    assert.deepEqual([bounce.state, bounce.dsn], ['bounced', '5.7.1']);
  } finally {
    await sink.close();
  }
});
