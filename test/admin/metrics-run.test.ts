/**
 * The metrics a running daemon exports, scraped over HTTP: connections
 * accepted and refused at a limit by service, TLS handshakes by version,
 * SASL successes and failures, the four delay stages as histograms, the
 * process metrics, and /healthz (200 while every actor runs, 503 with the
 * reason otherwise).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { freePort, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { makeTestCert } from '../helpers/tls-cert.js';
import { makeSaslTable } from '../helpers/sasl-table.js';
import { httpGet, parseExposition, sampleSum } from '../helpers/prometheus.js';
import { MetricsServer } from '../../src/admin/metrics-server.js';
import type { ActorStatus } from '../../src/supervisor/supervisor-types.js';

let sink: SmtpSink;
let daemon: RunningDaemon;
let metricsPort: number;
let submissionPort: number;
let limitedPort: number;

before(async () => {
  sink = await startSmtpSink();
  const cert = makeTestCert('localhost');
  const table = await makeSaslTable('alice@client.test', 'correct horse');
  metricsPort = await freePort();
  submissionPort = await freePort();
  limitedPort = await freePort();
  daemon = await startDaemon({
    params: {
      metrics_listen: `127.0.0.1:${metricsPort}`,
      relayhost: `[127.0.0.1]:${sink.port}`,
      smtpd_tls_cert_file: cert.certFile,
      smtpd_tls_key_file: cert.keyFile,
      smtpd_sasl_password_maps: `texthash:${table}`,
      mynetworks: '192.0.2.0/24',
    },
    masterExtra: [
      `127.0.0.1:${submissionPort} inet n - n - 1 smtpd`,
      '  -o smtpd_sasl_auth_enable=yes',
      '  -o smtpd_tls_security_level=encrypt',
      '  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject',
      `127.0.0.1:${limitedPort} inet n - n - 1 smtpd`,
      '  -o smtpd_client_connection_count_limit=1',
      '  -o smtpd_client_event_limit_exceptions=',
    ],
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

async function scrape(): Promise<ReturnType<typeof parseExposition>> {
  const r = await httpGet(metricsPort, '/metrics');
  assert.equal(r.status, 200, r.body);
  return parseExposition(r.body);
}

/** Opens a connection and waits for the server's first reply line. */
function greet(port: number): Promise<{ socket: Socket; banner: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', reject);
    socket.once('data', (d: Buffer) => resolve({ socket, banner: d.toString() }));
  });
}

test('connections, TLS, SASL and the delay stages are counted by service; process metrics come along', async () => {
  const submission = `127.0.0.1:${submissionPort}`;
  const limited = `127.0.0.1:${limitedPort}`;
  const tls = { rejectUnauthorized: false };
  const ok = await sendMail(submissionPort, { from: 'alice@client.test', to: ['friend@remote.test'], raw: 'Subject: m\r\n\r\nhi\r\n' }, { tls, auth: { user: 'alice@client.test', pass: 'correct horse' } });
  assert.match(ok.response, /^250 /);
  await assert.rejects(
    sendMail(submissionPort, { from: 'alice@client.test', to: ['friend@remote.test'], raw: 'Subject: x\r\n\r\nx\r\n' }, { tls, auth: { user: 'alice@client.test', pass: 'wrong' } }),
    /535/,
  );
  // The second connection from the same client is over smtpd_client_connection_count_limit = 1.
  const first = await greet(limitedPort);
  assert.match(first.banner, /^220 /);
  const second = await greet(limitedPort);
  assert.match(second.banner, /^421 /);
  first.socket.destroy();
  second.socket.destroy();
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('friend@remote.test')), 20_000, 'the relay of the submitted mail');
  await daemon.waitRemoved(ok.queueId!);

  const s = await scrape();
  assert.equal(sampleSum(s, 'postrider_smtpd_connections_total', { service: submission }), 2);
  assert.equal(sampleSum(s, 'postrider_smtpd_connections_total', { service: limited }), 2);
  assert.equal(sampleSum(s, 'postrider_smtpd_connections_refused_total', { service: limited, reason: 'connection_limit' }), 1);
  assert.equal(sampleSum(s, 'postrider_smtpd_connections_refused_total', { service: submission }), 0);
  assert.equal(sampleSum(s, 'postrider_smtpd_rejected_total', { service: limited, reason: 'connection_limit' }), 1);
  assert.equal(sampleSum(s, 'postrider_smtpd_tls_handshakes_total', { service: submission }), 2);
  assert.equal(sampleSum(s, 'postrider_smtpd_tls_handshakes_total', { service: submission, version: 'TLSv1.3' }), 2);
  assert.equal(sampleSum(s, 'postrider_smtpd_sasl_authentications_total', { service: submission, result: 'success' }), 1);
  assert.equal(sampleSum(s, 'postrider_smtpd_sasl_authentications_total', { service: submission, result: 'failure' }), 1);
  for (const stage of ['before_qmgr', 'in_qmgr', 'connection_setup', 'transmission']) {
    assert.equal(sampleSum(s, 'postrider_delivery_delay_seconds_count', { transport: 'smtp', stage }), 1, stage);
    assert.equal(sampleSum(s, 'postrider_delivery_delay_seconds_bucket', { transport: 'smtp', stage, le: '+Inf' }), 1, stage);
  }
  assert.ok(sampleSum(s, 'process_cpu_seconds_total') > 0, 'process CPU');
  assert.ok(sampleSum(s, 'process_resident_memory_bytes') > 0, 'process memory');
  assert.ok(s.has('nodejs_eventloop_lag_seconds'), 'event-loop lag');
});

test('/healthz answers 200 while every actor runs; 503 with the reason when not ready, an actor is down, or no status', async () => {
  const ok = await httpGet(metricsPort, '/healthz');
  assert.equal(ok.status, 200, ok.body);
  assert.match(ok.body, /^ok: \d+ actors running\n$/);
  assert.equal((await httpGet(metricsPort, '/healthz', 'HEAD')).status, 200);
  assert.equal((await httpGet(metricsPort, '/healthz', 'POST')).status, 405);
  // The same server on sources in the states a restart or a start-up passes through.
  const actor = (role: string, state: string): ActorStatus => ({ role, kind: 'daemon', instance: 1, service: null, threadId: 1, restarts: 0, uptimeSeconds: 1, state, load: 0 });
  const cases: Array<[() => Promise<{ actors: ActorStatus[]; ready?: boolean }>, number, RegExp]> = [
    [async () => ({ ready: true, actors: [actor('qmgr', 'running'), actor('discard', 'restarting')] }), 503, /^not serving: discard\[1\] restarting\n$/],
    [async () => ({ ready: false, actors: [actor('qmgr', 'running')] }), 503, /^not ready: /],
    [async () => Promise.reject(new Error('control socket gone')), 503, /^no status: control socket gone\n$/],
    [async () => ({ ready: true, actors: [actor('qmgr', 'running')] }), 200, /^ok: 1 actors running\n$/],
  ];
  for (const [status, code, body] of cases) {
    const port = await freePort();
    const server = new MetricsServer({ host: '127.0.0.1', port }, { status, callActor: (async () => ({})) as never, callBuiltin: (async () => ({})) as never });
    await server.listen();
    try {
      const r = await httpGet(port, '/healthz');
      assert.equal(r.status, code, r.body);
      assert.match(r.body, body);
    } finally {
      await server.close();
    }
  }
});
