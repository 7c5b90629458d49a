/**
 * append-throughput: durable appends per second through the queue store
 * (group commit) for 1 KiB and 64 KiB messages with 1, 16 and 256
 * concurrent submitters, with p50/p99 append latency, next to Postfix's
 * pattern on the same disk (a file per message: create, write, fsync,
 * rename, fsync of the directory), and the ratio between them.
 * For the journal it also shows the group-commit cycle: records per
 * flush, the mean fdatasync, and the mean time from one fdatasync's end to
 * the next one's start (encoding and writing while the disk is idle).
 * Each case runs about CASE_MS (env STORE_PERF_CASE_MS, default 2000) ms.
 */
import { mkdtemp, open, rename, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore, QueueIdGenerator } from '../../src/store/queue-store.js';
import { resetCounters, snapshot } from '../../src/util/metrics-counters.js';
import { message, percentile } from './append-via-thread-common.js';

const CASE_MS = Number(process.env.STORE_PERF_CASE_MS ?? 2000);

interface Result {
  perSecond: number;
  p50: number;
  p99: number;
  /** Journal only: records per flush, mean fdatasync ms, mean ms outside fdatasync per flush. */
  cycle?: { perFlush: number; syncMs: number; gapMs: number };
}

/** Runs `submitters` loops of `op` for CASE_MS and measures each call. */
async function drive(submitters: number, op: () => Promise<void>): Promise<Result> {
  const latencies: number[] = [];
  const start = performance.now();
  const stopAt = start + CASE_MS;
  await Promise.all(Array.from({ length: submitters }, async () => {
    while (performance.now() < stopAt) {
      const t = performance.now();
      await op();
      latencies.push(performance.now() - t);
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: latencies.length / elapsed, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

async function journalCase(base: string, size: number, submitters: number): Promise<Result> {
  const dir = await mkdtemp(join(base, 'journal-'));
  const store = await QueueStore.open(dir, { compactIntervalMs: 0 });
  const gen = new QueueIdGenerator(0);
  resetCounters();
  const flushes0 = store.stats.flushes;
  const records0 = store.stats.records;
  try {
    const t0 = performance.now();
    const r = await drive(submitters, async () => {
      await store.append(message(gen.next(), size));
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
  console.log(`durable appends, ${CASE_MS} ms per case, directory ${base}`);
  console.log('size    submitters  journal/s  p50 ms  p99 ms  | per-file/s  p50 ms  p99 ms  | ratio  | rec/flush  sync ms  gap ms');
  try {
    for (const size of [1024, 64 * 1024]) {
      for (const submitters of [1, 16, 256]) {
        const j = await journalCase(base, size, submitters);
        const f = await perFileCase(base, size, submitters);
        console.log(
          `${String(size / 1024).padStart(3)} KiB  ${String(submitters).padStart(10)}  ${fmt(j.perSecond).padStart(9)}  ${fmt(j.p50).padStart(6)}  ${fmt(j.p99).padStart(6)}  | ` +
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
