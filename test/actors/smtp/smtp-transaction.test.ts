import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpAgent } from '../../../src/actors/smtp/smtp-agent.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { makeTestCert } from '../../helpers/tls-cert.js';
import { captureLog, CONTENT, contentReader, makeConfig, makeRequest } from './smtp-test-kit.js';

const sinks: SmtpSink[] = [];
async function sink(opts: Parameters<typeof startSmtpSink>[0] = {}): Promise<SmtpSink> {
  const s = await startSmtpSink(opts);
  sinks.push(s);
  return s;
}
after(async () => {
  for (const s of sinks) await s.close();
});

function agent(params: Record<string, string> = {}, content = CONTENT): SmtpAgent {
  return new SmtpAgent({ config: makeConfig({ smtp_connection_cache_time_limit: '0s', ...params }), log: captureLog().log, readContent: contentReader(content) });
}

/** One delivery through a fresh agent to the sink `s`; the agent is closed before the result is returned. */
async function deliverTo(s: SmtpSink, params: Record<string, string> = {}, over: Parameters<typeof makeRequest>[0] = {}, content = CONTENT) {
  const a = agent(params, content);
  try {
    return await a.deliver(makeRequest({ nexthop: `[127.0.0.1]:${s.port}`, ...over }));
  } finally {
    await a.close();
  }
}

