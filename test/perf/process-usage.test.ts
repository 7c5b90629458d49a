/** Tests of process-usage: a real child and grandchild that burn CPU and hold memory, empty trees, and the /proc parser on crafted files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  clockTicksPerSecond,
  pageBytes,
  parseStat,
  ProcessUsageError,
  readTree,
  startUsageSampler,
} from '../../perf/harness/process-usage.js';

const MB = 1024 * 1024;

/** Burns `ms` of this process's own CPU time (not wall time, so a busy machine only makes it slower). */
const BURN = `function burn(ms) { const s = process.cpuUsage(); let x = 0; for (;;) { for (let i = 0; i < 1e5; i++) x += i; const u = process.cpuUsage(s); if ((u.user + u.system) / 1000 >= ms) return x; } }`;

/** Grandchild: allocates and touches 150 MB, says ready, burns 400 ms holding it, exits. */
const GRANDCHILD = `${BURN}
const b = Buffer.allocUnsafe(150 * 1024 * 1024); b.fill(1);
process.stdout.write('ready\\n');
burn(400);
let s = 0; for (let i = 0; i < b.length; i += 4096) s += b[i];
process.exitCode = s > 0 ? 0 : 1;`;

/** Child: starts the grandchild, burns 400 ms once it is ready, says done when it has reaped it, exits when stdin ends. */
const CHILD = `${BURN}
const { spawn } = require('node:child_process');
const g = spawn(process.execPath, ['-e', ${JSON.stringify(GRANDCHILD)}], { stdio: ['ignore', 'pipe', 'inherit'] });
g.stdout.once('data', () => { process.stdout.write('ready ' + g.pid + '\\n'); burn(400); });
g.on('exit', (code) => process.stdout.write('done ' + code + '\\n'));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));`;

/** Resolves with the first line of the child's output that starts with `prefix`; rejects if the child exits first. */
function lineFrom(child: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      const line = text.split('\n').find((l) => l.startsWith(prefix));
      if (line !== undefined) {
        child.stdout!.off('data', onData);
        child.off('exit', onExit);
        resolve(line);
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`child exited (${code}) before "${prefix}"`));
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

test('counts the CPU and peak memory of a child and the grandchild it reaps', async () => {
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  try {
    const sampler = startUsageSampler(child.pid!, 20, { pss: true });
    const ready = await lineFrom(child, 'ready ');
    const grandchild = Number(ready.split(' ')[1]);
    const during = readTree(child.pid!);
    assert.equal(during.pids[0], child.pid);
    assert.ok(during.pids.includes(grandchild), `grandchild ${grandchild} in ${during.pids.join(',')}`);
    assert.ok(during.pids.length >= 2);
    assert.ok(during.rssBytes >= 120 * MB, `rss while running ${during.rssBytes}`);
    assert.equal(during.pssBytes, undefined, 'no PSS unless asked');
    const withPss = readTree(child.pid!, { pss: true });
    assert.ok(withPss.pssBytes !== undefined && withPss.pssBytes >= 120 * MB, `pss while running ${withPss.pssBytes}`);

    assert.equal(await lineFrom(child, 'done '), 'done 0');
    const usage = sampler.stop();
    const wallSeconds = (performance.now() - started) / 1000;
    assert.ok(usage.cpuSeconds >= 0.4, `cpuSeconds ${usage.cpuSeconds}`);
    // The tree cannot have used more CPU than every core for the whole run (plus a tick of rounding per process).
    assert.ok(usage.cpuSeconds <= wallSeconds * availableParallelism() + 0.05, `cpuSeconds ${usage.cpuSeconds} in ${wallSeconds} s`);
    assert.ok(usage.peakRssBytes >= 120 * MB, `peakRssBytes ${usage.peakRssBytes}`);
    assert.ok(usage.peakRssBytes < 2048 * MB, `peakRssBytes ${usage.peakRssBytes}`);
    // PSS splits shared pages, so it cannot exceed RSS (give or take pages touched between the two reads).
    assert.ok(usage.peakPssBytes !== undefined && usage.peakPssBytes >= 120 * MB, `peakPssBytes ${usage.peakPssBytes}`);
    assert.ok(usage.peakPssBytes <= usage.peakRssBytes + 8 * MB, `peakPssBytes ${usage.peakPssBytes} > peakRssBytes ${usage.peakRssBytes}`);
    // The grandchild has been reaped: only the child is left at the last sample.
    assert.equal(usage.processes, 1);
    assert.deepEqual(sampler.stop(), usage, 'a second stop gives the same answer');
  } finally {
    child.stdin!.end();
    await exited;
  }
});

