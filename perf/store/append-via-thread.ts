/**
 * append-via-thread: durable append latency as the daemon's callers see it.
 * The store runs alone in a worker thread (as in the journal actor) and the
 * submitters run in the main thread (as smtpd does in its own thread): each
 * append is a postMessage of { id, message } and the reply { id } comes
 * after store.append has resolved (after fdatasync). Latency is measured in
 * the main thread from post to reply. The same figures are measured with
 * the store in the submitters' own thread, for comparison in one run.
 *
 * 1 KiB messages; 1, 16 and 256 closed-loop submitters; each case warms up
 * WARMUP_MS then measures CASE_MS (env STORE_PERF_CASE_MS, default 3000).
 *
 * Under each case, the tail: the fdatasyncs of the measured window
 * (p50/p99/max), the time between them, how busy each thread's event loop
 * was, and for the appends at or over the case's p99 the mean time
 * spent posting to the store's thread, waiting in the store inside an
 * fdatasync, waiting in the store outside one, and getting the reply back,
 * next to the same means over all appends; and how many of those slow
 * appends overlapped one of the window's slowest fdatasyncs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { QueueStore, QueueIdGenerator } from '../../src/store/queue-store.js';
import type { NewMessage } from '../../src/store/store-types.js';
import { message, now, percentile, recordSyncs } from './append-via-thread-common.js';

const SIZE = 1024;
const WARMUP_MS = 500;
const CASE_MS = Number(process.env.STORE_PERF_CASE_MS ?? 3000);
const SUBMITTERS = [1, 16, 256];

/** One measured case: per append (by id) post/reply in this thread and arrival/resolution at the store. */
interface Run {
  mode: 'worker' | 'same';
  submitters: number;
  from: number;
  to: number;
  ids: number[];
  posted: number[];
  replied: number[];
  /** Indexed by id; NaN when not known. */
  received: Float64Array;
  resolved: Float64Array;
  /** Flat triples: kind (0 fdatasync, 1 fsync), start, end. */
  syncs: number[];
  flushes: number;
  records: number;
  /** Event-loop utilization over the case (warm-up included) of the store's thread and of the submitters' thread. */
  storeElu: number;
  submitterElu: number;
}

/** Runs `submitters` closed loops of `op`; records the appends posted after the warm-up. */
async function drive(submitters: number, op: (id: number) => Promise<void>): Promise<Pick<Run, 'from' | 'to' | 'ids' | 'posted' | 'replied'> & { issued: number }> {
  const ids: number[] = [];
  const posted: number[] = [];
  const replied: number[] = [];
  let next = 0;
  const from = now() + WARMUP_MS;
  const to = from + CASE_MS;
  await Promise.all(Array.from({ length: submitters }, async () => {
    for (;;) {
      const t = now();
      if (t >= to) return;
      const id = next++;
      await op(id);
      if (t >= from) {
        ids.push(id);
        posted.push(t);
        replied.push(now());
      }
    }
  }));
  return { from, to, ids, posted, replied, issued: next };
}

