/**
 * append-tail: the append latency tail of the queue store alone, in one
 * thread: closed-loop submitters (default 256) append messages (default
 * 1 KiB) for CASE_MS after a warm-up, in a fresh store per round. For each
 * round it prints appends/s, p50/p99/p99.9/max of the appends that started
 * after the warm-up (JIT warm-up excluded, as is standard) and the p99 of
 * every append including the warm-up, records per flush, the garbage
 * collector's pauses in the measured window (scavenges and mark-sweeps:
 * count and longest), and the event loop's delay p99. Run several rounds
 * and compare builds alternately (A B A B): this machine is noisy.
 *
 * Env: STORE_PERF_CASE_MS (3000), STORE_PERF_WARM_MS (500), STORE_PERF_ROUNDS (3),
 * STORE_PERF_SUBMITTERS (256), STORE_PERF_SIZE (1024).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver, performance, type PerformanceEntry } from 'node:perf_hooks';
import { QueueStore, QueueIdGenerator } from '../../src/store/queue-store.js';
import { message, percentile } from './append-via-thread-common.js';

const CASE_MS = Number(process.env.STORE_PERF_CASE_MS ?? 3000);
const WARM_MS = Number(process.env.STORE_PERF_WARM_MS ?? 500);
const ROUNDS = Number(process.env.STORE_PERF_ROUNDS ?? 3);
const SUBMITTERS = Number(process.env.STORE_PERF_SUBMITTERS ?? 256);
const SIZE = Number(process.env.STORE_PERF_SIZE ?? 1024);

/** GC pauses seen in a window: [count, longest ms] by kind. */
interface GcSeen {
  minor: number;
  minorMax: number;
  major: number;
  majorMax: number;
}

let gcWindow: { from: number; seen: GcSeen } | undefined;
const gcObserver = new PerformanceObserver((list) => {
  const w = gcWindow;
  if (!w) return;
  for (const e of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[]) {
    if (e.startTime < w.from) continue;
    // kind 1 = minor (scavenge); 2 = major, 4 = incremental, 8 = weak callbacks.
    if (e.detail?.kind === 1) {
      w.seen.minor++;
      w.seen.minorMax = Math.max(w.seen.minorMax, e.duration);
    } else {
      w.seen.major++;
      w.seen.majorMax = Math.max(w.seen.majorMax, e.duration);
    }
  }
});
gcObserver.observe({ entryTypes: ['gc'] });

async function round(base: string, n: number): Promise<void> {
  const dir = await mkdtemp(join(base, 'tail-'));
  const store = await QueueStore.open(dir, { compactIntervalMs: 0 });
  const gen = new QueueIdGenerator(n % 60);
  // Preallocated: the bench's own bookkeeping should not feed the collector.
  const cap = 4_000_000;
  const startAt = new Float64Array(cap);
  const took = new Float64Array(cap);
  let count = 0;
  const start = performance.now();
  const measureFrom = start + WARM_MS;
  const end = measureFrom + CASE_MS;
  const seen: GcSeen = { minor: 0, minorMax: 0, major: 0, majorMax: 0 };
  gcWindow = { from: measureFrom, seen };
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let flushes0 = 0;
  let records0 = 0;
  const mark = setTimeout(() => {
    delay.enable();
    flushes0 = store.stats.flushes;
    records0 = store.stats.records;
  }, WARM_MS);
  try {
    await Promise.all(Array.from({ length: SUBMITTERS }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await store.append(message(gen.next(), SIZE));
        if (count < cap) {
          startAt[count] = t;
          took[count++] = performance.now() - t;
        }
      }
    }));
  } finally {
    clearTimeout(mark);
    delay.disable();
    gcWindow = undefined;
  }
  const flushes = store.stats.flushes - flushes0;
  const records = store.stats.records - records0;
  await store.close();
  await rm(dir, { recursive: true, force: true });
  const all = took.slice(0, count).sort();
  const measured: number[] = [];
  for (let i = 0; i < count; i++) if (startAt[i] >= measureFrom) measured.push(took[i]);
  const m = Float64Array.from(measured).sort();
  const f = (v: number): string => v.toFixed(2).padStart(6);
  console.log(
    `${String(n).padStart(5)} ${String(Math.round(m.length / (CASE_MS / 1000))).padStart(9)} ${f(percentile(m, 0.5))} ${f(percentile(m, 0.99))} ` +
    `${f(percentile(m, 0.999))} ${f(m[m.length - 1] ?? NaN)} | ${f(percentile(all, 0.99))} | ${(records / Math.max(1, flushes)).toFixed(0).padStart(9)} | ` +
    `${String(seen.minor).padStart(4)} ${f(seen.minorMax)} ${String(seen.major).padStart(5)} ${f(seen.majorMax)} | ${f(delay.percentile(99) / 1e6)}`,
  );
}

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'postrider-tail-'));
  console.log(`${SUBMITTERS} submitters x ${SIZE} B, warm-up ${WARM_MS} ms excluded, then ${CASE_MS} ms measured; latencies in ms`);
  console.log('round  appends/s    p50    p99  p99.9    max | p99 with warm-up | rec/flush | scav   max  msweep  max | loop delay p99');
  try {
    for (let n = 1; n <= ROUNDS; n++) await round(base, n);
  } finally {
    gcObserver.disconnect();
    await rm(base, { recursive: true, force: true });
  }
}

await main();
