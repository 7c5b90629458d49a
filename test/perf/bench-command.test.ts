import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, runPostrider } from '../helpers/daemon.js';

function run(args: string[], timeoutMs = 150_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return runPostrider(args, { timeoutMs });
}

interface SavedRun {
  cases: Array<{ mta: string; mode: string; accepted: number; delivered: number; lost: number; duplicated: number; mtaCpuSeconds?: number; mtaPeakRssMiB?: number; endToEndPerSecond: number }>;
  summary: Array<{ mta: string; ratioToBaseline?: number }>;
  machine: { cpus: number };
}

test('bench run: the ceiling and Postrider, both modes; nothing lost, CPU and memory measured, JSON written', async () => {
  const json = join(mkdtempSync(join(tmpdir(), 'bench-run-')), 'out.json');
  const r = await run(['bench', 'run', '-m', '60', '-s', '4', '-l', '2k', '--mta', 'direct,postrider', '--json', json, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /e2e\/s/);
  assert.match(r.stdout, /x direct/);
  const saved = JSON.parse(readFileSync(json, 'utf8')) as SavedRun;
  assert.equal(saved.cases.length, 4);
  for (const c of saved.cases) {
    assert.equal(c.accepted, 60, `${c.mta} ${c.mode}`);
    assert.equal(c.delivered, 60, `${c.mta} ${c.mode}`);
    assert.equal(c.lost + c.duplicated, 0);
    assert.ok(c.endToEndPerSecond > 0);
  }
  const pr = saved.cases.filter((c) => c.mta === 'postrider');
  assert.equal(pr.length, 2);
  for (const c of pr) {
    assert.ok((c.mtaCpuSeconds ?? 0) > 0, 'the daemon used some CPU');
    assert.ok((c.mtaPeakRssMiB ?? 0) > 20, 'the daemon has a resident size');
  }
  assert.ok(saved.summary.some((s) => s.mta === 'postrider' && (s.ratioToBaseline ?? 0) > 0));
  assert.ok(saved.machine.cpus >= 1);
});

test('bench run with a command MTA that takes mail and relays nothing: every message counted lost, exit 2', async () => {
  const json = join(mkdtempSync(join(tmpdir(), 'bench-lost-')), 'out.json');
  // The sink itself, started as the "MTA": it says 250 and keeps the mail.
  const start = `exec "${process.execPath}" "${CLI}" bench sink --port {port}`;
  const r = await run(['bench', 'run', '-m', '20', '-s', '2', '--mode', 'kept', '--mta', 'direct', '--compare-name', 'blackhole',
    '--compare-start', start, '--stall', '2', '--json', json, '--quiet']);
  assert.equal(r.code, 2, r.stderr);
  const saved = JSON.parse(readFileSync(json, 'utf8')) as SavedRun;
  const hole = saved.cases.find((c) => c.mta === 'blackhole');
  assert.ok(hole);
  assert.equal(hole.accepted, 20);
  assert.equal(hole.lost, 20);
  assert.equal(hole.delivered, 0);
  assert.ok((hole.mtaCpuSeconds ?? -1) >= 0, 'the foreground command is the measured process');
  assert.equal(saved.cases.find((c) => c.mta === 'direct')?.lost, 0);
});

test('bench sink and bench source as commands: the sink stops by itself after --count messages', async () => {
  const sink = spawn(process.execPath, [CLI, 'bench', 'sink', '--count', '30'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise<number>((res, rej) => {
    sink.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      if (m) res(Number(m[1]));
    });
    sink.on('exit', (code) => rej(new Error(`sink exited ${code}`)));
  });
  const exited = new Promise<number | null>((res) => sink.on('exit', res));
  const src = await run(['bench', 'source', '--port', String(port), '-m', '30', '-s', '3', '--per-connection', '--quiet']);
  assert.equal(src.code, 0, src.stderr);
  assert.match(src.stdout, /accepted 30\/30/);
  assert.match(src.stdout, /over 30 connections/);
  assert.equal(await exited, 0);
  assert.match(out, /messages 30, recipients 30/);
});

test('bench: bad options are one line naming the problem', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['bench', 'run', '--mode', 'sideways'], /bad --mode: sideways/],
    [['bench', 'run', '-l', '12q'], /bad size: 12q/],
    [['bench', 'run', '--compare-stop', 'true'], /need --compare-start/],
    [['bench', 'source'], /needs --port/],
    [['bench', 'sink', '--reply', 'nonsense'], /nonsense|rule|stage/i],
    [['bench', 'frobnicate'], /unknown bench command: frobnicate/],
  ];
  for (const [args, pattern] of cases) {
    const r = await run(args, 30_000);
    assert.equal(r.code, 1, args.join(' '));
    const fatal = r.stderr.split('\n').filter((l) => l.startsWith('postrider: fatal:'));
    assert.equal(fatal.length, 1, r.stderr);
    assert.match(fatal[0], pattern);
  }
});