describe('smtp agent: TLS', () => {
  const cert = makeTestCert('localhost');

  test('may: plain text when the server does not offer STARTTLS', async () => {
    const s = await sink({ starttls: false });
    const res = await deliverTo(s, { smtp_tls_security_level: 'may' });
    assert.equal(res.outcomes[0].state, 'delivered', res.outcomes[0].reason);
    assert.equal(s.messages[0].secure, false);
  });

  test('may: STARTTLS when offered, without verifying the certificate', async () => {
    const s = await sink({ starttls: true, cert });
    const res = await deliverTo(s, { smtp_tls_security_level: 'may' });
    assert.equal(res.outcomes[0].state, 'delivered', res.outcomes[0].reason);
    assert.equal(s.messages[0].secure, true);
  });

  test('may: a failed TLS handshake is retried in plain text on a new connection', async () => {
    const s = await sink({ starttls: true, cert, tlsOptions: { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' } });
    const res = await deliverTo(s, { smtp_tls_security_level: 'may' });
    assert.equal(res.outcomes[0].state, 'delivered', res.outcomes[0].reason);
    assert.equal(s.messages.length, 1);
    assert.equal(s.messages[0].secure, false);
    assert.equal(s.connections, 2);
  });

  test('encrypt: a server without STARTTLS is refused with a 4.7.4 deferral', async () => {
    const s = await sink({ starttls: false });
    const res = await deliverTo(s, { smtp_tls_security_level: 'encrypt' });
    assert.equal(res.outcomes[0].state, 'deferred');
    assert.equal(res.outcomes[0].dsn, '4.7.4');
    assert.equal(res.outcomes[0].reason, 'TLS is required, but was not offered by host 127.0.0.1[127.0.0.1]');
    assert.equal(s.messages.length, 0);
  });

  test('encrypt: delivers over TLS when offered', async () => {
    const s = await sink({ starttls: true, cert });
    const res = await deliverTo(s, { smtp_tls_security_level: 'encrypt' });
    assert.equal(res.outcomes[0].state, 'delivered', res.outcomes[0].reason);
    assert.equal(s.messages[0].secure, true);
  });

  test('verify: refuses a certificate not signed by smtp_tls_CAfile, accepts one that is', async () => {
    const s = await sink({ starttls: true, cert });
    const other = makeTestCert('localhost');
    const r1 = await deliverTo(s, { smtp_tls_security_level: 'verify', smtp_tls_CAfile: other.certFile });
    assert.equal(r1.outcomes[0].state, 'deferred');
    assert.equal(r1.outcomes[0].dsn, '4.7.5');
    const r2 = await deliverTo(s, { smtp_tls_security_level: 'verify', smtp_tls_CAfile: cert.certFile });
    assert.equal(r2.outcomes[0].state, 'delivered', r2.outcomes[0].reason);
    assert.equal(s.messages.length, 1);
  });
});

describe('smtp agent: replies per recipient', () => {
  test('4xx and 5xx RCPT replies in one transaction give each recipient its own outcome', async () => {
    const s = await sink({
      rcpt: (to) => to.startsWith('gone@') ? { code: 550, message: `5.1.1 <${to}>: Recipient address rejected` }
        : to.startsWith('busy@') ? { code: 450, message: `4.2.1 <${to}>: Mailbox busy` } : null,
    });
    const res = await deliverTo(s, {}, { to: ['ok@example.com', 'gone@example.com', 'busy@example.com', 'ok2@example.com'] });
    const peer = '127.0.0.1[127.0.0.1]';
    assert.deepEqual(res.outcomes.map((o) => [o.index, o.state, o.dsn]), [
      [0, 'delivered', '2.0.0'], [1, 'bounced', '5.1.1'], [2, 'deferred', '4.2.1'], [3, 'delivered', '2.0.0'],
    ]);
    assert.equal(res.outcomes[1].reason, `host ${peer} said: 550 5.1.1 <gone@example.com>: Recipient address rejected (in reply to RCPT TO command)`);
    assert.equal(res.outcomes[2].reason, `host ${peer} said: 450 4.2.1 <busy@example.com>: Mailbox busy (in reply to RCPT TO command)`);
    // The reply and the command travel as fields beside the logged reason.
    assert.deepEqual([res.outcomes[1].reply, res.outcomes[1].command], ['550 5.1.1 <gone@example.com>: Recipient address rejected', 'RCPT TO']);
    assert.equal(res.outcomes[0].command, 'end of DATA');
    assert.match(res.outcomes[0].reply ?? '', /^250 /);
    assert.equal(s.messages.length, 1, 'one transaction');
    assert.deepEqual(s.messages[0].rcptTo, ['ok@example.com', 'ok2@example.com']);
  });

  test('no DATA when every recipient is refused', async () => {
    const s = await sink({ rcpt: (to) => ({ code: 550, message: `5.1.1 <${to}>: unknown` }) });
    const res = await deliverTo(s, {}, { to: ['x@example.com', 'y@example.com'] });
    assert.deepEqual(res.outcomes.map((o) => o.state), ['bounced', 'bounced']);
    assert.match(res.outcomes[1].reason, /550 5\.1\.1 <y@example\.com>: unknown \(in reply to RCPT TO command\)$/);
    assert.equal(s.messages.length, 0);
  });

  test('a 5xx at the end of DATA bounces every accepted recipient', async () => {
    const s = await sink({ data: () => ({ code: 554, message: '5.7.1 Message rejected as spam' }) });
    const res = await deliverTo(s, {}, { to: ['x@example.com', 'y@example.com'] });
    for (const o of res.outcomes) {
      assert.equal(o.state, 'bounced');
      assert.equal(o.dsn, '5.7.1');
      assert.equal(o.reason, 'host 127.0.0.1[127.0.0.1] said: 554 5.7.1 Message rejected as spam (in reply to end of DATA command)');
      assert.equal(o.reply, '554 5.7.1 Message rejected as spam');
      assert.equal(o.command, 'end of DATA');
    }
  });

  test('a 4xx to MAIL FROM defers every recipient; a reply without enhanced code gets 4.0.0', async () => {
    const s = await sink({ mail: () => ({ code: 451, message: 'try later' }), pipelining: false });
    const res = await deliverTo(s, {}, { to: ['x@example.com', 'y@example.com'] });
    for (const o of res.outcomes) {
      assert.equal(o.state, 'deferred');
      assert.match(o.reason, /said: 451 .*try later \(in reply to MAIL FROM command\)$/);
      assert.equal(o.command, 'MAIL FROM');
      assert.match(o.reply ?? '', /^451 /);
    }
  });

  test('passes RET, ENVID, NOTIFY and ORCPT per recipient to a DSN server, and BODY=8BITMIME', async () => {
    const s = await sink();
    const a = agent();
    const req = makeRequest({ nexthop: `[127.0.0.1]:${s.port}`, to: ['x@example.com', 'y@example.com'], ret: 'HDRS', envid: 'env+1', bodyType: '8BITMIME' });
    req.recipients[0].notify = ['SUCCESS', 'FAILURE'];
    req.recipients[0].orcpt = 'rfc822;orig@example.com';
    req.recipients[1].notify = ['NEVER'];
    const res = await a.deliver(req);
    await a.close();
    assert.deepEqual(res.outcomes.map((o) => o.state), ['delivered', 'delivered']);
    const m = s.messages[0];
    assert.equal(m.mailParams.RET, 'HDRS');
    // The sink decodes xtext: "env+2B1" on the wire.
    assert.equal(m.mailParams.ENVID, 'env+1');
    assert.equal(m.mailParams.BODY, '8BITMIME');
    assert.equal(m.rcptParams[0].NOTIFY, 'SUCCESS,FAILURE');
    assert.equal(m.rcptParams[0].ORCPT, 'rfc822;orig@example.com');
    assert.equal(m.rcptParams[1].NOTIFY, 'NEVER');
    // No ORCPT received: Postfix sends the recipient as first received.
    assert.equal(m.rcptParams[1].ORCPT, 'rfc822;y@example.com');
  });

  test('SMTPUTF8 mail to a server without SMTPUTF8 bounces 5.6.7', async () => {
    const s = await sink({ smtputf8: false });
    const res = await deliverTo(s, {}, { to: ['jörg@example.com'], smtputf8: true });
    assert.equal(res.outcomes[0].state, 'bounced');
    assert.equal(res.outcomes[0].dsn, '5.6.7');
    assert.equal(res.outcomes[0].reason, 'SMTPUTF8 is required, but was not offered by host 127.0.0.1[127.0.0.1]');
    assert.equal(s.messages.length, 0);
  });

  test('8-bit content that no MIME header labels 8bit goes as is to a server without 8BITMIME, as Postfix sends it; SMTPUTF8 is declared to one that has it', async () => {
    const eight = Buffer.from('Subject: caf\xe9\r\n\r\nna\xefve body\r\n', 'latin1');
    const s1 = await sink({ eightBitMime: false });
    const r1 = await deliverTo(s1, {}, { bodyType: '8BITMIME', headerLength: 18 }, eight);
    assert.equal(r1.outcomes[0].state, 'delivered', r1.outcomes[0].reason);
    assert.ok(s1.messages[0].raw.equals(eight));
    assert.equal(s1.messages[0].mailParams.BODY, undefined);

    const s2 = await sink();
    const r2 = await deliverTo(s2, {}, { to: ['jörg@example.com'], smtputf8: true });
    assert.equal(r2.outcomes[0].state, 'delivered', r2.outcomes[0].reason);
    assert.equal(s2.messages[0].mailParams.SMTPUTF8, true);
    assert.deepEqual(s2.messages[0].rcptTo, ['jörg@example.com']);
  });

  test('a 5xx greeting is tried as a temporary failure', async () => {
    const s = await sink({ greeting: { code: 554, message: '5.7.1 go away' } });
    const res = await deliverTo(s);
    assert.equal(res.outcomes[0].state, 'deferred');
    assert.match(res.outcomes[0].reason, /^host 127\.0\.0\.1\[127\.0\.0\.1\] refused to talk to me: 554 /);
  });
});

describe('smtp agent: connection cache', () => {
  test('two requests to one next hop share one connection', async () => {
    const s = await sink();
    const a = agent({ smtp_connection_cache_time_limit: '5s' });
    const nexthop = `[127.0.0.1]:${s.port}`;
    const r1 = await a.deliver(makeRequest({ nexthop, queueId: 'Q1' }));
    assert.equal(a.cachedConnections, 1);
    const r2 = await a.deliver(makeRequest({ nexthop, queueId: 'Q2' }));
    await a.close();
    assert.equal(r1.outcomes[0].state, 'delivered');
    assert.equal(r2.outcomes[0].state, 'delivered');
    assert.equal(s.connections, 1);
    assert.deepEqual(s.messages.map((m) => m.session), [1, 1]);
    assert.equal(a.cachedConnections, 0, 'close() empties the cache');
  });

  test('a cached connection the server closed is replaced without failing the delivery', async () => {
    const s = await sink();
    const a = agent({ smtp_connection_cache_time_limit: '5s' });
    const nexthop = `[127.0.0.1]:${s.port}`;
    await a.deliver(makeRequest({ nexthop, queueId: 'Q1' }));
    s.dropConnections();
    const r2 = await a.deliver(makeRequest({ nexthop, queueId: 'Q2' }));
    await a.close();
    assert.equal(r2.outcomes[0].state, 'delivered', r2.outcomes[0].reason);
    assert.equal(s.connections, 2);
    assert.equal(s.messages.length, 2);
  });

  test('smtp_connection_reuse_count_limit closes a connection after that many uses', async () => {
    const s = await sink();
    const a = agent({ smtp_connection_cache_time_limit: '5s', smtp_connection_reuse_count_limit: '2' });
    const nexthop = `[127.0.0.1]:${s.port}`;
    for (let i = 0; i < 3; i++) await a.deliver(makeRequest({ nexthop, queueId: `Q${i}` }));
    await a.close();
    assert.deepEqual(s.messages.map((m) => m.session), [1, 1, 2]);
  });

  test('smtp_connection_reuse_time_limit: a connection older than the limit is not reused', async () => {
    const s = await sink();
    const nexthop = `[127.0.0.1]:${s.port}`;
    const young = agent({ smtp_connection_cache_time_limit: '5s', smtp_connection_reuse_time_limit: '300s' });
    for (let i = 0; i < 2; i++) await young.deliver(makeRequest({ nexthop, queueId: `Y${i}` }));
    await young.close();
    // A limit shorter than any session's age: every session is too old to go back in the cache.
    const old = agent({ smtp_connection_cache_time_limit: '5s', smtp_connection_reuse_time_limit: '1ms' });
    await old.deliver(makeRequest({ nexthop, queueId: 'O0' }));
    await new Promise((r) => setTimeout(r, 20));
    await old.deliver(makeRequest({ nexthop, queueId: 'O1' }));
    await old.close();
    assert.deepEqual(s.messages.map((m) => m.session), [1, 1, 2, 3]);
  });
});
