import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCpuList } from '../../perf/harness/cpu-pinning.js';
import { RUN_OPTIONS, SINK_OPTIONS, SOURCE_OPTIONS } from '../../perf/harness/bench-command.js';
import { findCommand } from '../../src/cli/cli-commands-table.js';
import { CLI, runPostrider } from '../helpers/daemon.js';

function run(args: string[], timeoutMs = 150_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return runPostrider(args, { timeoutMs });
}

interface SavedRun {
  cases: Array<{
    mta: string; mode: string; accepted: number; delivered: number; lost: number; duplicated: number; mtaCpuSeconds?: number; mtaPeakRssMiB?: number;
    endToEndPerSecond: number; cpus?: string; sourceCpus?: string; benchCpuMsPerMessage?: number;
    roles?: Array<{ role: string; threads: number; cpuMsPerMessage: number }>;
  }>;
  summary: Array<{ mta: string; ratioToBaseline?: number }>;
  machine: { cpus: number };
  roles?: Array<{ mta: string; projection: Array<{ cores: number; messagesPerSecond: number; cappedBy: string }> }>;
  scalingChecks?: Array<{ mta: string; fromCores: number; toCores: number; measuredGain: number; predictedGain: number }>;
}

/** The CPUs this process may run on. */
function ownCpus(): number[] {
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
  assert.ok(m);
  return parseCpuList(m[1]);
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
    // CPU per role from the daemon's status: every role it runs, the main thread and the rest of the process
    const roles = new Map((c.roles ?? []).map((r) => [r.role, r]));
    for (const role of ['smtpd', 'qmgr', 'journal', 'smtp', 'main thread', 'other']) assert.ok(roles.has(role), `${role} in ${[...roles.keys()].join(' ')}`);
    assert.ok((roles.get('smtpd')?.cpuMsPerMessage ?? 0) > 0, 'smtpd worked');
    // The listener runs a thread per core, each counted and summed into one row.
    assert.equal(roles.get('smtpd')?.threads, availableParallelism(), 'the smtpd threads are summed and counted');
    assert.ok((roles.get('smtp')?.threads ?? 0) >= 1, 'the shipped smtp service delivered');
    // the roles add up to the process total that /proc measured over nearly the same window
    const sumMs = [...roles.values()].reduce((s, r) => s + r.cpuMsPerMessage, 0) * c.delivered;
    const procMs = (c.mtaCpuSeconds ?? 0) * 1000;
    assert.ok(Math.abs(sumMs - procMs) <= 0.4 * procMs + 50, `roles ${sumMs.toFixed(0)} ms against the process ${procMs.toFixed(0)} ms`);
    assert.ok((c.benchCpuMsPerMessage ?? 0) > 0, 'the bench process measures itself');
  }
  assert.match(r.stdout, /CPU per message per role: postrider kept 2048 bytes/);
  assert.match(r.stdout, /^64\s+\d+\s+\S+/m, 'the projection reaches 64 cores');
  const kept = saved.roles?.find((s) => s.mta === 'postrider');
  assert.deepEqual(kept?.projection.map((p) => p.cores), [2, 8, 16, 64]);
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

