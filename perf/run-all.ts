/**
 * run-all: runs every benchmark in turn, each in its own process, so that
 * one run prints every figure the issues ask for. `npm run bench`.
 * Set BENCH to a comma-separated list of names to run only some.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

const BENCHES: Record<string, { file: string; env?: Record<string, string> }> = {
  'runtime-roundtrip': { file: 'runtime/roundtrip.bench.js' },
  'runtime-restart': { file: 'runtime/restart-time.js' },
  'store-frame': { file: 'store/frame.bench.js' },
  'store-append': { file: 'store/append-throughput.js' },
  'store-recovery': { file: 'store/recovery.js' },
  'store-append-thread': { file: 'store/append-via-thread.js' },
  'store-append-actor': { file: 'store/append-via-actor.js' },
  'store-append-tail': { file: 'store/append-tail.js' },
  cleanup: { file: 'cleanup/cleanup.bench.js' },
  smtpd: { file: 'smtpd/accept.js' },
  qmgr: { file: 'qmgr/scheduler.bench.js' },
  smtp: { file: 'smtp/smtp-delivery.bench.js' },
  'e2e-relay': { file: 'harness/e2e-bench.js' },
  'harness-ceiling': { file: 'harness/source-sink-ceiling.js' },
  'header-parse': { file: 'cleanup/header-parse.bench.js' },
  'queue-list': { file: 'ops/queue-list.js' },
};

const only = process.env.BENCH ? new Set(process.env.BENCH.split(',')) : undefined;
let failed = 0;
for (const [name, b] of Object.entries(BENCHES)) {
  if (only && !only.has(name)) continue;
  console.log(`\n=== ${name} ===`);
  const r = spawnSync(process.execPath, [join(here, b.file)], { stdio: 'inherit', env: { ...process.env, ...b.env } });
  if (r.status !== 0) {
    failed++;
    console.log(`${name}: exit ${r.status ?? r.signal}`);
  }
}
process.exitCode = failed ? 1 : 0;
