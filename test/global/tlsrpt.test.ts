import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, renameSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { promises as dnsPromises } from 'node:dns';
import { MainConfig } from '../../src/config/main-config.js';
import { dayOf, tlsrptDir, TlsRptRecorder, type TlsRptResult } from '../../src/global/tlsrpt-record.js';
import { buildReports, daySummary, readDay, type TlsRptReport } from '../../src/global/tlsrpt-report.js';
import { lookupRua, startTlsRptSchedule } from '../../src/global/tlsrpt-send.js';
import { decodeMaildropFile, maildropDir } from '../../src/global/maildrop-file.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { makeTestCa, type TestCa } from '../helpers/tls-ca.js';
import { startHttpsServer, type TestHttpsServer } from '../helpers/https-test-server.js';
import { waitFor } from '../helpers/send-mail.js';

const STS = ['version: STSv1', 'mode: enforce', 'mx: mx1.a.test', 'mx: *.b.a.test', 'max_age: 86400'];

function result(over: Partial<TlsRptResult>): TlsRptResult {
  return { policyDomain: 'a.test', policyType: 'sts', policyStrings: STS, mxHost: 'mx1.a.test', sendingMta: '192.0.2.1', receivingIp: '198.51.100.7', ok: true, ...over };
}

test('recorded results, summed per day: one report per policy domain, failure details grouped with their counts', async () => {
  const q = mkdtempSync(join(tmpdir(), 'postrider-tlsrpt-'));
  const recorders = [new TlsRptRecorder(q), new TlsRptRecorder(q)];
  recorders[0].recordTlsResult(result({}));
  recorders[1].recordTlsResult(result({}));
  recorders[0].recordTlsResult(result({ ok: false, failure: 'certificate-expired', detail: 'CERT_HAS_EXPIRED' }));
  recorders[1].recordTlsResult(result({ ok: false, failure: 'certificate-expired', detail: 'CERT_HAS_EXPIRED' }));
  recorders[0].recordTlsResult(result({ ok: false, failure: 'starttls-not-supported', receivingIp: '198.51.100.8' }));
  recorders[0].recordTlsResult(result({ policyDomain: 'c.test', policyType: 'no-policy-found', policyStrings: [] }));
  await Promise.all(recorders.map((r) => r.flush()));
  const day = dayOf(Date.now());
  const lines = readDay(q, day);
  assert.equal(lines.length, 6);
  const reports = buildReports(lines, day, { organization: 'Org', contact: 'ops@x.test', submitter: 'mta.x.test' });
  assert.deepEqual([...reports.keys()].sort(), ['a.test', 'c.test']);
  const a = reports.get('a.test')!;
  const expected: TlsRptReport = {
    'organization-name': 'Org',
    'date-range': { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` },
    'contact-info': 'ops@x.test',
    'report-id': `${day}T00:00:00Z_a.test_mta.x.test`,
    policies: [{
      policy: { 'policy-type': 'sts', 'policy-string': STS, 'policy-domain': 'a.test', 'mx-host': ['mx1.a.test', '*.b.a.test'] },
      summary: { 'total-successful-session-count': 2, 'total-failure-session-count': 3 },
      'failure-details': [
        { 'result-type': 'certificate-expired', 'sending-mta-ip': '192.0.2.1', 'receiving-mx-hostname': 'mx1.a.test', 'receiving-ip': '198.51.100.7', 'failed-session-count': 2, 'failure-reason-code': 'CERT_HAS_EXPIRED' },
        { 'result-type': 'starttls-not-supported', 'sending-mta-ip': '192.0.2.1', 'receiving-mx-hostname': 'mx1.a.test', 'receiving-ip': '198.51.100.8', 'failed-session-count': 1 },
      ],
    }],
  };
  assert.deepEqual(a, expected);
  assert.deepEqual(reports.get('c.test')!.policies[0].policy, { 'policy-type': 'no-policy-found', 'policy-string': [], 'policy-domain': 'c.test' });
  assert.deepEqual(daySummary(lines), [
    { domain: 'a.test', ok: 2, failed: 3, failures: { 'certificate-expired': 2, 'starttls-not-supported': 1 } },
    { domain: 'c.test', ok: 1, failed: 0, failures: {} },
  ]);
  // One file per thread and process: both recorders here share a thread, so one file.
  assert.equal(readdirSync(join(tlsrptDir(q), day)).length, 1);
});

describe('TLSRPT delivery', () => {
  let dns: TestDnsServer;
  let ca: TestCa;
  let web: TestHttpsServer;
  before(async () => {
    ca = makeTestCa();
    web = await startHttpsServer(ca.issue(['rua.r.test']), (req) => (req.method === 'POST' ? { status: 200 } : { status: 404 }));
    dns = await startDnsServer({
      '_smtp._tls.one.test': { TXT: ['v=TLSRPTv1; rua=mailto:rua@r.test,https://rua.r.test/report'] },
      '_smtp._tls.two.test': { TXT: ['v=TLSRPTv1; rua=mailto:a@r.test', 'v=TLSRPTv1; rua=mailto:b@r.test'] },
      '_smtp._tls.other.test': { TXT: ['v=spf1 -all', 'v=TLSRPTv1;rua=https://rua.r.test/x'] },
      'rua.r.test': { A: [web.address] },
    });
  });
  after(async () => {
    await dns.close();
    await web.close();
  });

  test('the rua of _smtp._tls: exactly one v=TLSRPTv1 record, others ignored; two make none', async () => {
    const resolver = new dnsPromises.Resolver();
    resolver.setServers([`127.0.0.1:${dns.port}`]);
    assert.deepEqual(await lookupRua(resolver, 'one.test'), ['mailto:rua@r.test', 'https://rua.r.test/report']);
    assert.equal(await lookupRua(resolver, 'two.test'), undefined);
    assert.deepEqual(await lookupRua(resolver, 'other.test'), ['https://rua.r.test/x']);
    assert.equal(await lookupRua(resolver, 'none.test'), undefined);
  });

  test('smtp_tlsrpt_send_time and smtp_tlsrpt_CAfile: a finished day is sent when the time has come, over https verified against the file, and by mail through the maildrop', async () => {
    const q = mkdtempSync(join(tmpdir(), 'postrider-tlsrpt-'));
    const rec = new TlsRptRecorder(q);
    rec.recordTlsResult(result({ policyDomain: 'one.test' }));
    await rec.flush();
    const yesterday = dayOf(Date.now() - 86400_000);
    renameSync(join(tlsrptDir(q), dayOf(Date.now())), join(tlsrptDir(q), yesterday));
    const config = (over: Record<string, string>) => new MainConfig({
      myhostname: 'mta.x.test', queue_directory: q, dns_resolver_servers: `127.0.0.1:${dns.port}`, smtp_tlsrpt_enable: 'yes', ...over,
    }, q);
    const now = new Date();
    const minute = now.getUTCHours() * 60 + now.getUTCMinutes();
    const logged: string[] = [];
    if (minute < 23 * 60 + 58) {
      // The time has not come today: nothing is sent at start.
      const later = startTlsRptSchedule(config({ smtp_tlsrpt_send_time: '23:59', smtp_tlsrpt_CAfile: ca.certFile }), (l) => logged.push(l));
      await new Promise((r) => setTimeout(r, 300));
      later.stop();
      assert.equal(web.requests.length, 0, 'not before smtp_tlsrpt_send_time');
    }
    // A trust store the endpoint's certificate does not chain to: the POST is refused.
    const wrong = startTlsRptSchedule(config({ smtp_tlsrpt_send_time: '00:00', smtp_tlsrpt_CAfile: makeTestCa('Other').certFile }), (l) => logged.push(l));
    await waitFor(() => logged.some((l) => l.includes('https://rua.r.test/report')), 10_000, 'the https outcome');
    wrong.stop();
    assert.equal(web.requests.length, 0);
    assert.match(logged.find((l) => l.includes('https://rua.r.test/report'))!, /^TLSRPT report \d{4}-\d\d-\d\d one\.test: https:\/\/rua\.r\.test\/report: .*certificate/);
    // That day is claimed and gone; another finished day with the right trust store is posted.
    rec.recordTlsResult(result({ policyDomain: 'one.test' }));
    await rec.flush();
    const before = dayOf(Date.now() - 2 * 86400_000);
    renameSync(join(tlsrptDir(q), dayOf(Date.now())), join(tlsrptDir(q), before));
    const right = startTlsRptSchedule(config({ smtp_tlsrpt_send_time: '00:00', smtp_tlsrpt_CAfile: ca.certFile }), (l) => logged.push(l));
    await waitFor(() => web.requests.length === 1, 10_000, 'the POST');
    right.stop();
    const post = web.requests[0];
    assert.equal(post.headers['content-type'], 'application/tlsrpt+gzip');
    const report = JSON.parse(gunzipSync(post.body).toString('utf8')) as TlsRptReport;
    assert.equal(report['date-range']['start-datetime'], `${before}T00:00:00Z`);
    assert.equal(report.policies[0].summary['total-successful-session-count'], 1);
    // The mail copies: maildrop files for pickup, addressed to the mailto: rua.
    const drops = readdirSync(maildropDir(q)).filter((f) => !f.startsWith('.'));
    assert.equal(drops.length, 2, 'one report mail per finished day');
    const { envelope, content } = decodeMaildropFile(readFileSync(join(maildropDir(q), drops[0])));
    assert.deepEqual(envelope.recipients, [{ address: 'rua@r.test' }]);
    assert.equal(envelope.sender, 'postmaster@x.test', 'smtp_tlsrpt_contact_info: postmaster@$mydomain');
    assert.match(content.toString(), /^TLS-Report-Domain: one\.test\r$/m);
  });
});
