/**
 * How the smtp client finds its hosts, against a real DNS server and real
 * sinks on loopback: a nexthop list (relayhost = [a]:p, [b]:p) fails over in
 * order; smtp_host_lookup = native asks the system resolver and not the DNS;
 * disable_dns_lookups and smtp_dns_support_level = disabled turn off MX
 * lookups; "localhost" names always go to the system resolver.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { SmtpAgent } from '../../../src/actors/smtp/smtp-agent.js';
import { startDnsServer, type TestDnsServer } from '../../helpers/dns-server.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { captureLog, contentReader, makeConfig, makeRequest } from './smtp-test-kit.js';

let dns: TestDnsServer;
let sink: SmtpSink;
let closed: number;

before(async () => {
  dns = await startDnsServer({ 'relay.test': { A: ['127.0.0.1'] } });
  sink = await startSmtpSink();
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  closed = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
});

after(async () => {
  await dns.close();
  await sink.close();
});

async function deliver(params: Record<string, string>, nexthop: string) {
  const agent = new SmtpAgent({
    config: makeConfig({ dns_resolver_servers: `127.0.0.1:${dns.port}`, smtp_connection_cache_time_limit: '0s', inet_protocols: 'ipv4', ...params }),
    log: captureLog().log,
    readContent: contentReader(),
  });
  try {
    return (await agent.deliver(makeRequest({ nexthop }))).outcomes[0];
  } finally {
    await agent.close();
  }
}

test('a nexthop list is tried in order: a dead first relayhost fails over to the second', async () => {
  const n = sink.messages.length;
  const o = await deliver({}, `[127.0.0.1]:${closed}, [127.0.0.1]:${sink.port}`);
  assert.equal(o.state, 'delivered', o.reason);
  assert.equal(o.relay, `127.0.0.1[127.0.0.1]:${sink.port}`);
  assert.equal(sink.messages.length, n + 1);
  // Both dead: deferred with the last host's reason.
  const dead = await deliver({}, `[127.0.0.1]:${closed} [127.0.0.1]:${closed}`);
  assert.equal(dead.state, 'deferred');
  assert.match(dead.reason, /connect to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: Connection refused/);
});

test('smtp_host_lookup: dns asks the DNS; native asks the system resolver only; "native, dns" falls back in order', async () => {
  const byDns = await deliver({ smtp_host_lookup: 'dns' }, `[relay.test]:${sink.port}`);
  assert.equal(byDns.state, 'delivered', byDns.reason);
  const asked = dns.queries.length;
  const native = await deliver({ smtp_host_lookup: 'native' }, `[relay.test]:${sink.port}`);
  assert.notEqual(native.state, 'delivered');
  assert.match(native.reason, /Name service error for name=relay\.test type=A/);
  assert.equal(dns.queries.length, asked, 'native lookup sends nothing to the DNS server');
  const both = await deliver({ smtp_host_lookup: 'native, dns' }, `[relay.test]:${sink.port}`);
  assert.equal(both.state, 'delivered', both.reason);
});

test('[localhost] and localhost go to the system resolver (/etc/hosts), never to the DNS', async () => {
  const asked = dns.queries.length;
  const o = await deliver({}, `[localhost]:${sink.port}`);
  assert.equal(o.state, 'delivered', o.reason);
  assert.equal(dns.queries.length, asked);
});

test('disable_dns_lookups and smtp_dns_support_level = disabled: no MX lookup, the domain\'s address from the system resolver', async () => {
  // With DNS, "localhost:port" is a domain whose MX the DNS is asked about (NXDOMAIN here): it bounces.
  const withDns = await deliver({}, `localhost:${sink.port}`);
  assert.equal(withDns.state, 'bounced');
  assert.ok(dns.queries.includes('localhost MX'));
  for (const params of [{ disable_dns_lookups: 'yes' }, { smtp_dns_support_level: 'disabled' }] as Array<Record<string, string>>) {
    const asked = dns.queries.length;
    const o = await deliver(params, `localhost:${sink.port}`);
    assert.equal(o.state, 'delivered', `${JSON.stringify(params)}: ${o.reason}`);
    assert.equal(dns.queries.length, asked, 'no DNS query');
  }
  // smtp_dns_support_level decides over disable_dns_lookups when set.
  const enabled = await deliver({ disable_dns_lookups: 'yes', smtp_dns_support_level: 'enabled' }, `localhost:${sink.port}`);
  assert.equal(enabled.state, 'bounced');
});
