/**
 * recovery: builds a journal of N small queued messages (env
 * STORE_PERF_MESSAGES, default 1,000,000) through the store with big
 * batches, then times QueueStore.open in a fresh process and reports its
 * peak memory (rss and heapUsed, sampled while recovery runs).
 * Targets: under 10 s and under 1 GiB.
 * STORE_PERF_SHARDS=K (default 1) spreads the messages round robin over K
 * queue shards and opens them as the daemon does, every shard at once in
 * its own thread of execution (here a process per shard): the wall time is
 * the queue's recovery time, each line one shard's.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QueueStore, QueueIdGenerator } from '../../src/store/queue-store.js';

const N = Number(process.env.STORE_PERF_MESSAGES ?? 1_000_000);
const SHARDS = Number(process.env.STORE_PERF_SHARDS ?? 1);
const MiB = 1024 * 1024;

async function build(dir: string): Promise<void> {
  const stores = await Promise.all(Array.from({ length: SHARDS }, (_, shard) => QueueStore.open(dir, { compactIntervalMs: 0, maxBatchBytes: 16 * MiB, shard })));
  const gen = new QueueIdGenerator(0);
  const content = Buffer.alloc(200, 0x61);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const window = 8192;
  for (let i = 0; i < N; i += window) {
    const n = Math.min(window, N - i);
    await Promise.all(Array.from({ length: n }, (_, j) => stores[(i + j) % SHARDS].append({
      queueId: gen.next(),
      arrivalTime: Date.now(),
      sender: 'sender@example.com',
      recipients: [{ address: 'rcpt@example.net' }],
      client: { name: 'localhost', addr: '127.0.0.1', protocol: 'ESMTP' },
      headerLength: 20,
      content,
    })));
  }
  const cpu = process.cpuUsage(cpu0);
  const flushes = stores.reduce((a, s) => a + s.stats.flushes, 0);
  const bytes = stores.reduce((a, s) => a + s.stats.bytes, 0);
  console.log(`built ${N} messages in ${SHARDS} shard(s) in ${((performance.now() - t0) / 1000).toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s cpu (${flushes} flushes, ${(bytes / MiB).toFixed(0)} MiB)`);
  for (const store of stores) await store.close();
}

async function measureOpen(dir: string, shard: number): Promise<void> {
  let rss = process.memoryUsage().rss;
  let heap = process.memoryUsage().heapUsed;
  const sample = setInterval(() => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  }, 20);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const store = await QueueStore.open(dir, { compactIntervalMs: 0, shard });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sample);
  const m = process.memoryUsage();
  rss = Math.max(rss, m.rss);
  heap = Math.max(heap, m.heapUsed);
  console.log(`open${SHARDS > 1 ? ` shard ${shard}` : ''}: ${(ms / 1000).toFixed(2)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s cpu, for ${store.recovery.messages} messages, ${store.recovery.records} records, ` +
    `${store.recovery.segments} segments; peak rss ${(rss / MiB).toFixed(0)} MiB, peak heapUsed ${(heap / MiB).toFixed(0)} MiB; ` +
    `after open heapUsed ${(m.heapUsed / MiB).toFixed(0)} MiB`);
  await store.close();
}

if (process.argv[2] === 'open') {
  await measureOpen(process.argv[3], Number(process.argv[4] ?? 0));
} else {
  const dir = await mkdtemp(join(tmpdir(), 'postrider-recovery-'));
  try {
    await build(dir);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: SHARDS }, (_, shard) => new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'open', dir, String(shard)], { stdio: 'inherit' });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`open run exited ${code}`))));
    })));
    if (SHARDS > 1) console.log(`every shard open: ${((performance.now() - t0) / 1000).toFixed(2)} s wall (processes started included)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