async function threadCase(base: string, submitters: number): Promise<Run> {
  const dir = await mkdtemp(join(base, 'thread-'));
  const worker = new Worker(new URL('./append-via-thread-worker.js', import.meta.url), { workerData: { dir } });
  const pending = new Map<number, () => void>();
  let control: ((m: Record<string, unknown>) => void) | undefined;
  const nextControl = () => new Promise<Record<string, unknown>>((resolve) => { control = resolve; });
  worker.on('message', (m: { id?: number; error?: string; control?: string }) => {
    if (m.control !== undefined) {
      control?.(m as Record<string, unknown>);
      return;
    }
    if (m.error !== undefined) throw new Error(`append ${m.id}: ${m.error}`);
    const done = pending.get(m.id as number);
    pending.delete(m.id as number);
    done?.();
  });
  const failed = new Promise<never>((_, reject) => worker.once('error', reject));
  try {
    await Promise.race([nextControl(), failed]);
    const gen = new QueueIdGenerator(0);
    const op = (id: number): Promise<void> => new Promise<void>((resolve) => {
      pending.set(id, resolve);
      const request: { id: number; message: NewMessage } = { id, message: message(gen.next(), SIZE) };
      worker.postMessage(request);
    });
    const wElu = worker.performance.eventLoopUtilization();
    const mElu = performance.eventLoopUtilization();
    const d = await Promise.race([drive(submitters, op), failed]);
    const storeElu = worker.performance.eventLoopUtilization(wElu).utilization;
    const submitterElu = performance.eventLoopUtilization(mElu).utilization;
    const reported = nextControl();
    worker.postMessage({ control: 'report' });
    const r = (await Promise.race([reported, failed])) as { trace: number[]; syncs: number[]; flushes: number; records: number };
    const received = new Float64Array(d.issued).fill(NaN);
    const resolved = new Float64Array(d.issued).fill(NaN);
    for (let i = 0; i < r.trace.length; i += 3) {
      received[r.trace[i]] = r.trace[i + 1];
      resolved[r.trace[i]] = r.trace[i + 2];
    }
    const closed = nextControl();
    worker.postMessage({ control: 'close' });
    await Promise.race([closed, failed]);
    return { mode: 'worker', submitters, ...d, received, resolved, syncs: r.syncs, flushes: r.flushes, records: r.records, storeElu, submitterElu };
  } finally {
    await worker.terminate();
    await rm(dir, { recursive: true, force: true });
  }
}

async function sameThreadCase(base: string, submitters: number): Promise<Run> {
  const dir = await mkdtemp(join(base, 'same-'));
  const syncLog = await recordSyncs(dir);
  const store = await QueueStore.open(dir, { compactIntervalMs: 0 });
  const gen = new QueueIdGenerator(1);
  try {
    syncLog.take();
    const mElu = performance.eventLoopUtilization();
    const d = await drive(submitters, async () => {
      await store.append(message(gen.next(), SIZE));
    });
    const elu = performance.eventLoopUtilization(mElu).utilization;
    // The store is in this thread: it receives when posted and resolves when replied.
    const received = new Float64Array(d.issued).fill(NaN);
    const resolved = new Float64Array(d.issued).fill(NaN);
    for (let i = 0; i < d.ids.length; i++) {
      received[d.ids[i]] = d.posted[i];
      resolved[d.ids[i]] = d.replied[i];
    }
    return { mode: 'same', submitters, ...d, received, resolved, syncs: syncLog.take(), flushes: store.stats.flushes, records: store.stats.records,
      storeElu: elu, submitterElu: elu };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '-');

/** Time [a, b] shares with the fdatasyncs in `starts`/`ends` (sorted by start), and the longest of them. */
function syncOverlap(starts: number[], ends: number[], a: number, b: number): { inside: number; longest: number } {
  let inside = 0;
  let longest = 0;
  // Syncs do not overlap each other (one writer), so ends are sorted too.
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid] < a) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < starts.length && starts[i] < b; i++) {
    inside += Math.min(b, ends[i]) - Math.max(a, starts[i]);
    longest = Math.max(longest, ends[i] - starts[i]);
  }
  return { inside, longest };
}

