/**
 * cleanup bench: Cleanup.process of a 1 KiB and a 64 KiB message, with no
 * content checks and with header_checks (a regexp table of 20 rules, none
 * matching), address rewriting answered in-process by TrivialRewrite. Also
 * body_checks through the worker pool, to show what the pool costs.
 * Run: node <build>/perf/cleanup/cleanup.bench.js
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { configureLogging } from '../../src/util/log.js';
import { benchCleanup, benchInput } from './cleanup-kit.js';

function message(size: number): Buffer {
  const head =
    'From: Alice <alice@sender.example>\r\nTo: Bob <bob@rcpt.example>\r\nSubject: benchmark message\r\n' +
    'Date: Sat, 28 Nov 2026 20:31:07 +0000\r\nMessage-ID: <bench@sender.example>\r\nMIME-Version: 1.0\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n\r\n';
  const line = 'x'.repeat(76) + '\r\n';
  const lines = Math.max(1, Math.ceil((size - head.length) / line.length));
  return Buffer.from(head + line.repeat(lines));
}

const input = benchInput;
const cleanup = benchCleanup;

async function main(): Promise<void> {
  configureLogging({ sink: { write: () => undefined, flush: () => undefined, reopen: () => undefined } });
  const dir = await mkdtemp(join(tmpdir(), 'cleanup-bench-'));
  const rules = Array.from({ length: 20 }, (_, i) => `/^(Subject|X-Spam-Flag|Received):.*never-matches-${i}/ REJECT rule ${i}`);
  await writeFile(join(dir, 'header_checks'), rules.join('\n') + '\n');
  await writeFile(join(dir, 'body_checks'), rules.join('\n') + '\n');
  const none = cleanup(dir, {});
  const checks = cleanup(dir, { header_checks: 'regexp:header_checks' });
  const bodyChecks = cleanup(dir, { body_checks: 'regexp:body_checks' });
  const small = message(1024);
  const large = message(64 * 1024);
  let i = 0;
  const bench = new Bench({ time: Number(process.env.BENCH_TIME_MS ?? 2000) });
  const must = (r: { action: string }) => {
    if (r.action !== 'queue') throw new Error(`unexpected ${r.action}`);
  };
  bench
    .add('1 KiB, no checks', async () => must(await none.process(input(small, i++))))
    .add('64 KiB, no checks', async () => must(await none.process(input(large, i++))))
    .add('1 KiB, header_checks (20 regexp)', async () => must(await checks.process(input(small, i++))))
    .add('64 KiB, header_checks (20 regexp)', async () => must(await checks.process(input(large, i++))))
    .add('1 KiB, body_checks (20 regexp, pool)', async () => must(await bodyChecks.process(input(small, i++))))
    .add('64 KiB, body_checks (20 regexp, pool)', async () => must(await bodyChecks.process(input(large, i++))));
  await bench.run();
  console.table(bench.table());
  await Promise.all([none.close(), checks.close(), bodyChecks.close()]);
  await rm(dir, { recursive: true, force: true });
}

void main();
