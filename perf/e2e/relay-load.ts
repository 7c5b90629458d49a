/**
 * relay-load: the end-to-end load harness. It starts an SMTP sink and the
 * real daemon relaying to it (relayhost), then sends COUNT messages of SIZE
 * bytes from CONCURRENCY clients, either many messages per connection or one
 * per connection, and reports:
 *   accept rate: messages/s that got 250 (durable in the queue),
 *   relay rate:  messages/s from the first send until the sink had them all.
 * Run: npm run build && node dist/perf/e2e/relay-load.js
 * Env: COUNT (2000), CONCURRENCY (16), SIZE (1024), MODE (kept|per-connection|both),
 *      DELIVERY (relay|discard: discard measures the path into the queue and
 *      out through qmgr without the outbound SMTP leg).
 */
import { startSmtpSink } from '../../test/helpers/smtp-sink.js';
import { startDaemon } from '../../test/helpers/daemon.js';
import { LoadClient, makeBody } from './load-client.js';
import { percentile } from '../store/append-via-thread-common.js';

const COUNT = Number(process.env.COUNT ?? 2000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const SIZE = Number(process.env.SIZE ?? 1024);
const MODE = process.env.MODE ?? 'both';
const DISCARD = process.env.DELIVERY === 'discard';

async function runMode(perConnection: boolean): Promise<void> {
  const sink = await startSmtpSink();
  const daemon = await startDaemon({
    params: {
      ...(DISCARD ? { default_transport: 'discard:load test' } : { relayhost: `[127.0.0.1]:${sink.port}` }),
      default_destination_concurrency_limit: '20',
      smtp_connection_cache_time_limit: '5s',
    },
  });
  const body = makeBody(SIZE, 0);
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    let client = perConnection ? undefined : await LoadClient.open(daemon.port);
    while (next < COUNT) {
      next++;
      if (perConnection) client = await LoadClient.open(daemon.port);
      const s = performance.now();
      await client!.send('load@client.test', ['sink@relay.test'], body);
      latencies.push(performance.now() - s);
      if (perConnection) await client!.quit();
    }
    if (!perConnection) await client!.quit();
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const t1 = performance.now();
  const deadline = Date.now() + 120_000;
  const done = async (): Promise<number> => {
    if (!DISCARD) return sink.messages.length;
    const q = await daemon.cli(['status', '--json']);
    const total = (JSON.parse(q.stdout) as { queue?: { total?: number } }).queue?.total ?? 1;
    return total === 0 ? COUNT : 0;
  };
  while ((await done()) < COUNT && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const t2 = performance.now();
  latencies.sort((a, b) => a - b);
  const label = perConnection ? 'one message per connection' : `many per connection (${CONCURRENCY} connections)`;
  console.log(`${label}: ${COUNT} x ${SIZE} B, ${CONCURRENCY} clients`);
  console.log(`  accept: ${(COUNT / ((t1 - t0) / 1000)).toFixed(0)} msg/s  (250 latency p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms)`);
  if (DISCARD) console.log(`  through the queue to discard: ${(COUNT / ((t2 - t0) / 1000)).toFixed(0)} msg/s (queue empty after ${((t2 - t0) / 1000).toFixed(1)} s)`);
  else console.log(`  relay:  ${(sink.messages.length / ((t2 - t0) / 1000)).toFixed(0)} msg/s end to end; sink got ${sink.messages.length}/${COUNT} over ${sink.connections} connections`);
  await daemon.stop();
  await sink.close();
}

if (MODE === 'kept' || MODE === 'both') await runMode(false);
if (MODE === 'per-connection' || MODE === 'both') await runMode(true);