function report(run: Run): void {
  const n = run.ids.length;
  const lat = new Float64Array(n);
  for (let i = 0; i < n; i++) lat[i] = run.replied[i] - run.posted[i];
  const sorted = Float64Array.from(lat).sort();
  const p99 = percentile(sorted, 0.99);
  console.log(
    `${run.mode.padEnd(8)}  ${String(run.submitters).padStart(10)}  ${((n * 1000) / CASE_MS).toFixed(0).padStart(9)}  ` +
    `${f2(percentile(sorted, 0.5)).padStart(6)}  ${f2(p99).padStart(6)}  ${f2(percentile(sorted, 0.999)).padStart(7)}  ${f2(sorted[n - 1]).padStart(7)}`,
  );

  // The fdatasyncs (kind 0) of the whole case, and those that ended in the measured window.
  const starts: number[] = [];
  const ends: number[] = [];
  let fsyncs = 0;
  let fsyncMax = 0;
  for (let i = 0; i < run.syncs.length; i += 3) {
    if (run.syncs[i] === 0) {
      starts.push(run.syncs[i + 1]);
      ends.push(run.syncs[i + 2]);
    } else if (run.syncs[i + 2] >= run.from && run.syncs[i + 1] <= run.to) {
      fsyncs++;
      fsyncMax = Math.max(fsyncMax, run.syncs[i + 2] - run.syncs[i + 1]);
    }
  }
  const windowSyncs: number[] = [];
  for (let i = 0; i < starts.length; i++) if (ends[i] >= run.from && ends[i] <= run.to) windowSyncs.push(ends[i] - starts[i]);
  const sortedSyncs = Float64Array.from(windowSyncs).sort();
  // Disk idle between one fdatasync's end and the next one's start: encoding, writing, messaging.
  const gaps: number[] = [];
  for (let i = 1; i < starts.length; i++) if (ends[i] >= run.from && ends[i] <= run.to) gaps.push(starts[i] - ends[i - 1]);
  const sortedGaps = Float64Array.from(gaps).sort();
  const syncing = windowSyncs.reduce((a, b) => a + b, 0);
  const syncP99 = percentile(sortedSyncs, 0.99);
  console.log(
    `             fdatasync: ${windowSyncs.length} in window (${f2(windowSyncs.length > 0 ? n / windowSyncs.length : NaN)} appends each), ` +
    `p50 ${f2(percentile(sortedSyncs, 0.5))}  p99 ${f2(syncP99)}  max ${f2(sortedSyncs[sortedSyncs.length - 1])} ms; ` +
    `segment fsyncs ${fsyncs}${fsyncs > 0 ? ` (max ${f2(fsyncMax)} ms)` : ''}`,
  );
  console.log(
    `             between fdatasyncs: p50 ${f2(percentile(sortedGaps, 0.5))}  p99 ${f2(percentile(sortedGaps, 0.99))}  ` +
    `max ${f2(sortedGaps[sortedGaps.length - 1])} ms; disk syncing ${((100 * syncing) / CASE_MS).toFixed(0)}% of the window; ` +
    `event loop busy: store's thread ${(100 * run.storeElu).toFixed(0)}%, submitters' ${(100 * run.submitterElu).toFixed(0)}%`,
  );

  // Where the time of the slow appends (>= p99) went, next to all appends.
  const parts = (only: (l: number) => boolean) => {
    let count = 0;
    let toStore = 0;
    let inSync = 0;
    let inStoreOther = 0;
    let back = 0;
    let overSlowSync = 0;
    let longest = 0;
    for (let i = 0; i < n; i++) {
      if (!only(lat[i])) continue;
      const id = run.ids[i];
      const rcv = run.received[id];
      const res = run.resolved[id];
      if (!Number.isFinite(rcv) || !Number.isFinite(res)) continue;
      const o = syncOverlap(starts, ends, rcv, res);
      count++;
      toStore += rcv - run.posted[i];
      inSync += o.inside;
      inStoreOther += res - rcv - o.inside;
      back += run.replied[i] - res;
      longest += o.longest;
      if (o.longest >= syncP99) overSlowSync++;
    }
    return `n=${count}  to store ${f2(toStore / count)}  in fdatasync ${f2(inSync / count)}  in store, not syncing ${f2(inStoreOther / count)}  ` +
      `reply back ${f2(back / count)}  | longest fdatasync met ${f2(longest / count)}; met a sync >= its p99: ${((100 * overSlowSync) / count).toFixed(0)}%`;
  };
  console.log(`             all   (ms): ${parts(() => true)}`);
  console.log(`             >=p99 (ms): ${parts((l) => l >= p99)}`);
}

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'postrider-perf-'));
  console.log(`durable 1 KiB appends, ${WARMUP_MS} ms warm-up + ${CASE_MS} ms per case; latency ms from post to reply in the submitters' thread`);
  console.log('store in  submitters  appends/s     p50     p99     p999      max');
  const started = Date.now();
  try {
    for (const submitters of SUBMITTERS) report(await threadCase(base, submitters));
    for (const submitters of SUBMITTERS) report(await sameThreadCase(base, submitters));
  } finally {
    await rm(base, { recursive: true, force: true });
  }
  console.log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

await main();
