/**
 * append-throughput: durable appends per second through the queue store
 * (group commit) for 1 KiB and 64 KiB messages with 1, 16 and 256
 * concurrent submitters, with p50/p99 append latency, next to Postfix's
 * pattern on the same disk (a file per message: create, write, fsync,
 * rename, fsync of the directory), and the ratio between them.
 * For the journal it also shows the group-commit cycle: records per
 * flush, the mean fdatasync, and the mean time from one fdatasync's end to
 * the next one's start (encoding and writing while the disk is idle).
 * Each case warms up WARM_MS (env STORE_PERF_WARM_MS, default 500; JIT
 * warm-up, excluded from the figures as is standard) and then measures
 * CASE_MS (env STORE_PERF_CASE_MS, default 2000) ms; "p99 all" is the p99 of
 * every append, the warm-up's included.
 */
import { mkdtemp, open, rename, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore, QueueIdGenerator } from '../../src/store/queue-store.js';
import { resetCounters, snapshot } from '../../src/util/metrics-counters.js';
import { message, percentile } from './append-via-thread-common.js';

const CASE_MS = Number(process.env.STORE_PERF_CASE_MS ?? 2000);
const WARM_MS = Number(process.env.STORE_PERF_WARM_MS ?? 500);

interface Result {
  perSecond: number;
  p50: number;
  p99: number;
  /** p99 of every append, the warm-up's included. */
  p99All: number;
  /** Journal only: records per flush, mean fdatasync ms, mean ms outside fdatasync per flush. */
  cycle?: { perFlush: number; syncMs: number; gapMs: number };
}

/**
 * Runs `submitters` loops of `op` for WARM_MS + CASE_MS and measures each
 * call; `onMeasure` runs when the warm-up ends.
 */
async function drive(submitters: number, op: () => Promise<void>, onMeasure?: () => void): Promise<Result> {
  const latencies: number[] = [];
  const warm: number[] = [];
  const measureFrom = performance.now() + WARM_MS;
  const stopAt = measureFrom + CASE_MS;
  const mark = setTimeout(() => onMeasure?.(), WARM_MS);
  await Promise.all(Array.from({ length: submitters }, async () => {
    while (performance.now() < stopAt) {
      const t = performance.now();
      await op();
      (t >= measureFrom ? latencies : warm).push(performance.now() - t);
    }
  }));
  clearTimeout(mark);
  const count = latencies.length;
  latencies.sort((a, b) => a - b);
  const all = latencies.concat(warm).sort((a, b) => a - b);
  return { perSecond: count / (CASE_MS / 1000), p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), p99All: percentile(all, 0.99) };
}

async function journalCase(base: string, size: number, submitters: number): Promise<Result> {
  const dir = await mkdtemp(join(base, 'journal-'));
  const store = await QueueStore.open(dir, { compactIntervalMs: 0 });
  const gen = new QueueIdGenerator(0);
  let flushes0 = 0;
  let records0 = 0;
  let t0 = 0;
  try {
    const r = await drive(submitters, async () => {
      await store.append(message(gen.next(), size));
    }, () => {
      resetCounters();
      flushes0 = store.stats.flushes;
      records0 = store.stats.records;
      t0 = performance.now();
    });
    const elapsedMs = performance.now() - t0;
    const flushes = store.stats.flushes - flushes0;
    const sync = snapshot().histograms.journal_fsync_seconds?.series[''];
    const syncMs = sync && sync.count > 0 ? (sync.sum * 1000) / sync.count : NaN;
    r.cycle = { perFlush: (store.stats.records - records0) / flushes, syncMs, gapMs: elapsedMs / flushes - syncMs };
    return r;
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function perFileCase(base: string, size: number, submitters: number): Promise<Result> {
  const dir = await mkdtemp(join(base, 'perfile-'));
  const incoming = join(dir, 'incoming');
  const active = join(dir, 'active');
  await mkdir(incoming);
  await mkdir(active);
  const gen = new QueueIdGenerator(1);
  const body = Buffer.alloc(size, 0x61);
  try {
    return await drive(submitters, async () => {
      const id = gen.next();
      const tmp = join(incoming, id);
      const fh = await open(tmp, 'wx');
      await fh.write(body);
      await fh.sync();
      await fh.close();
      await rename(tmp, join(active, id));
      const d = await open(active, 'r');
      await d.sync();
      await d.close();
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(n >= 100 ? 0 : 2) : '-');

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'postrider-perf-'));
  console.log(`durable appends, ${WARM_MS} ms warm-up (excluded) then ${CASE_MS} ms measured per case, directory ${base}`);
  console.log('size    submitters  journal/s  p50 ms  p99 ms  p99 all  | per-file/s  p50 ms  p99 ms  | ratio  | rec/flush  sync ms  gap ms');
  try {
    for (const size of [1024, 64 * 1024]) {
      for (const submitters of [1, 16, 256]) {
        const j = await journalCase(base, size, submitters);
        const f = await perFileCase(base, size, submitters);
        console.log(
          `${String(size / 1024).padStart(3)} KiB  ${String(submitters).padStart(10)}  ${fmt(j.perSecond).padStart(9)}  ${fmt(j.p50).padStart(6)}  ${fmt(j.p99).padStart(6)}  ${fmt(j.p99All).padStart(7)}  | ` +
          `${fmt(f.perSecond).padStart(10)}  ${fmt(f.p50).padStart(6)}  ${fmt(f.p99).padStart(6)}  | ${(j.perSecond / f.perSecond).toFixed(1).padStart(5)}x | ` +
          `${fmt(j.cycle?.perFlush ?? NaN).padStart(9)}  ${fmt(j.cycle?.syncMs ?? NaN).padStart(7)}  ${fmt(j.cycle?.gapMs ?? NaN).padStart(6)}`,
        );
      }
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

await main();
