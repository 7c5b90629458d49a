/**
 * The Prometheus endpoint: metrics_listen parsing, the per-thread counters,
 * and the real daemon scraped over HTTP while it receives, relays, defers,
 * bounces and refuses mail, with the figures checked against what the next
 * hop (a sink) and the client saw, and counters that survive an actor's
 * restart.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { freePort, runCli, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { httpGet, parseExposition, sampleSum, type Samples } from '../helpers/prometheus.js';
import { parseMetricsListen, MetricsListenError } from '../../src/admin/metrics-listen.js';
import { count, emptySnapshot, label, mergeSnapshots, observe, resetCounters, snapshot } from '../../src/util/metrics-counters.js';

test('metrics_listen: host:port, [v6]:port and a bare port are read; bad values are one-line errors', () => {
  assert.equal(parseMetricsListen(''), undefined);
  assert.equal(parseMetricsListen('  '), undefined);
  assert.deepEqual(parseMetricsListen('127.0.0.1:9154'), { host: '127.0.0.1', port: 9154 });
  assert.deepEqual(parseMetricsListen('[::1]:9154'), { host: '::1', port: 9154 });
  assert.deepEqual(parseMetricsListen('localhost:80'), { host: 'localhost', port: 80 });
  assert.deepEqual(parseMetricsListen('9154'), { host: undefined, port: 9154 });
  for (const bad of ['127.0.0.1', '127.0.0.1:', '127.0.0.1:0', 'host:70000', '::1:9154', '[nothost]:1', 'a b:1', 'x:port']) {
    assert.throws(() => parseMetricsListen(bad), (err: unknown) => {
      assert.ok(err instanceof MetricsListenError, bad);
      assert.equal(err.code, 'ERR_METRICS_LISTEN');
      assert.match(err.message, /^metrics_listen = /);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  }
});

test('counters and fixed-bucket histograms snapshot and merge by name and labels', () => {
  resetCounters();
  count('recipients_delivered', { transport: 'smtp' });
  count('recipients_delivered', { transport: 'smtp' }, 2);
  count('recipients_delivered', label('transport', 'virtual'));
  assert.equal(label('transport', 'virtual'), label('transport', 'virtual'), 'one label object per value');
  assert.notEqual(label('transport', 'virtual'), label('transport', 'smtp'));
  count('recipients_expired');
  count('recipients_expired', undefined, Number.NaN);
  observe('journal_batch_records', 1);
  observe('journal_batch_records', 3);
  observe('journal_batch_records', 5000);
  const a = snapshot();
  assert.deepEqual(a.counters.recipients_delivered, { '{"transport":"smtp"}': 3, '{"transport":"virtual"}': 1 });
  assert.deepEqual(a.counters.recipients_expired, { '': 1 });
  const h = a.histograms.journal_batch_records;
  assert.equal(h.buckets[0], 1);
  const s = h.series[''];
  assert.equal(s.count, 3);
  assert.equal(s.sum, 5004);
  assert.equal(s.counts[0], 1, '1 falls in le=1');
  assert.equal(s.counts[2], 1, '3 falls in le=4');
  assert.equal(s.counts[s.counts.length - 1], 1, '5000 falls in +Inf');
  const total = mergeSnapshots(mergeSnapshots(emptySnapshot(), a), a);
  assert.equal(total.counters.recipients_delivered['{"transport":"smtp"}'], 6);
  assert.equal(total.histograms.journal_batch_records.series[''].count, 6);
  // a snapshot is a copy: later counts do not change it
  count('recipients_expired');
  assert.deepEqual(a.counters.recipients_expired, { '': 1 });
  resetCounters();
  assert.deepEqual(snapshot().counters, {});
});

// ---- the real daemon ----

let sink: SmtpSink;
let daemon: RunningDaemon;
let metricsPort: number;
/** A next hop that accepts TCP and never greets: a delivery to it stays in progress. */
let silent: Server;
const silentSockets = new Set<Socket>();
const sinkReplies = { deferred: 0, bounced: 0 };

