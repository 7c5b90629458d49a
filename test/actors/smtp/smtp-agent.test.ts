import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpAgent } from '../../../src/actors/smtp/smtp-agent.js';
import { startDnsServer, type TestDnsServer } from '../../helpers/dns-server.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { captureLog, CONTENT, contentReader, makeConfig, makeRequest } from './smtp-test-kit.js';
import { createServer } from 'node:net';

/** A loopback port with nothing listening (connection refused). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('smtp agent: next hop and MX', () => {
  let dns: TestDnsServer;
  let sinkA: SmtpSink;
  let sinkB: SmtpSink;
  let refused: number;

  before(async () => {
    dns = await startDnsServer({
      'nullmx.test': { MX: [{ preference: 0, exchange: '.' }] },
      'broken.test': { servfail: true },
      'mx-a.test': { A: ['127.0.0.1'] },
      'mx-b.test': { A: ['127.0.0.2'] },
    });
    sinkA = await startSmtpSink();
    sinkB = await startSmtpSink();
    refused = await closedPort();
  });
  after(async () => {
    await dns.close();
    await sinkA.close();
    await sinkB.close();
  });

  function agentFor() {
    const { log, lines } = captureLog();
    const agent = new SmtpAgent({
      config: makeConfig({ dns_resolver_servers: `127.0.0.1:${dns.port}`, smtp_connection_cache_time_limit: '0s' }),
      log,
      readContent: contentReader(),
    });
    return { agent, lines };
  }

  test('delivers to [127.0.0.1]:port without DNS, body byte-exact, and logs Postfix\'s line', async () => {
    const { agent, lines } = agentFor();
    const before = dns.queries.length;
    const n = sinkA.messages.length;
    const res = await agent.deliver(makeRequest({ nexthop: `[127.0.0.1]:${sinkA.port}` }));
    await agent.close();
    assert.equal(res.outcomes.length, 1);
    assert.equal(res.outcomes[0].state, 'delivered');
    assert.equal(res.outcomes[0].dsn, '2.0.0');
    assert.match(res.outcomes[0].reason, /^250 2\.0\.0 Ok: queued as SINK\d+$/);
    assert.equal(res.outcomes[0].relay, `127.0.0.1[127.0.0.1]:${sinkA.port}`);
    assert.equal(dns.queries.length, before, 'no DNS query for a bracketed address');
    const m = sinkA.messages[n];
    assert.ok(m.raw.equals(CONTENT), 'content arrives byte for byte');
    assert.equal(m.mailFrom, 'a@example.org');
    assert.deepEqual(m.rcptTo, ['b@example.com']);
    assert.equal(m.helo, 'client.test');
    await new Promise((r) => setImmediate(r));
    const line = lines.find((l) => l.includes('to=<b@example.com>'));
    assert.ok(line, 'a delivery line was logged');
    assert.match(line!, new RegExp(`ABC123: to=<b@example\\.com>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${sinkA.port}, delay=[\\d.]+, delays=[\\d.]+/[\\d.]+/[\\d.]+/[\\d.]+, dsn=2\\.0\\.0, status=sent \\(250 2\\.0\\.0 Ok: queued as SINK\\d+\\)$`));
  });

  test('follows MX preference order', async () => {
    dns.zone['pref.test'] = { MX: [{ preference: 20, exchange: 'mx-b.test' }, { preference: 10, exchange: 'mx-a.test' }] };
    const { agent } = agentFor();
    const na = sinkA.messages.length;
    const res = await agent.deliver(makeRequest({ nexthop: `pref.test:${sinkA.port}` }));
    await agent.close();
    assert.equal(res.outcomes[0].state, 'delivered', res.outcomes[0].reason);
    assert.equal(res.outcomes[0].relay, `mx-a.test[127.0.0.1]:${sinkA.port}`);
    assert.equal(sinkA.messages.length, na + 1);
    assert.deepEqual(dns.queries.filter((q) => q.startsWith('pref.test')), ['pref.test MX']);
  });

  test('falls back to the next MX when the first refuses connections', async () => {
    // The preferred MX resolves to an address whose port has no listener.
    dns.zone['fallback.test'] = { MX: [{ preference: 10, exchange: 'mx-dead.test' }, { preference: 20, exchange: 'mx-a.test' }] };
    dns.zone['mx-dead.test'] = { A: ['127.0.0.3'] };
    const { agent } = agentFor();
    const n = sinkA.messages.length;
    const res = await agent.deliver(makeRequest({ nexthop: `fallback.test:${sinkA.port}` }));
    await agent.close();
    assert.equal(res.outcomes[0].state, 'delivered', res.outcomes[0].reason);
    assert.equal(res.outcomes[0].relay, `mx-a.test[127.0.0.1]:${sinkA.port}`);
    assert.equal(sinkA.messages.length, n + 1);
    const qs = dns.queries.filter((q) => q.endsWith(' A'));
    assert.ok(qs.indexOf('mx-dead.test A') >= 0 && qs.indexOf('mx-dead.test A') < qs.lastIndexOf('mx-a.test A'), 'the preferred MX was looked up first');
  });

  test('a recipient refused with 4xx at the first MX is tried at the next MX', async () => {
    const first = await startSmtpSink({ rcpt: (to) => (to.startsWith('busy@') ? { code: 450, message: '4.2.1 Mailbox busy' } : null) });
    const second = await startSmtpSink({ host: '127.0.0.2', port: first.port });
    try {
      dns.zone['backup.test'] = { MX: [{ preference: 10, exchange: 'mx-a.test' }, { preference: 20, exchange: 'mx-b.test' }] };
      const { agent } = agentFor();
      const res = await agent.deliver(makeRequest({ nexthop: `backup.test:${first.port}`, to: ['ok@example.com', 'busy@example.com'] }));
      await agent.close();
      assert.deepEqual(res.outcomes.map((o) => [o.state, o.relay]), [
        ['delivered', `mx-a.test[127.0.0.1]:${first.port}`],
        ['delivered', `mx-b.test[127.0.0.2]:${first.port}`],
      ]);
      assert.deepEqual(first.messages.map((m) => m.rcptTo), [['ok@example.com']]);
      assert.deepEqual(second.messages.map((m) => m.rcptTo), [['busy@example.com']]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  test('smtp_mx_address_limit: only that many MX addresses are tried', async () => {
    dns.zone['limited.test'] = { MX: [{ preference: 10, exchange: 'mx-dead.test' }, { preference: 20, exchange: 'mx-a.test' }] };
    dns.zone['mx-dead.test'] = { A: ['127.0.0.3'] };
    const deliver = async (limit: string) => {
      const agent = new SmtpAgent({
        config: makeConfig({ dns_resolver_servers: `127.0.0.1:${dns.port}`, smtp_connection_cache_time_limit: '0s', smtp_mx_address_limit: limit }),
        log: captureLog().log,
        readContent: contentReader(),
      });
      try {
        return (await agent.deliver(makeRequest({ nexthop: `limited.test:${sinkA.port}` }))).outcomes[0];
      } finally {
        await agent.close();
      }
    };
    const one = await deliver('1');
    assert.equal(one.state, 'deferred');
    assert.match(one.reason, /^connect to mx-dead\.test\[127\.0\.0\.3\]:\d+: Connection refused$/);
    assert.equal((await deliver('2')).state, 'delivered');
  });

  test('smtp_mx_session_limit: MX hosts that answered count; past the limit no further host is tried', async () => {
    const grumpy = await startSmtpSink({ host: '127.0.0.4', rcpt: () => ({ code: 451, message: '4.3.0 not now' }) });
    const good = await startSmtpSink({ host: '127.0.0.5', port: grumpy.port });
    try {
      dns.zone['sessions.test'] = { MX: [{ preference: 10, exchange: 'mx-grumpy.test' }, { preference: 20, exchange: 'mx-good.test' }] };
      dns.zone['mx-grumpy.test'] = { A: ['127.0.0.4'] };
      dns.zone['mx-good.test'] = { A: ['127.0.0.5'] };
      const deliver = async (limit: string) => {
        const agent = new SmtpAgent({
          config: makeConfig({ dns_resolver_servers: `127.0.0.1:${dns.port}`, smtp_connection_cache_time_limit: '0s', smtp_mx_session_limit: limit }),
          log: captureLog().log,
          readContent: contentReader(),
        });
        try {
          return (await agent.deliver(makeRequest({ nexthop: `sessions.test:${grumpy.port}` }))).outcomes[0];
        } finally {
          await agent.close();
        }
      };
      const one = await deliver('1');
      assert.equal(one.state, 'deferred');
      assert.match(one.reason, /said: 451 4\.3\.0 not now/);
      assert.equal(good.messages.length, 0);
      assert.equal((await deliver('2')).state, 'delivered');
      assert.equal(good.messages.length, 1);
    } finally {
      await grumpy.close();
      await good.close();
    }
  });

  test('all MX hosts refusing connections defers 4.4.1 with the connect reason', async () => {
    dns.zone['dead.test'] = { MX: [{ preference: 10, exchange: 'mx-a.test' }] };
    const { agent } = agentFor();
    const res = await agent.deliver(makeRequest({ nexthop: `dead.test:${refused}` }));
    await agent.close();
    assert.equal(res.outcomes[0].state, 'deferred');
    assert.equal(res.outcomes[0].dsn, '4.4.1');
    assert.equal(res.outcomes[0].reason, `connect to mx-a.test[127.0.0.1]:${refused}: Connection refused`);
    assert.equal(res.outcomes[0].relay, 'none');
  });

  test('uses the A record when the domain has no MX', async () => {
    dns.zone['plain.test'] = { A: ['127.0.0.1'] };
    const { agent } = agentFor();
    const res = await agent.deliver(makeRequest({ nexthop: `plain.test:${sinkA.port}` }));
    await agent.close();
    assert.equal(res.outcomes[0].state, 'delivered', res.outcomes[0].reason);
    assert.equal(res.outcomes[0].relay, `plain.test[127.0.0.1]:${sinkA.port}`);
    assert.ok(dns.queries.includes('plain.test MX'));
    assert.ok(dns.queries.includes('plain.test A'));
  });

  test('a null MX bounces 5.1.10 without connecting', async () => {
    const { agent } = agentFor();
    const c = sinkA.connections;
    const res = await agent.deliver(makeRequest({ nexthop: 'nullmx.test' }));
    await agent.close();
    assert.equal(res.outcomes[0].state, 'bounced');
    assert.equal(res.outcomes[0].dsn, '5.1.10');
    assert.equal(res.outcomes[0].reason, 'Domain nullmx.test does not accept mail (nullMX)');
    assert.equal(sinkA.connections, c);
  });

  test('NXDOMAIN bounces 5.4.4 "Host or domain name not found"', async () => {
    const { agent } = agentFor();
    const res = await agent.deliver(makeRequest({ nexthop: 'nosuch.test' }));
    await agent.close();
    assert.equal(res.outcomes[0].state, 'bounced');
    assert.equal(res.outcomes[0].dsn, '5.4.4');
    assert.equal(res.outcomes[0].reason, 'Host or domain name not found. Name service error for name=nosuch.test type=MX: Host not found');
  });

  test('a temporary DNS failure defers 4.4.3', async () => {
    const { agent } = agentFor();
    const res = await agent.deliver(makeRequest({ nexthop: 'broken.test' }));
    await agent.close();
    assert.equal(res.outcomes[0].state, 'deferred');
    assert.equal(res.outcomes[0].dsn, '4.4.3');
    assert.match(res.outcomes[0].reason, /^Host or domain name not found\. Name service error for name=broken\.test type=MX: Host not found, try again$/);
  });
});

test('soft_bounce: a 5xx from the next hop is a deferral with its 4.x.y twin, logged as status=SOFTBOUNCE', async () => {
  const sink = await startSmtpSink({ rcpt: (to) => (to.startsWith('nobody@') ? { code: 550, message: '5.1.1 <' + to + '>: User unknown' } : null) });
  try {
    for (const [soft, state, dsn, word] of [['yes', 'deferred', '4.1.1', 'SOFTBOUNCE'], ['no', 'bounced', '5.1.1', 'bounced']] as const) {
      const { log, lines } = captureLog();
      const agent = new SmtpAgent({ config: makeConfig({ soft_bounce: soft, smtp_connection_cache_time_limit: '0s' }), log, readContent: contentReader() });
      const res = await agent.deliver(makeRequest({ nexthop: `[127.0.0.1]:${sink.port}`, to: ['nobody@example.com'] }));
      await agent.close();
      assert.deepEqual([res.outcomes[0].state, res.outcomes[0].dsn], [state, dsn]);
      await new Promise((r) => setImmediate(r));
      assert.ok(lines.some((l) => l.includes(`to=<nobody@example.com>, relay=127.0.0.1[127.0.0.1]:${sink.port}`) && l.includes(`dsn=${dsn}, status=${word} (host 127.0.0.1[127.0.0.1] said: 550 5.1.1`)), lines.join('\n'));
    }
  } finally {
    await sink.close();
  }
});
