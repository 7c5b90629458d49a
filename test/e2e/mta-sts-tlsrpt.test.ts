/**
 * End to end through the real daemon: MTA-STS policies fetched from an
 * HTTPS policy host on loopback (a test CA), enforce and testing mode, the
 * policy cache across a daemon restart, TLSRPT figures (`postrider tlsrpt
 * show`) and the reports (`postrider tlsrpt send`) arriving gzipped at a
 * mailto: rua (through the queue, to a sink) and an https: rua.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { makeTestCa } from '../helpers/tls-ca.js';
import { makeTestCert } from '../helpers/tls-cert.js';
import { randomLoopback, startHttpsServer, type TestHttpsServer } from '../helpers/https-test-server.js';
import { dayOf } from '../../src/global/tlsrpt-record.js';

let dns: TestDnsServer;
let web: TestHttpsServer;
let enf: SmtpSink;
let tst: SmtpSink;
let reports: SmtpSink;
let daemon: RunningDaemon;

const RUA = 'v=TLSRPTv1; rua=mailto:tls-reports@reports.test,https://rua.reports.test/v1/tlsrpt';

before(async () => {
  const ca = makeTestCa();
  web = await startHttpsServer(ca.issue(['mta-sts.enf.test', 'mta-sts.tst.test', 'rua.reports.test']), (req) => {
    if (req.host === 'rua.reports.test' && req.method === 'POST') return { status: 201 };
    if (req.path !== '/.well-known/mta-sts.txt') return { status: 404 };
    const mode = req.host === 'mta-sts.enf.test' ? 'enforce' : req.host === 'mta-sts.tst.test' ? 'testing' : '';
    if (!mode) return { status: 404 };
    return { status: 200, type: 'text/plain', body: `version: STSv1\nmode: ${mode}\nmx: mx.${req.host.slice(8)}\nmax_age: 604800\n` };
  });
  enf = await startSmtpSink({ host: randomLoopback(), starttls: true, cert: ca.issue(['mx.enf.test']) });
  tst = await startSmtpSink({ host: randomLoopback(), starttls: true, cert: makeTestCert('mx.tst.test') });
  reports = await startSmtpSink({ host: randomLoopback() });
  dns = await startDnsServer({
    'enf.test': { MX: [{ preference: 10, exchange: 'mx.enf.test' }] },
    'mx.enf.test': { A: [enf.host] },
    '_mta-sts.enf.test': { TXT: ['v=STSv1; id=1'] },
    'mta-sts.enf.test': { A: [web.address] },
    '_smtp._tls.enf.test': { TXT: [RUA] },
    'tst.test': { MX: [{ preference: 10, exchange: 'mx.tst.test' }] },
    'mx.tst.test': { A: [tst.host] },
    '_mta-sts.tst.test': { TXT: ['v=STSv1; id=1'] },
    'mta-sts.tst.test': { A: [web.address] },
    '_smtp._tls.tst.test': { TXT: [RUA] },
    'reports.test': { MX: [{ preference: 10, exchange: 'mx.reports.test' }] },
    'mx.reports.test': { A: [reports.host] },
    'rua.reports.test': { A: [web.address] },
  });
  daemon = await startDaemon({
    params: {
      dns_resolver_servers: `127.0.0.1:${dns.port}`,
      transport_maps: `inline:{ enf.test=smtp:enf.test:${enf.port}, tst.test=smtp:tst.test:${tst.port}, reports.test=smtp:reports.test:${reports.port} }`,
      smtp_tls_security_level: 'may',
      smtp_tls_CAfile: ca.certFile,
      smtp_mta_sts_enable: 'yes',
      smtp_mta_sts_CAfile: ca.certFile,
      smtp_tlsrpt_enable: 'yes',
      smtp_tlsrpt_organization_name: 'Postrider Test Org',
      smtp_tlsrpt_contact_info: 'tlsrpt-admin@postrider.test',
    },
  });
});

after(async () => {
  await daemon?.stop();
  for (const s of [enf, tst, reports]) await s?.close();
  await web?.close();
  await dns?.close();
});

const fetches = (host: string) => web.requests.filter((r) => r.host === host && r.method === 'GET').length;

/** The JSON report inside a report message (its application/tlsrpt+gzip part, base64). */
function reportOf(raw: string): Record<string, unknown> {
  const m = /Content-Type: application\/tlsrpt\+gzip\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="([^"]+)"\r\n\r\n([A-Za-z0-9+/=\r\n]+)--/.exec(raw);
  assert.ok(m, 'a base64 application/tlsrpt+gzip part');
  assert.match(m[1], /^mx\.postrider\.test!(enf|tst)\.test!\d+!\d+!\w+\.json\.gz$/);
  return JSON.parse(gunzipSync(Buffer.from(m[2].replace(/\r\n/g, ''), 'base64')).toString('utf8')) as Record<string, unknown>;
}