before(async () => {
  sink = await startSmtpSink({
    rcpt: (to) => {
      if (to.startsWith('later@')) {
        sinkReplies.deferred++;
        return { code: 451, message: '4.3.2 try again later' };
      }
      if (to.startsWith('nobody@')) {
        sinkReplies.bounced++;
        return { code: 550, message: '5.1.1 <' + to + '>: Recipient address rejected' };
      }
      return null;
    },
  });
  silent = createServer((sock) => {
    silentSockets.add(sock);
    sock.on('error', () => undefined);
    sock.on('close', () => silentSockets.delete(sock));
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const silentPort = (silent.address() as { port: number }).port;
  metricsPort = await freePort();
  daemon = await startDaemon({
    params: {
      metrics_listen: `127.0.0.1:${metricsPort}`,
      relayhost: `[127.0.0.1]:${sink.port}`,
      relay_domains: 'remote.test, client.test, silent.test',
      transport_maps: `inline:{ silent.test=smtp:[127.0.0.1]:${silentPort} }`,
      message_size_limit: '4000',
      // no permit_mynetworks: a recipient outside relay_domains meets "Relay access denied"
      smtpd_recipient_restrictions: 'check_recipient_access inline:{ reject@remote.test=REJECT }, reject_unauth_destination',
    },
  });
});

after(async () => {
  const closed = new Promise((r) => silent?.close(r));
  for (const sock of silentSockets) sock.destroy();
  await closed;
  await daemon?.stop();
  await sink?.close();
});

const value = sampleSum;

async function scrape(): Promise<Samples> {
  const r = await httpGet(metricsPort, '/metrics');
  assert.equal(r.status, 200, r.body);
  assert.match(r.type, /^text\/plain/);
  return parseExposition(r.body);
}

/** Recipients the sink took (each delivered recipient exactly once, the bounce notice included). */
function sinkDelivered(): number {
  return sink.messages.filter((m) => !m.refused).reduce((n, m) => n + m.rcptTo.length, 0);
}

const raw = (n: number, extra = ''): string => `From: a@client.test\r\nSubject: metrics ${n}\r\nMessage-ID: <metrics.${n}@client.test>\r\n\r\nbody ${n}\r\n${extra}`;

test('the endpoint answers GET /metrics only, and the daemon scrape shows every family', async () => {
  await waitFor(async () => (await httpGet(metricsPort, '/metrics').catch(() => ({ status: 0 }))).status === 200, 10_000, 'the metrics listener');
  assert.equal((await httpGet(metricsPort, '/')).status, 404);
  assert.equal((await httpGet(metricsPort, '/metrics', 'POST')).status, 405);
  const text = (await httpGet(metricsPort, '/metrics')).body;
  for (const family of [
    'postrider_messages_received_total counter',
    'postrider_recipients_delivered_total counter',
    'postrider_recipients_deferred_total counter',
    'postrider_recipients_bounced_total counter',
    'postrider_smtpd_rejected_total counter',
    'postrider_queue_messages gauge',
    'postrider_queue_oldest_message_age_seconds gauge',
    'postrider_destination_active_deliveries gauge',
    'postrider_delivery_latency_seconds histogram',
    'postrider_journal_batch_records histogram',
    'postrider_journal_fsync_seconds histogram',
    'postrider_actor_restarts_total counter',
  ]) {
    assert.ok(text.includes(`# TYPE ${family}\n`), `exports ${family}`);
  }
  const s = parseExposition(text);
  assert.equal(value(s, 'postrider_scrape_errors'), 0, 'every actor answered');
  assert.equal(value(s, 'postrider_actors_running', { role: 'journal' }), 1);
  // The delivery agents start on demand: before any mail none of them runs.
  assert.equal(value(s, 'postrider_actors_running', { role: 'smtp' }), 0, 'the smtp and relay services wait on demand');
  assert.equal(value(s, 'postrider_queue_messages'), 0, 'an empty queue');
});

test('counts move with the mail and match what the client and the next hop saw, across an actor restart', async () => {
  const before = await scrape();
  assert.equal(value(before, 'postrider_messages_received_total'), 0);

  // Five accepted messages: two good recipients, one the next hop defers, one it refuses, one good plus one refused at RCPT.
  const sends = [
    { to: ['ok1@remote.test', 'ok2@remote.test'] },
    { to: ['later@remote.test'] },
    { to: ['nobody@remote.test'] },
    { to: ['ok3@remote.test', 'reject@remote.test'] },
    { to: ['ok4@remote.test', 'someone@elsewhere.test'] },
  ];
  const ids: string[] = [];
  let refusedAtRcpt = 0;
  for (const [i, m] of sends.entries()) {
    const r = await sendMail(daemon.port, { from: 'a@client.test', to: m.to, raw: raw(i) });
    assert.match(r.response, /^250 /);
    refusedAtRcpt += r.rejected.length;
    ids.push(r.queueId!);
  }
  assert.equal(refusedAtRcpt, 2);
  // Too big for message_size_limit: refused after DATA.
  await assert.rejects(sendMail(daemon.port, { from: 'a@client.test', to: ['ok5@remote.test'], raw: raw(9, 'x'.repeat(70) + '\r\n'.repeat(1) + ('y'.repeat(70) + '\r\n').repeat(80)) }), /552/);

  // Every delivery and the bounce notice to a@client.test reach the sink; the deferred one is retried.
  await waitFor(() => sinkDelivered() === 5 && sinkReplies.bounced === 1 && sinkReplies.deferred >= 1, 20_000, 'deliveries at the sink');
  let s: Samples = new Map();
  await waitFor(async () => {
    const deferredSeen = sinkReplies.deferred;
    s = await scrape();
    return value(s, 'postrider_recipients_delivered_total') === sinkDelivered() && value(s, 'postrider_recipients_deferred_total') === deferredSeen;
  }, 20_000, 'delivered and deferred to match the sink');

  assert.equal(value(s, 'postrider_messages_received_total', { source: 'smtpd' }), ids.length, 'received = messages the client got 250 for');
  assert.equal(value(s, 'postrider_messages_received_total', { source: 'bounce' }), 1, 'one bounce notice queued');
  assert.equal(value(s, 'postrider_recipients_delivered_total', { transport: 'relay' }), 5, 'four relayed recipients and the bounce notice');
  assert.equal(value(s, 'postrider_recipients_bounced_total', { transport: 'relay' }), sinkReplies.bounced);
  assert.ok(value(s, 'postrider_recipients_deferred_total', { transport: 'relay' }) >= 1);
  assert.equal(value(s, 'postrider_smtpd_rejected_total', { reason: 'recipient_rejected' }), 1, 'the access table REJECT');
  assert.equal(value(s, 'postrider_smtpd_rejected_total', { reason: 'relay_access_denied' }), 1);
  assert.equal(value(s, 'postrider_smtpd_rejected_total', { reason: 'size' }), 1);
  assert.equal(value(s, 'postrider_delivery_latency_seconds_count', { transport: 'relay' }), 5, 'one latency sample per delivered recipient');
  assert.equal(value(s, 'postrider_delivery_latency_seconds_bucket', { transport: 'relay', le: '+Inf' }), 5);
  const batches = value(s, 'postrider_journal_batch_records_count');
  assert.ok(batches >= 1, 'journal flushes observed');
  assert.ok(value(s, 'postrider_journal_batch_records_sum') >= ids.length + 1, 'every received message went through a flush');
  assert.equal(value(s, 'postrider_journal_fsync_seconds_count'), batches, 'one fsync timing per flush');
  // Once qmgr has recorded the outcomes (just after the agents counted them), only the deferred message is left.
  await waitFor(async () => value((s = await scrape()), 'postrider_queue_messages') === 1, 10_000, 'one message left in the queue');
  assert.equal(value(s, 'postrider_queue_messages', { state: 'deferred' }) + value(s, 'postrider_queue_messages', { state: 'active' }), 1);
  assert.ok(value(s, 'postrider_queue_oldest_message_age_seconds') > 0);

  // Hold it: the gauge moves and retries stop, so the counters settle.
  const held = await daemon.cli(['queue', 'hold', ids[1]]);
  assert.equal(held.code, 0, held.stderr);
  await waitFor(async () => value((s = await scrape()), 'postrider_queue_messages', { state: 'hold' }) === 1, 10_000, 'the hold gauge');
  await waitFor(async () => {
    const seen = sinkReplies.deferred;
    await new Promise((r) => setTimeout(r, 300));
    s = await scrape();
    return seen === sinkReplies.deferred && value(s, 'postrider_recipients_deferred_total') === seen;
  }, 10_000, 'deferrals to settle');
  const settled = s;
  const smtpAgents = value(s, 'postrider_actors_running', { role: 'smtp' });

  // An smtp agent dies; its replacement starts from zero, the exported counters do not step back.
  // The one that delivered: the relay service's, started on demand.
  const status = JSON.parse((await daemon.cli(['status', '--json'])).stdout) as { actors: Array<{ role: string; instance: number; service: string; state: string }> };
  const relay = status.actors.find((a) => a.role === 'smtp' && a.service === 'relay' && a.state === 'running')!;
  const f = await daemon.cli(['fault', 'smtp', String(relay.instance), 'exit']);
  assert.equal(f.code, 0, f.stderr);
  await waitFor(async () => value((s = await scrape()), 'postrider_actor_restarts_total', { role: 'smtp' }) === 1, 15_000, 'the restart counted');
  assert.equal(value(s, 'postrider_actor_restarts_total', { role: 'qmgr' }), 0);
  for (const name of ['postrider_recipients_delivered_total', 'postrider_recipients_deferred_total', 'postrider_recipients_bounced_total', 'postrider_messages_received_total']) {
    assert.ok(value(s, name) >= value(settled, name), `${name} did not step back after the restart`);
  }
  await waitFor(async () => value((s = await scrape()), 'postrider_actors_running', { role: 'smtp' }) === smtpAgents, 15_000, 'every smtp agent running');

  // More mail after the restart adds on top of what was counted before.
  for (let i = 0; i < 4; i++) {
    const r = await sendMail(daemon.port, { from: 'a@client.test', to: [`after${i}@remote.test`], raw: raw(20 + i) });
    assert.match(r.response, /^250 /);
  }
  await waitFor(() => sinkDelivered() === 9, 20_000, 'the later deliveries');
  await waitFor(async () => value((s = await scrape()), 'postrider_recipients_delivered_total') === 9, 10_000, 'delivered counted across the restart');
  assert.equal(value(s, 'postrider_recipients_delivered_total'), value(settled, 'postrider_recipients_delivered_total') + 4);
  assert.equal(value(s, 'postrider_messages_received_total', { source: 'smtpd' }), ids.length + 4);
  assert.equal(value(s, 'postrider_recipients_deferred_total'), value(settled, 'postrider_recipients_deferred_total'));
  assert.equal(value(s, 'postrider_recipients_bounced_total'), 1);
  assert.equal(value(s, 'postrider_scrape_errors'), 0);
});

test('start-fg refuses a bad metrics_listen, and an address in use, with one line and exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-metrics-'));
  const configDir = join(dir, 'etc');
  mkdirSync(configDir);
  const mainCf = readFileSync(join(daemon.configDir, 'main.cf'), 'utf8')
    .split('\n')
    .filter((l) => !/^(queue_directory|maillog_file|metrics_listen) =/.test(l))
    .join('\n');
  const master = readFileSync(join(daemon.configDir, 'master.cf'), 'utf8').replace(/^127\.0\.0\.1:\d+ inet/m, `127.0.0.1:${await freePort()} inet`);
  writeFileSync(join(configDir, 'master.cf'), master);
  const write = (listen: string): void =>
    writeFileSync(join(configDir, 'main.cf'), `${mainCf}\nqueue_directory = ${join(dir, 'spool')}\nmaillog_file = ${join(dir, 'maillog')}\nmetrics_listen = ${listen}\n`);

  write('127.0.0.1:notaport');
  let r = await runCli(configDir, ['start-fg']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^postrider: fatal: metrics_listen = 127\.0\.0\.1:notaport: bad port "notaport"/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);

  // the running daemon holds this port
  write(`127.0.0.1:${metricsPort}`);
  r = await runCli(configDir, ['start-fg']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /postrider: fatal: metrics_listen: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  // and the first daemon's endpoint still answers
  assert.equal((await httpGet(metricsPort, '/metrics')).status, 200);
});

test('a delivery in progress shows in the per-destination gauge until it ends', async () => {
  const r = await sendMail(daemon.port, { from: 'a@client.test', to: ['who@silent.test'], raw: raw(40) });
  assert.match(r.response, /^250 /);
  const port = String((silent.address() as { port: number }).port);
  const busy = (s: Samples): number => (s.get('postrider_destination_active_deliveries') ?? []).filter((x) => x.labels.nexthop?.includes(port)).reduce((n, x) => n + x.value, 0);
  let s: Samples = new Map();
  await waitFor(async () => busy((s = await scrape())) === 1, 10_000, 'the silent destination busy');
  assert.ok(value(s, 'postrider_qmgr_active_messages') >= 1);
  // The next hop drops the connection: the attempt is deferred and the destination idle again.
  const deferredBefore = value(s, 'postrider_recipients_deferred_total', { transport: 'smtp' });
  await waitFor(() => silentSockets.size > 0, 10_000, 'the connection to the silent next hop');
  for (const sock of silentSockets) sock.destroy();
  await waitFor(async () => busy((s = await scrape())) === 0 && value(s, 'postrider_recipients_deferred_total', { transport: 'smtp' }) > deferredBefore, 10_000, 'the destination idle');
});
