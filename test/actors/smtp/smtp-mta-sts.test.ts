import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SmtpAgent } from '../../../src/actors/smtp/smtp-agent.js';
import { dayOf, tlsrptDir, type TlsRptLine } from '../../../src/global/tlsrpt-record.js';
import { startDnsServer, type TestDnsServer } from '../../helpers/dns-server.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { makeTestCa, type TestCa } from '../../helpers/tls-ca.js';
import { makeTestCert, type TestCert } from '../../helpers/tls-cert.js';
import { randomLoopback, startHttpsServer, type TestHttpsServer } from '../../helpers/https-test-server.js';
import { captureLog, contentReader, makeConfig, makeRequest } from './smtp-test-kit.js';
import { fetchStsPolicy, StsFetchError, STS_MAX_POLICY_BYTES } from '../../../src/actors/smtp/smtp-mta-sts-fetch.js';

const POLICY = (mode: string, mx: string[], maxAge = 86400) => `version: STSv1\r\nmode: ${mode}\r\n${mx.map((m) => `mx: ${m}\r\n`).join('')}max_age: ${maxAge}\r\n`;

describe('MTA-STS in the smtp client', () => {
  let dns: TestDnsServer;
  let ca: TestCa;
  let web: TestHttpsServer;
  const sinks: Record<string, SmtpSink> = {};
  const policies: Record<string, string> = {};
  let queueDir: string;

  /** A domain with one MX host on its own sink and its policy served by `web`. */
  async function domain(name: string, mode: string, mx: string[], sink: SmtpSink, mxHost = `mx.${name}`): Promise<void> {
    dns.zone[name] = { MX: [{ preference: 10, exchange: mxHost }] };
    dns.zone[mxHost] = { A: [sink.host] };
    dns.zone[`_mta-sts.${name}`] = { TXT: ['v=STSv1; id=20261205a;'] };
    dns.zone[`mta-sts.${name}`] = { A: [web.address] };
    policies[`mta-sts.${name}`] = POLICY(mode, mx);
    sinks[name] = sink;
  }

  before(async () => {
    dns = await startDnsServer({});
    ca = makeTestCa();
    const names = ['good', 'nomatch', 'badcert', 'wrongname', 'strip', 'testing', 'refresh', 'hang', 'type', 'big'].map((d) => `mta-sts.${d}.test`);
    web = await startHttpsServer(ca.issue(names), (req) => {
      if (req.host === 'mta-sts.hang.test') return { status: 200, hang: true };
      if (req.host === 'mta-sts.type.test') return { status: 200, type: 'text/html', body: POLICY('enforce', ['mx.type.test']) };
      if (req.host === 'mta-sts.big.test') return { status: 200, type: 'text/plain', body: POLICY('enforce', ['mx.big.test']) + '#'.repeat(STS_MAX_POLICY_BYTES) };
      const body = policies[req.host];
      if (req.path !== '/.well-known/mta-sts.txt' || body === undefined) return { status: 404 };
      return { status: 200, type: 'text/plain; charset=utf-8', body };
    });
    const sink = (name: string, cert: TestCert | undefined) =>
      startSmtpSink({ host: randomLoopback(), starttls: !!cert, ...(cert ? { cert } : {}) });
    await domain('good.test', 'enforce', ['*.good.test'], await sink('good', ca.issue(['mx.good.test'])));
    await domain('nomatch.test', 'enforce', ['mx.nomatch.test'], await sink('nomatch', ca.issue(['mail.elsewhere.test'])), 'mail.elsewhere.test');
    await domain('badcert.test', 'enforce', ['mx.badcert.test'], await sink('badcert', makeTestCert('mx.badcert.test')));
    await domain('wrongname.test', 'enforce', ['mx.wrongname.test'], await sink('wrongname', ca.issue(['other.test'])));
    await domain('strip.test', 'enforce', ['mx.strip.test'], await sink('strip', undefined));
    await domain('testing.test', 'testing', ['mx.testing.test'], await sink('testing', makeTestCert('mx.testing.test')));
    await domain('refresh.test', 'enforce', ['mx.refresh.test'], await sink('refresh', ca.issue(['mx.refresh.test'])));
    await domain('hang.test', 'enforce', ['mx.hang.test'], await sink('hang', undefined));
    queueDir = mkdtempSync(join(tmpdir(), 'postrider-sts-'));
  });
  after(async () => {
    await dns.close();
    await web.close();
    for (const s of Object.values(sinks)) await s.close();
  });

  function agent(extra: Record<string, string> = {}) {
    const { log, lines } = captureLog();
    const a = new SmtpAgent({
      config: makeConfig({
        dns_resolver_servers: `127.0.0.1:${dns.port}`,
        smtp_connection_cache_time_limit: '0s',
        queue_directory: queueDir,
        smtp_mta_sts_enable: 'yes',
        smtp_mta_sts_CAfile: ca.certFile,
        smtp_tls_CAfile: ca.certFile,
        smtp_tlsrpt_enable: 'yes',
        smtp_tls_security_level: 'may',
        ...extra,
      }),
      log,
      readContent: contentReader(),
    });
    return { agent: a, lines };
  }

  async function send(name: string, extra: Record<string, string> = {}) {
    const { agent: a, lines } = agent(extra);
    const before = sinks[name].messages.length;
    const res = await a.deliver(makeRequest({ nexthop: `${name}:${sinks[name].port}`, to: [`b@${name}`] }));
    await a.close();
    return { outcome: res.outcomes[0], got: sinks[name].messages.slice(before), lines };
  }

  function fetches(name: string): number {
    return web.requests.filter((r) => r.host === `mta-sts.${name}`).length;
  }

  function recorded(name: string): TlsRptLine[] {
    const dir = join(tlsrptDir(queueDir), dayOf(Date.now()));
    if (!existsSync(dir)) return [];
    return readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as TlsRptLine))
      .filter((l) => l.policyDomain === name);
  }

  test('enforce: an MX matching the policy with a certificate that verifies gets the mail over TLS; the success is counted', async () => {
    const { outcome, got, lines } = await send('good.test');
    assert.equal(outcome.state, 'delivered', outcome.reason);
    assert.equal(got.length, 1);
    assert.equal(got[0].secure, true, 'delivered over TLS');
    assert.equal(fetches('good.test'), 1);
    assert.ok(lines.some((l) => l.includes('MTA-STS policy for good.test fetched: id=20261205a mode=enforce')), lines.join('\n'));
    const rec = recorded('good.test');
    assert.equal(rec.length, 1);
    assert.equal(rec[0].ok, true);
    assert.equal(rec[0].policyType, 'sts');
    assert.deepEqual(rec[0].policyStrings, ['version: STSv1', 'mode: enforce', 'mx: *.good.test', 'max_age: 86400']);
    assert.equal(rec[0].mxHost, 'mx.good.test');
    assert.equal(rec[0].receivingIp, sinks['good.test'].host);
    assert.match(rec[0].sendingMta, /^127\./);
  });

  test('enforce: an MX host the policy does not list is not tried; the mail defers 4.7.5', async () => {
    const { outcome, got } = await send('nomatch.test');
    assert.equal(outcome.state, 'deferred');
    assert.equal(outcome.dsn, '4.7.5');
    assert.match(outcome.reason, /MTA-STS policy of nomatch\.test \(mode enforce\) matches no MX host: mail\.elsewhere\.test/);
    assert.equal(got.length, 0);
    assert.equal(sinks['nomatch.test'].connections, 0, 'no connection to an MX outside the policy');
    const rec = recorded('nomatch.test');
    assert.equal(rec.at(-1)?.failure, 'validation-failure');
  });

  test('enforce: a certificate from no trusted CA defers the mail, never plain text', async () => {
    const { outcome, got } = await send('badcert.test');
    assert.equal(outcome.state, 'deferred', outcome.reason);
    assert.equal(outcome.dsn, '4.7.5');
    assert.equal(got.length, 0, 'nothing delivered');
    assert.doesNotMatch(sinks['badcert.test'].wire, /MAIL FROM/, 'no transaction in the clear');
    assert.equal(recorded('badcert.test').at(-1)?.failure, 'certificate-not-trusted');
  });

  test('enforce: a certificate from the trusted CA for another name defers the mail', async () => {
    const { outcome, got } = await send('wrongname.test');
    assert.equal(outcome.state, 'deferred', outcome.reason);
    assert.equal(got.length, 0);
    assert.doesNotMatch(sinks['wrongname.test'].wire, /MAIL FROM/);
    assert.equal(recorded('wrongname.test').at(-1)?.failure, 'certificate-host-mismatch');
  });

  test('enforce: a stripped STARTTLS defers 4.7.4, never plain text, even at smtp_tls_security_level = none', async () => {
    const { outcome, got } = await send('strip.test', { smtp_tls_security_level: 'none' });
    assert.equal(outcome.state, 'deferred');
    assert.equal(outcome.dsn, '4.7.4');
    assert.match(outcome.reason, /TLS is required, but was not offered by host mx\.strip\.test/);
    assert.equal(got.length, 0);
    assert.doesNotMatch(sinks['strip.test'].wire, /MAIL FROM/);
    assert.equal(recorded('strip.test').at(-1)?.failure, 'starttls-not-supported');
  });

  test('testing: a certificate that does not verify still gets the mail, and the failure is counted', async () => {
    const { outcome, got } = await send('testing.test');
    assert.equal(outcome.state, 'delivered', outcome.reason);
    assert.equal(got.length, 1);
    assert.equal(got[0].secure, true);
    const rec = recorded('testing.test');
    assert.equal(rec.length, 1);
    assert.equal(rec[0].ok, false);
    assert.equal(rec[0].failure, 'certificate-not-trusted');
    assert.equal(rec[0].policyType, 'sts');
  });

  test('the policy cache on disk outlives the agent: a new one does not fetch while the TXT id stays, and fetches when it changes', async () => {
    const cacheDir = { smtp_mta_sts_cache_directory: 'sts-cache' };
    const first = await send('refresh.test', cacheDir);
    assert.equal(first.outcome.state, 'delivered', first.outcome.reason);
    assert.equal(fetches('refresh.test'), 1);
    assert.ok(existsSync(join(queueDir, 'sts-cache', 'refresh.test.json')), 'cached in smtp_mta_sts_cache_directory, under queue_directory');
    const cached = JSON.parse(readFileSync(join(queueDir, 'sts-cache', 'refresh.test.json'), 'utf8')) as { id: string; mode: string; expires: number };
    assert.equal(cached.id, '20261205a');
    assert.ok(cached.expires > Date.now() + 86000_000 && cached.expires <= Date.now() + 86400_000, 'kept for max_age');
    // A fresh agent (as after a restart): the cached policy holds, no HTTPS request.
    const second = await send('refresh.test', cacheDir);
    assert.equal(second.outcome.state, 'delivered');
    assert.equal(fetches('refresh.test'), 1, 'no second fetch');
    // A new id: fetched again; the new policy (mx no longer matching) applies at once.
    dns.zone['_mta-sts.refresh.test'] = { TXT: ['v=STSv1; id=20261205b'] };
    policies['mta-sts.refresh.test'] = POLICY('enforce', ['mx2.refresh.test']);
    const third = await send('refresh.test', cacheDir);
    assert.equal(fetches('refresh.test'), 2);
    assert.equal(third.outcome.state, 'deferred');
    assert.equal(third.outcome.dsn, '4.7.5');
    // The policy host then fails: the cached (unexpired) policy still holds.
    dns.zone['_mta-sts.refresh.test'] = { TXT: ['v=STSv1; id=20261205c'] };
    policies['mta-sts.refresh.test'] = undefined as unknown as string;
    const fourth = await send('refresh.test', cacheDir);
    assert.equal(fetches('refresh.test'), 3);
    assert.equal(fourth.outcome.state, 'deferred', 'the cached enforce policy still applies');
    assert.match(fourth.lines.join('\n'), /MTA-STS policy for refresh\.test not fetched \(sts-policy-fetch-error\): .*HTTP status 404/);
  });

  test('smtp_mta_sts_enable = no and smtp_tlsrpt_enable = no: no policy lookup, nothing counted', async () => {
    const before = dns.queries.length;
    const counted = recorded('strip.test').length;
    const { outcome } = await send('strip.test', { smtp_mta_sts_enable: 'no', smtp_tlsrpt_enable: 'no' });
    assert.equal(outcome.state, 'delivered', 'plain text without a policy');
    assert.ok(!dns.queries.slice(before).some((q) => q.startsWith('_mta-sts.')));
    assert.equal(recorded('strip.test').length, counted);
    // The same with TLSRPT on: the plain-text session is counted, with no policy found.
    await send('strip.test', { smtp_mta_sts_enable: 'no' });
    const last = recorded('strip.test').at(-1)!;
    assert.equal(last.policyType, 'no-policy-found');
    assert.equal(last.failure, 'starttls-not-supported');
  });

  test('smtp_mta_sts_fetch_timeout: a policy host that never answers is given up on; without a policy the mail goes as main.cf says, and the fetch error is counted', async () => {
    const { outcome, lines } = await send('hang.test', { smtp_mta_sts_fetch_timeout: '1s' });
    assert.equal(outcome.state, 'delivered', outcome.reason);
    assert.match(lines.join('\n'), /MTA-STS policy for hang\.test not fetched \(sts-policy-fetch-error\): https:\/\/mta-sts\.hang\.test\/\.well-known\/mta-sts\.txt: timed out after 1000 ms/);
    const last = recorded('hang.test').at(-1)!;
    assert.equal(last.policyType, 'sts');
    assert.equal(last.failure, 'sts-policy-fetch-error');
  });

  test('the policy fetch: not text/plain and larger than 64 KiB are invalid; a policy host certificate from another CA is sts-webpki-invalid', async () => {
    const lookup = async () => [web.address];
    const failure = async (domain: string, ca: Buffer) => {
      try {
        await fetchStsPolicy(domain, 'x', { ca, timeoutMs: 5000, lookup });
      } catch (err) {
        assert.ok(err instanceof StsFetchError);
        return { type: err.failure, message: err.message };
      }
      assert.fail('fetched');
    };
    assert.deepEqual(await failure('type.test', ca.cert), { type: 'sts-policy-invalid', message: 'https://mta-sts.type.test/.well-known/mta-sts.txt: Content-Type "text/html", not text/plain' });
    assert.equal((await failure('big.test', ca.cert)).type, 'sts-policy-invalid');
    const other = makeTestCa('Another CA');
    const webpki = await failure('good.test', other.cert);
    assert.equal(webpki.type, 'sts-webpki-invalid', webpki.message);
    const ok = await fetchStsPolicy('good.test', 'x', { ca: ca.cert, timeoutMs: 5000, lookup });
    assert.deepEqual({ mode: ok.mode, mx: ok.mx, maxAge: ok.maxAge }, { mode: 'enforce', mx: ['*.good.test'], maxAge: 86400 });
  });
});