test('MTA-STS enforce delivers over verified TLS, testing delivers and counts the failure; the cache outlives a restart; the TLSRPT reports reach the mailto: and https: rua', async () => {
  const a = await sendMail(daemon.port, { from: 's@postrider.test', to: ['user@enf.test'], raw: 'Subject: enforce\r\n\r\nover verified TLS\r\n' });
  await daemon.waitRemoved(a.queueId!);
  assert.equal(enf.messages.length, 1);
  assert.equal(enf.messages[0].secure, true);
  const b = await sendMail(daemon.port, { from: 's@postrider.test', to: ['user@tst.test'], raw: 'Subject: testing\r\n\r\nuntrusted certificate\r\n' });
  await daemon.waitRemoved(b.queueId!);
  assert.equal(tst.messages.length, 1, 'testing mode delivers despite the certificate');
  assert.equal(fetches('mta-sts.enf.test'), 1);

  // The policy is cached in the queue directory: a restarted daemon does not fetch it again.
  await daemon.stop();
  await daemon.restart();
  const c = await sendMail(daemon.port, { from: 's@postrider.test', to: ['other@enf.test'], raw: 'Subject: again\r\n\r\nafter a restart\r\n' });
  await daemon.waitRemoved(c.queueId!);
  assert.equal(enf.messages.length, 2);
  assert.equal(fetches('mta-sts.enf.test'), 1, 'no second fetch after the restart');

  // Today's figures.
  await waitFor(async () => /enf\.test: successful=2 failed=0/.test((await daemon.cli(['tlsrpt', 'show'])).stdout), 10_000, 'tlsrpt show counts');
  const show = await daemon.cli(['tlsrpt', 'show']);
  assert.equal(show.code, 0);
  assert.match(show.stdout, new RegExp(`TLS sessions on ${dayOf(Date.now())} \\(UTC, so far\\)`));
  assert.match(show.stdout, /^tst\.test: successful=0 failed=1 \(certificate-not-trusted=1\)$/m);

  // Reports now: one mail to the mailto: rua per domain, one POST per domain.
  const sent = await daemon.cli(['tlsrpt', 'send', '--today']);
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  assert.match(sent.stdout, /enf\.test: mailto:tls-reports@reports\.test: queued/);
  assert.match(sent.stdout, /enf\.test: https:\/\/rua\.reports\.test\/v1\/tlsrpt: sent, HTTP 201/);
  await waitFor(() => reports.messages.length >= 2, 20_000, 'two report mails');
  const mails = reports.messages.map((m) => m.raw.toString('latin1'));
  const enfMail = mails.find((m) => /^TLS-Report-Domain: enf\.test$/m.test(m))!;
  assert.ok(enfMail, 'a report for enf.test');
  assert.deepEqual(reports.messages[0].rcptTo, ['tls-reports@reports.test']);
  assert.match(enfMail, /^Subject: Report Domain: enf\.test Submitter: mx\.postrider\.test Report-ID: <[^>]+>$/m);
  assert.match(enfMail, /^TLS-Report-Submitter: mx\.postrider\.test$/m);
  assert.match(enfMail, /^Content-Type: multipart\/report; report-type="tlsrpt"; boundary="/m);
  const report = reportOf(enfMail) as {
    'organization-name': string; 'contact-info': string; 'report-id': string;
    'date-range': { 'start-datetime': string; 'end-datetime': string };
    policies: Array<{ policy: Record<string, unknown>; summary: Record<string, number>; 'failure-details': Array<Record<string, string | number>> }>;
  };
  assert.equal(report['organization-name'], 'Postrider Test Org');
  assert.equal(report['contact-info'], 'tlsrpt-admin@postrider.test');
  assert.ok(report['report-id']);
  assert.equal(report['date-range']['start-datetime'], `${dayOf(Date.now())}T00:00:00Z`);
  assert.match(report['date-range']['end-datetime'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.deepEqual(report.policies[0].policy, {
    'policy-type': 'sts',
    'policy-string': ['version: STSv1', 'mode: enforce', 'mx: mx.enf.test', 'max_age: 604800'],
    'policy-domain': 'enf.test',
    'mx-host': ['mx.enf.test'],
  });
  assert.deepEqual(report.policies[0].summary, { 'total-successful-session-count': 2, 'total-failure-session-count': 0 });

  // The https: rua got the testing domain's report with its failure details.
  const posts = web.requests.filter((r) => r.host === 'rua.reports.test');
  assert.equal(posts.length, 2);
  assert.ok(posts.every((p) => p.method === 'POST' && p.path === '/v1/tlsrpt' && p.headers['content-type'] === 'application/tlsrpt+gzip'));
  const tstReport = posts.map((p) => JSON.parse(gunzipSync(p.body).toString('utf8')) as typeof report).find((r) => r.policies[0].policy['policy-domain'] === 'tst.test')!;
  assert.deepEqual(tstReport.policies[0].summary, { 'total-successful-session-count': 0, 'total-failure-session-count': 1 });
  assert.deepEqual(tstReport.policies[0]['failure-details'], [{
    'result-type': 'certificate-not-trusted',
    'sending-mta-ip': tstReport.policies[0]['failure-details'][0]['sending-mta-ip'],
    'receiving-mx-hostname': 'mx.tst.test',
    'receiving-ip': tst.host,
    'failed-session-count': 1,
    'failure-reason-code': 'Server certificate not verified',
  }]);
  assert.match(String(tstReport.policies[0]['failure-details'][0]['sending-mta-ip']), /^127\./);
  // The mailto: copy of the same report.
  assert.ok(mails.some((m) => /^TLS-Report-Domain: tst\.test$/m.test(m)));

  // A finished day goes once: the command line claims it; a second send finds nothing.
  await daemon.stop();
  const today = dayOf(Date.now());
  const yesterday = dayOf(Date.now() - 86400_000);
  renameSync(join(daemon.queueDir, 'tlsrpt', today), join(daemon.queueDir, 'tlsrpt', yesterday));
  const before = web.requests.length;
  const first = await daemon.cli(['tlsrpt', 'send']);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, new RegExp(`^${yesterday} enf\\.test: https://rua\\.reports\\.test/v1/tlsrpt: sent, HTTP 201$`, 'm'));
  const second = await daemon.cli(['tlsrpt', 'send']);
  assert.match(second.stdout, /no finished day left to report/);
  assert.equal(web.requests.length, before + 2, 'each domain posted once');
  // The mail copies waited in the maildrop for pickup.
  await daemon.restart();
  await waitFor(() => reports.messages.length >= 4, 20_000, 'the finished day\'s report mails');
});