test('a pid that does not exist gives zero usage', async () => {
  // Linux pids stay below pid_max, which is at most 2^22.
  assert.deepEqual(readTree(4194304), { pids: [], cpuTicks: 0, cpuSeconds: 0, rssBytes: 0 });
  const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(gone, 'exit');
  const sampler = startUsageSampler(gone.pid!, 10);
  assert.deepEqual(sampler.stop(), { cpuSeconds: 0, peakRssBytes: 0, processes: 0 });
});

test('a root that exits before stop keeps the CPU seen while it lived', async () => {
  const child = spawn(process.execPath, ['-e', `${BURN}\nburn(300);`], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  const sampler = startUsageSampler(child.pid!, 10);
  await exited;
  const usage = sampler.stop();
  assert.equal(usage.processes, 0);
  assert.ok(usage.cpuSeconds >= 0.1, `cpuSeconds ${usage.cpuSeconds}`);
  assert.ok(usage.peakRssBytes > 0);
});

test('the own process is a tree of one or more with memory', () => {
  const s = readTree(process.pid);
  assert.equal(s.pids[0], process.pid);
  assert.ok(s.rssBytes >= 10 * MB && s.rssBytes < 4096 * MB, `rss ${s.rssBytes}`);
  assert.ok(s.cpuTicks > 0);
  assert.equal(s.cpuSeconds, s.cpuTicks / clockTicksPerSecond());
});

test('parses stat lines whose command name holds spaces and parentheses', () => {
  const line = '4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 30 7 3 20 0 1 0 5000 1000000 300 18446744073709551615';
  assert.deepEqual(parseStat(line), { ppid: 17, ticks: 290 });
  assert.equal(parseStat('garbage'), undefined);
  assert.equal(parseStat('1 (x) S 0'), undefined);
});

test('walks the tree through ppid in a crafted process table, skipping vanished and foreign processes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'proc-'));
  try {
    const proc = async (pid: number, ppid: number, ticks: [number, number, number, number], rssPages?: number, pssKb?: number): Promise<void> => {
      await mkdir(join(dir, String(pid)));
      const [u, s, cu, cs] = ticks;
      await writeFile(join(dir, String(pid), 'stat'), `${pid} (p ${pid}) S ${ppid} 1 1 0 -1 0 0 0 0 0 ${u} ${s} ${cu} ${cs} 20 0 1 0 1 1 1 0\n`);
      if (rssPages !== undefined) await writeFile(join(dir, String(pid), 'statm'), `1000 ${rssPages} 10 1 0 50 0\n`);
      if (pssKb !== undefined) await writeFile(join(dir, String(pid), 'smaps_rollup'), `00400000-7ffd0000 ---p 00000000 00:00 0  [rollup]\nRss: ${pssKb * 3} kB\nPss: ${pssKb} kB\nPss_Anon: ${pssKb} kB\n`);
    };
    await proc(100, 1, [10, 5, 0, 0], 100, 64);
    await proc(101, 100, [20, 0, 3, 2], 200, 36);
    await proc(102, 101, [1, 1, 0, 0], 50);
    await proc(103, 100, [0, 0, 0, 0]); // a zombie: no statm left
    await proc(200, 1, [999, 999, 0, 0], 999); // not in the tree
    await mkdir(join(dir, '104')); // vanished between the listing and the read
    await mkdir(join(dir, 'self'));
    await writeFile(join(dir, 'uptime'), '1.0 1.0\n');

    const s = readTree(100, { procDir: dir });
    assert.deepEqual([...s.pids].sort(), [100, 101, 102, 103]);
    assert.equal(s.pids[0], 100);
    assert.equal(s.cpuTicks, 15 + 25 + 2);
    assert.equal(s.rssBytes, 350 * pageBytes());
    assert.equal(s.pssBytes, undefined);
    // 102 has no smaps_rollup (as a zombie's cannot be read): it adds nothing.
    assert.equal(readTree(100, { procDir: dir, pss: true }).pssBytes, 100 * 1024);
    assert.deepEqual(readTree(102, { procDir: dir }).pids, [102]);
    assert.deepEqual(readTree(104, { procDir: dir }).pids, []);

    const sampler = startUsageSampler(100, 1000, { procDir: dir });
    await writeFile(join(dir, '100', 'stat'), `100 (p 100) S 1 1 1 0 -1 0 0 0 0 0 60 5 0 0 20 0 1 0 1 1 1 0\n`);
    await rm(join(dir, '102'), { recursive: true });
    assert.deepEqual(sampler.stop(), { cpuSeconds: (90 - 42) / clockTicksPerSecond(), peakRssBytes: 350 * pageBytes(), processes: 3 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('without a process table it throws one clear error', () => {
  const procDir = join(tmpdir(), 'no-such-proc-dir-for-process-usage');
  assert.throws(() => readTree(1, { procDir }), (e: unknown) => e instanceof ProcessUsageError && e.code === 'ERR_NO_PROCFS' && !e.message.includes('\n'));
  assert.throws(() => startUsageSampler(1, 100, { procDir }), ProcessUsageError);
});
