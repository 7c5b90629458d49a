/**
 * dkim-sign: what DKIM signing costs the thread that serves SMTP sessions
 * (cleanup runs inline there). Cleanup.process of 1 KiB messages, 16 in
 * flight, on this thread: without signing, with Ed25519 and with RSA 2048
 * (both signed in the piscina pool), and, for comparison only, both signed
 * inline on this thread (what the pool avoids). For each:
 * messages per second, this thread's event-loop delay (p50, p99, max, from
 * monitorEventLoopDelay at 1 ms resolution) and its CPU per message.
 * Run: node <build>/perf/cleanup/dkim-sign.js [messages]
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { CleanupInput } from '../../src/cleanup/cleanup-types.js';
import { runSignTask } from '../../src/cleanup/cleanup-sign-task.js';
import { configureLogging } from '../../src/util/log.js';
import { benchCleanup, benchInput } from './cleanup-kit.js';

const COUNT = Number(process.argv[2] ?? 2000);
const IN_FLIGHT = 16;

const HEAD =
  'From: Alice <alice@sender.example>\r\nTo: Bob <bob@rcpt.example>\r\nSubject: benchmark message\r\n' +
  'Date: Sat, 28 Nov 2026 20:31:07 +0000\r\nMessage-ID: <bench@sender.example>\r\nMIME-Version: 1.0\r\n' +
  'Content-Type: text/plain; charset=utf-8\r\n\r\n';
const CONTENT = Buffer.from(HEAD + ('x'.repeat(76) + '\r\n').repeat(11));

const input = (i: number): CleanupInput => benchInput(CONTENT, i);
const cleanup = benchCleanup;

interface Figures {
  rate: number;
  p50: number;
  p99: number;
  max: number;
  cpuMs: number;
}

/** Runs COUNT messages, IN_FLIGHT at a time, through `one`. */
async function measure(one: (i: number) => Promise<unknown>): Promise<Figures> {
  for (let i = 0; i < 50; i++) await one(i); // warm-up: pool threads, JIT, mailauth loaded
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const cpu0 = process.threadCpuUsage ? process.threadCpuUsage() : process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < COUNT) await one(next++);
    }),
  );
  const ms = performance.now() - t0;
  const cpu = process.threadCpuUsage ? process.threadCpuUsage(cpu0) : process.cpuUsage(cpu0);
  h.disable();
  return { rate: (COUNT * 1000) / ms, p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, cpuMs: (cpu.user + cpu.system) / 1000 / COUNT };
}

async function main(): Promise<void> {
  configureLogging({ sink: { write: () => undefined, flush: () => undefined, reopen: () => undefined } });
  const dir = await mkdtemp(join(tmpdir(), 'dkim-bench-'));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  await writeFile(join(dir, 'rsa.pem'), rsa);
  await writeFile(join(dir, 'ed.pem'), ed);
  await writeFile(join(dir, 'keytable'), 'rsa._domainkey.sender.example sender.example:rsa:rsa.pem\ned._domainkey.sender.example sender.example:ed:ed.pem\n');
  await writeFile(join(dir, 'signing-rsa'), 'sender.example rsa._domainkey.sender.example\n');
  await writeFile(join(dir, 'signing-ed'), 'sender.example ed._domainkey.sender.example\n');
  const signing = (table: string): Record<string, string> => ({ dkim_key_table: 'texthash:keytable', dkim_signing_table: `texthash:${table}`, dkim_sign_local_only: 'no' });

  const rows: Array<[string, Figures]> = [];
  const off = cleanup(dir, {});
  rows.push(['no signing', await measure((i) => off.process(input(i)))]);
  const edc = cleanup(dir, signing('signing-ed'));
  rows.push(['Ed25519, piscina pool', await measure((i) => edc.process(input(i)))]);
  const rsac = cleanup(dir, signing('signing-rsa'));
  rows.push(['RSA 2048, piscina pool', await measure((i) => rsac.process(input(i)))]);
  // What the pool avoids: the same signatures made on this thread.
  for (const [name, pem, algorithm] of [['Ed25519', ed, 'ed25519-sha256'], ['RSA 2048', rsa, 'rsa-sha256']] as const) {
    const task = { kind: 'dkim' as const, keys: [{ domain: 'sender.example', selector: 'k', pem, algorithm }], canonicalization: 'relaxed/relaxed', headerList: ['from', 'to', 'subject', 'date'], signTime: Date.now() };
    rows.push([`${name}, inline (not used)`, await measure(async (i) => {
      const r = await off.process(input(i));
      if (r.action === 'queue') await runSignTask({ ...task, content: r.message.content });
    })]);
  }
  await Promise.all([off.close(), edc.close(), rsac.close()]);
  await rm(dir, { recursive: true, force: true });

  const base = rows[0][1].rate;
  console.log(`cleanup + DKIM signing, ${COUNT} messages of 1 KiB, ${IN_FLIGHT} in flight, on one thread`);
  console.log('| case | msg/s | vs no signing | event-loop delay p50 / p99 / max (ms) | this thread\'s CPU-ms per message |');
  console.log('|---|---|---|---|---|');
  for (const [name, f] of rows) {
    console.log(`| ${name} | ${f.rate.toFixed(0)} | ${(f.rate / base).toFixed(2)} | ${f.p50.toFixed(1)} / ${f.p99.toFixed(1)} / ${f.max.toFixed(1)} | ${f.cpuMs.toFixed(3)} |`);
  }
}

void main();
