/**
 * The DNS answers SPF, DKIM, DMARC and ARC checks use are kept for their
 * own TTL, TXT and MX included (asked of the name server directly, since
 * node:dns reports no TTL for them), against a real DNS server on loopback
 * whose zone the test changes: within the TTL the cached answer serves and
 * no query goes out; after it the new record is seen. Failures keep
 * node:dns's codes; a temporary failure is never cached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthDns } from '../../../src/actors/smtpd/smtpd-auth-dns.js';
import { resolveWithTtl, serverAddress } from '../../../src/global/dns-query.js';
import { startDnsServer } from '../../helpers/dns-server.js';

test('a TXT answer is kept for its TTL and no longer: the changed record is seen once the TTL has passed', async () => {
  const dns = await startDnsServer({ 'short.example': { TXT: ['v=spf1 -all'], ttl: 1 }, 'long.example': { TXT: ['v=DMARC1; p=reject'], ttl: 3600 } });
  try {
    const auth = new AuthDns([`${dns.address}:${dns.port}`]);
    assert.deepEqual(await auth.resolve('short.example', 'TXT'), [['v=spf1 -all']]);
    dns.zone['short.example'].TXT = ['v=spf1 +all'];
    assert.deepEqual(await auth.resolve('short.example', 'TXT'), [['v=spf1 -all']], 'within the TTL: the cached answer');
    assert.equal(dns.queries.filter((q) => q === 'short.example TXT').length, 1, 'and no second query');
    await new Promise((r) => setTimeout(r, 1200));
    assert.deepEqual(await auth.resolve('short.example', 'TXT'), [['v=spf1 +all']], 'after the TTL: the new record');
    assert.equal(dns.queries.filter((q) => q === 'short.example TXT').length, 2);
    await auth.resolve('long.example', 'TXT');
    await auth.resolve('long.example', 'TXT');
    assert.equal(dns.queries.filter((q) => q === 'long.example TXT').length, 1);
  } finally {
    await dns.close();
  }
});

test('answers in node:dns shapes with the smallest TTL; NXDOMAIN, no data and SERVFAIL as node:dns codes; a failure is not cached', async () => {
  const dkim = 'v=DKIM1; k=rsa; p=' + 'A'.repeat(1400);
  const dns = await startDnsServer({
    'mx.example': { MX: [{ preference: 10, exchange: 'mail.mx.example' }], ttl: 120 },
    'sel._domainkey.big.example': { TXT: [dkim], ttl: 300 },
    'bare.example': { A: ['127.0.0.1'] },
    'broken.example': { servfail: true },
  });
  const server = `${dns.address}:${dns.port}`;
  try {
    assert.deepEqual(await resolveWithTtl([server], 'mx.example', 'MX'), { records: [{ exchange: 'mail.mx.example', priority: 10 }], ttl: 120 });
    // A 2048-bit key's record is longer than a plain 512-byte UDP answer: EDNS0 brings it whole.
    const big = await resolveWithTtl([server], 'sel._domainkey.big.example', 'TXT');
    assert.equal((big.records[0] as string[]).join(''), dkim);
    assert.equal(big.ttl, 300);
    await assert.rejects(resolveWithTtl([server], 'nowhere.example', 'TXT'), { code: 'ENOTFOUND' });
    await assert.rejects(resolveWithTtl([server], 'bare.example', 'TXT'), { code: 'ENODATA' });
    await assert.rejects(resolveWithTtl([server], 'broken.example', 'TXT'), { code: 'ESERVFAIL' });
    const auth = new AuthDns([server]);
    await assert.rejects(auth.resolve('broken.example', 'TXT'), { code: 'ESERVFAIL' });
    await assert.rejects(auth.resolve('broken.example', 'TXT'), { code: 'ESERVFAIL' });
    assert.equal(dns.queries.filter((q) => q === 'broken.example TXT').length, 3, 'a temporary failure is asked again');
    // A server that does not answer: the next one is asked.
    const silent = '127.0.0.1:9';
    assert.equal((await resolveWithTtl([silent, server], 'mx.example', 'MX', 300)).ttl, 120);
    await assert.rejects(resolveWithTtl([silent], 'mx.example', 'MX', 300), (err: NodeJS.ErrnoException) => err.code === 'ETIMEOUT' || err.code === 'ECONNREFUSED');
  } finally {
    await dns.close();
  }
  assert.deepEqual(serverAddress('[::1]:5353'), { host: '::1', port: 5353 });
  assert.deepEqual(serverAddress('192.0.2.1'), { host: '192.0.2.1', port: 53 });
  assert.deepEqual(serverAddress('::1'), { host: '::1', port: 53 });
});
