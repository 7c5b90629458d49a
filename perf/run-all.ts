/**
 * run-all: runs every benchmark in turn, each in its own process, so that
 * one run prints every figure the issues ask for. `npm run bench`.
 * Set BENCH to a comma-separated list of names to run only some.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Benchmark name -> its compiled file under perf/. */
const BENCHES: Record<string, string> = {
  'runtime-roundtrip': 'runtime/roundtrip.bench.js',
  'runtime-restart': 'runtime/restart-time.js',
  'log-channel': 'runtime/log-channel.bench.js',
  'store-frame': 'store/frame.bench.js',
  'store-append': 'store/append-throughput.js',
  'store-recovery': 'store/recovery.js',
  'store-append-thread': 'store/append-via-thread.js',
  'store-append-actor': 'store/append-via-actor.js',
  'store-append-tail': 'store/append-tail.js',
  cleanup: 'cleanup/cleanup.bench.js',
  'dkim-sign': 'cleanup/dkim-sign.js',
  smtpd: 'smtpd/accept.js',
  'smtpd-auth-timing': 'smtpd/auth-timing.js',
  qmgr: 'qmgr/scheduler.bench.js',
  smtp: 'smtp/smtp-delivery.bench.js',
  'content-scans': 'smtp/content-scans.bench.js',
  'e2e-relay': 'harness/e2e-bench.js',
  'harness-ceiling': 'harness/source-sink-ceiling.js',
  'header-parse': 'cleanup/header-parse.bench.js',
  'table-regexp': 'config/table-regexp.bench.js',
  'queue-list': 'ops/queue-list.js',
  reload: 'ops/reload.js',
};

const only = process.env.BENCH ? new Set(process.env.BENCH.split(',')) : undefined;
let failed = 0;
for (const [name, file] of Object.entries(BENCHES)) {
  if (only && !only.has(name)) continue;
  console.log(`\n=== ${name} ===`);
  const r = spawnSync(process.execPath, [join(here, file)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`${name}: exit ${r.status ?? r.signal}`);
  }
}
process.exitCode = failed ? 1 : 0;
