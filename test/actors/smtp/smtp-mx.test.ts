/** smtp-mx: inet_protocols decides which address families are looked up and connected over. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpAgent } from '../../../src/actors/smtp/smtp-agent.js';
import { startDnsServer } from '../../helpers/dns-server.js';
import { startSmtpSink } from '../../helpers/smtp-sink.js';
import { captureLog, contentReader, makeConfig, makeRequest } from './smtp-test-kit.js';

test('inet_protocols: ipv4 uses A records only, ipv6 AAAA records only, all both', async () => {
  const sink = await startSmtpSink({ host: '::' });
  const dns = await startDnsServer({
    'both.test': { A: ['127.0.0.1'], AAAA: ['::1'] },
    'v4only.test': { A: ['127.0.0.1'] },
  });
  const deliver = async (protocols: string, domain: string) => {
    const agent = new SmtpAgent({
      config: makeConfig({ inet_protocols: protocols, dns_resolver_servers: `127.0.0.1:${dns.port}`, smtp_connection_cache_time_limit: '0s' }),
      log: captureLog().log,
      readContent: contentReader(),
    });
    try {
      return (await agent.deliver(makeRequest({ nexthop: `${domain}:${sink.port}`, to: [`u@${domain}`] }))).outcomes[0];
    } finally {
      await agent.close();
    }
  };
  try {
    assert.equal((await deliver('ipv4', 'both.test')).state, 'delivered');
    assert.equal(sink.messages.at(-1)!.clientAddress, '127.0.0.1');
    assert.equal((await deliver('ipv6', 'both.test')).state, 'delivered');
    assert.equal(sink.messages.at(-1)!.clientAddress, '::1');
    assert.equal((await deliver('all', 'v4only.test')).state, 'delivered');
    const none = await deliver('ipv6', 'v4only.test');
    assert.equal(none.state, 'bounced');
    assert.match(none.reason, /^Host or domain name not found\. Name service error for name=v4only\.test type=AAAA: Host found but no data record of requested type$/);
  } finally {
    await sink.close();
    await dns.close();
  }
});
