/**
 * log-channel.bench: what sharing the log lines for the HTTP API costs the
 * thread that logs. A worker thread logs LINES delivery lines through the
 * real Logger (to a file, as maillog_file), BATCH lines per event-loop
 * turn as a busy actor does, with sharing off and then on (the main thread
 * reading the channel and parsing each line into an event, as the API
 * does). Prints the worker thread's CPU nanoseconds per line in each mode
 * (its own CPU time, so the main thread's work and other load on the host
 * count less), their ratio, and the main thread's wall nanoseconds per line
 * to receive and parse.
 * Repeats each mode ROUNDS times, alternating, and takes the medians.
 * Run: node <build>/perf/runtime/log-channel.bench.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Logger, configureLogging, flushLog } from '../../src/util/log.js';
import { followLogLines, shareLogLines } from '../../src/util/log-channel.js';
import { parseLogLine } from '../../src/admin/http-api/api-events.js';

const LINES = 200_000;
const BATCH = 50;
const ROUNDS = 5;

async function logInWorker(): Promise<void> {
  const { share, file } = workerData as { share: boolean; file: string };
  configureLogging({ maillogFile: file, myhostname: 'mx.bench.test' });
  shareLogLines(share);
  const log = new Logger('smtp', 3);
  const cpu = process.threadCpuUsage();
  for (let i = 0; i < LINES; i += BATCH) {
    for (let j = 0; j < BATCH; j++) log.queue('4Xk2Lq0fSbz1', `to=<user${i + j}@remote.test>, relay=mx.remote.test[192.0.2.1]:25, delay=0.1, delays=0.01/0/0.05/0.04, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ABC)`);
    await new Promise<void>((r) => setImmediate(r));
  }
  flushLog();
  const used = process.threadCpuUsage(cpu);
  parentPort!.postMessage(((used.user + used.system) * 1e3) / LINES);
}

async function round(share: boolean, file: string): Promise<{ worker: number; main: number; seen: number }> {
  let seen = 0;
  let mainMs = 0;
  const stop = followLogLines((lines) => {
    const t = performance.now();
    for (const line of lines.split('\n')) if (parseLogLine(line)) seen++;
    mainMs += performance.now() - t;
  });
  try {
    const w = new Worker(new URL(import.meta.url), { workerData: { share, file } });
    const nsPerLine = await new Promise<number>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    // Let the last messages in.
    for (let i = 0; i < 50 && share && seen < LINES; i++) await new Promise((r) => setTimeout(r, 20));
    return { worker: nsPerLine, main: seen ? (mainMs * 1e6) / seen : 0, seen };
  } finally {
    stop();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'log-channel-bench-'));
  try {
    const off: number[] = [];
    const on: number[] = [];
    const parse: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const a = await round(false, join(dir, 'off.log'));
      if (a.seen !== 0) throw new Error(`sharing off, yet ${a.seen} lines were read`);
      off.push(a.worker);
      const b = await round(true, join(dir, 'on.log'));
      if (b.seen !== LINES) throw new Error(`sharing on: ${b.seen} of ${LINES} lines were read`);
      on.push(b.worker);
      parse.push(b.main);
    }
    console.log(`log lines, ${LINES} per round, ${BATCH} per event-loop turn, median of ${ROUNDS} rounds:`);
    console.log(`  worker CPU, sharing off: ${median(off).toFixed(0)} ns/line`);
    console.log(`  worker CPU, sharing on:  ${median(on).toFixed(0)} ns/line (x${(median(on) / median(off)).toFixed(2)})`);
    console.log(`  main thread, receive and parse (wall): ${median(parse).toFixed(0)} ns/line`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainThread) await main();
else await logInWorker();
