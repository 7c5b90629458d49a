/**
 * source-sink-ceiling: the harness's own ceiling. Runs the load generator
 * against the bench sink directly, in one process, and prints messages per
 * second for kept connections and one message per connection. No MTA can
 * look faster than this through the harness.
 *
 *   COUNT=20000 SESSIONS=16 SIZE=1024 MODE=both node <build>/perf/harness/source-sink-ceiling.js
 *
 * Exits non-zero with a one-line reason when a run loses, duplicates or
 * fails messages.
 */
import { startBenchSink } from './bench-sink.js';
import { runSource } from './smtp-source.js';
import { accountTokens } from './token-account.js';

const COUNT = Number(process.env.COUNT ?? 20_000);
const SESSIONS = Number(process.env.SESSIONS ?? 16);
const SIZE = Number(process.env.SIZE ?? 1024);
const MODE = process.env.MODE ?? 'both';

async function run(mode: 'kept' | 'per-connection'): Promise<void> {
  const sink = await startBenchSink({ expect: COUNT });
  try {
    // A short warm-up, so the JIT and the first connections are not counted.
    await runSource({ host: sink.host, port: sink.port, count: Math.min(2000, COUNT), sessions: SESSIONS, size: SIZE });
    sink.reset();
    const r = await runSource({
      host: sink.host, port: sink.port, count: COUNT, sessions: SESSIONS, size: SIZE,
      messagesPerConnection: mode === 'kept' ? 0 : 1,
    });
    await sink.whenAll(10_000);
    const account = accountTokens(r.accepted.map((a) => a.token), sink.tokens);
    const s = sink.stats();
    const rate = r.accepted.length / (r.elapsedMs / 1000);
    const lat = r.accepted.map((a) => a.latencyMs).sort((a, b) => a - b);
    const p = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? 0;
    console.log(
      `${mode.padEnd(14)} size=${SIZE} count=${COUNT} sessions=${SESSIONS}: ${rate.toFixed(0)} messages/s, ` +
      `${((s.bytes / (r.elapsedMs / 1000)) / 1048576).toFixed(1)} MiB/s, latency p50=${p(0.5).toFixed(2)} ms p99=${p(0.99).toFixed(2)} ms, ` +
      `connections=${r.connections}`,
    );
    if (r.errors.length || account.lost.length || account.duplicated.length || account.unexpected.length || s.messages !== COUNT) {
      console.error(`source-sink-ceiling: ${mode}: ${r.errors.length} errors, ${account.lost.length} lost, ${account.duplicated.length} duplicated, sink took ${s.messages} of ${COUNT}`);
      process.exitCode = 1;
    }
  } finally {
    await sink.close();
  }
}

if (MODE !== 'kept' && MODE !== 'per-connection' && MODE !== 'both') {
  console.error(`source-sink-ceiling: MODE must be kept, per-connection or both, not "${MODE}"`);
  process.exit(2);
}
if (MODE !== 'per-connection') await run('kept');
if (MODE !== 'kept') await run('per-connection');