test('bench run --cpus: the daemon once per CPU list, the bench process pinned, and the model checked from the smaller list to the larger', async () => {
  const own = ownCpus();
  // two lists of different sizes where the machine allows it (a one-CPU machine runs the same list twice, and there is nothing to check)
  const small = String(own[0]);
  const large = own.length > 1 ? `${own[0]},${own[1]}` : small;
  const source = String(own[own.length - 1]);
  const json = join(mkdtempSync(join(tmpdir(), 'bench-cpus-')), 'out.json');
  const r = await run(['bench', 'run', '-m', '40', '-s', '2', '--mode', 'kept', '--cpus', small, '--cpus', large, '--source-cpus', source, '--json', json, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const saved = JSON.parse(readFileSync(json, 'utf8')) as SavedRun;
  const names = [...new Set([small, large])].map((l) => `postrider@${l}`);
  assert.deepEqual(saved.cases.map((c) => c.mta), own.length > 1 ? names : [names[0], names[0]]);
  for (const c of saved.cases) {
    assert.equal(c.lost + c.duplicated, 0);
    assert.equal(c.sourceCpus, source);
    assert.ok(c.roles?.some((x) => x.role === 'smtpd'));
  }
  if (own.length > 1) {
    const [check] = saved.scalingChecks ?? [];
    assert.equal(check?.mta, 'postrider');
    assert.equal(check.fromCores, 1);
    assert.equal(check.toCores, 2);
    assert.ok(check.measuredGain > 0 && check.predictedGain >= 1, JSON.stringify(check));
    assert.match(r.stdout, /scaling model check/);
  }
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

test('bench run --warmup: the warm-up messages go first and are accounted for, the window counts only its own', async () => {
  const json = join(mkdtempSync(join(tmpdir(), 'bench-warmup-')), 'out.json');
  const r = await run(['bench', 'run', '-m', '40', '-s', '4', '--mode', 'kept', '--mta', 'postrider', '--warmup', '25', '--json', json, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const saved = JSON.parse(readFileSync(json, 'utf8')) as SavedRun & { cases: Array<{ warmup: number; unexpected: number }> };
  assert.equal(saved.cases.length, 1);
  const c = saved.cases[0];
  assert.equal(c.warmup, 25);
  // 40 in the window; the 25 before it reached the sink too, and none of them is "unexpected" or lost
  assert.equal(c.accepted, 40);
  assert.equal(c.delivered, 40);
  assert.equal(c.lost + c.duplicated + c.unexpected, 0);
  assert.match(r.stdout, /warm-up: 25 messages before each case/);
});

test('bench: bad options are one line naming the problem', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['bench', 'run', '--mode', 'sideways'], /bad --mode: sideways/],
    [['bench', 'run', '-l', '12q'], /bad size: 12q/],
    [['bench', 'run', '--compare-stop', 'true'], /need --compare-start/],
    [['bench', 'run', '--cpus', 'x'], /bad --cpus: bad CPU list: x/],
    [['bench', 'run', '--warmup', 'many'], /bad --warmup: many/],
    [['bench', 'run', '--source-cpus', '4095'], /--source-cpus: cannot pin to CPUs 4095/],
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

test('bench run --milter: each Postrider run is followed by one with smtpd_milters set, named postrider+milter', async () => {
  const { withMilter } = await import('../../perf/harness/bench-command.js');
  const { mtaName } = await import('../../perf/harness/mta-under-test.js');
  const mtas = withMilter([{ kind: 'direct' }, { kind: 'postrider', params: { a: 'b' } }], 'unix:/run/m.sock');
  assert.deepEqual(mtas.map(mtaName), ['direct', 'postrider', 'postrider+milter']);
  assert.deepEqual(mtas[2], { kind: 'postrider', params: { a: 'b', smtpd_milters: 'unix:/run/m.sock' }, name: 'postrider+milter' });
  assert.equal(withMilter(mtas.slice(0, 2), undefined).length, 2);
});

test('bench run, source and sink --help list exactly what their parsers take, with the same types', () => {
  const parsers: Record<string, Record<string, { type: string; multiple?: boolean }>> = { run: RUN_OPTIONS, source: SOURCE_OPTIONS, sink: SINK_OPTIONS };
  for (const [sub, parser] of Object.entries(parsers)) {
    const spec = findCommand('bench', sub);
    assert.ok(spec, `bench ${sub} is in the command table`);
    const table = Object.fromEntries(spec.options.map((o) => [o.name, { type: o.type, multiple: o.multiple === true }]));
    const parsed = Object.fromEntries(Object.entries(parser).map(([name, o]) => [name, { type: o.type, multiple: o.multiple === true }]));
    assert.deepEqual(table, parsed, `bench ${sub}: the help table and the parser differ`);
  }
});
