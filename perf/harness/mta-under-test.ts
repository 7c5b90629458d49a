/**
 * mta-under-test: starts and stops the MTA an end-to-end run measures.
 *   postrider: the real daemon on a temporary configuration that relays
 *     everything to the sink (relayhost), removed again when it stops;
 *   command: any MTA a shell command starts (a Postfix instance through
 *     perf/harness/postfix-mta.sh, say), with {port}, {relayhost},
 *     {sink_port} and {dir} filled in; its process tree is measured from the
 *     pid the command prints on its last line, or from the command itself
 *     when it stays in the foreground;
 *   direct: no MTA; the generator talks to the sink (the ceiling).
 * With `cpus` (a taskset CPU list) the MTA runs pinned to those CPUs, every
 * thread and child process of it, and its name says so ("postrider@0,1").
 * Postrider also offers readThreads(): its status's CPU per thread, which
 * the run reads before and after the measured window (role-usage).
 * A start that fails, or a port that does not greet in time, rejects with
 * a one-line Error naming the MTA.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlRequest } from '../../src/cli/control-client.js';
import { templateDir } from '../../src/cli/package-info.js';
import { logicalLines } from '../../src/config/main-cf.js';
import { freePort, startDaemon } from '../../test/helpers/daemon.js';
import { tasksetPrefix } from './cpu-pinning.js';
import { threadReading, type ThreadReading } from './role-usage.js';

/** Which MTA to measure. */
export type MtaSpec =
  | { kind: 'direct' }
  | { kind: 'postrider'; params?: Record<string, string>; cpus?: string; /** A variant's name (bench run --variant); "postrider" when absent. */ name?: string }
  | { kind: 'command'; name: string; start: string; stop?: string; cpus?: string };

export interface MtaUnderTest {
  name: string;
  /** Where the generator connects. */
  port: number;
  /** The root of the process tree whose CPU and memory are measured; undefined for direct. */
  pid?: number;
  /** The CPU time of each of its threads now, where the MTA can tell (Postrider's status). */
  readThreads?(): Promise<ThreadReading>;
  stop(): Promise<void>;
}

/** The MTA's name without its CPU list. */
export function mtaBaseName(spec: MtaSpec): string {
  return spec.kind === 'command' ? spec.name : spec.kind === 'postrider' && spec.name ? spec.name : spec.kind;
}

export function mtaName(spec: MtaSpec): string {
  const cpus = spec.kind === 'direct' ? undefined : spec.cpus;
  return cpus === undefined ? mtaBaseName(spec) : `${mtaBaseName(spec)}@${cpus}`;
}

/** Starts `spec` relaying to 127.0.0.1:`sinkPort`. */
export async function startMta(spec: MtaSpec, sinkPort: number): Promise<MtaUnderTest> {
  if (spec.kind === 'direct') return { name: 'direct', port: sinkPort, stop: async () => undefined };
  if (spec.kind === 'postrider') return startPostrider(sinkPort, spec.params, spec.cpus, mtaName(spec));
  return startCommand(spec, sinkPort);
}

/**
 * The unix services of the shipped master.cf, each one logical line with its -o options: the
 * daemon under test runs them as a new user's would (smtp with maxproc "-",
 * say), and only the inet listener is the harness's own.
 */
export function shippedUnixServices(): string {
  return logicalLines(readFileSync(join(templateDir(), 'master.cf'), 'utf8'))
    .filter((l) => !l.orphan && l.text.split(/\s+/)[1] === 'unix')
    .map((l) => l.text)
    .join('\n');
}

async function startPostrider(sinkPort: number, params: Record<string, string> = {}, cpus?: string, name = mtaName({ kind: 'postrider', cpus })): Promise<MtaUnderTest> {
  const daemon = await startDaemon({
    launcher: cpus === undefined ? undefined : tasksetPrefix(cpus),
    // As shipped: one smtpd thread per core on the relay listener, and the shipped unix services.
    listenerMaxproc: '-',
    master: shippedUnixServices(),
    // A loaded machine can take longer than a test's 30 s to start every thread.
    readyTimeoutMs: 120_000,
    params: {
      relayhost: `[127.0.0.1]:${sinkPort}`,
      // The sink is one destination: let it take as many connections as a busy relay would open.
      default_destination_concurrency_limit: '20',
      debug_fault_injection: 'no',
      ...params,
    },
  });
  return {
    name,
    port: daemon.port,
    pid: daemon.child.pid,
    readThreads: async () => {
      const status = await controlRequest(daemon.queueDir, 'status', [], undefined, { timeoutMs: 10_000 });
      return threadReading(status, performance.now());
    },
    stop: async () => {
      await daemon.stop();
      rmSync(daemon.dir, { recursive: true, force: true });
    },
  };
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
}

async function startCommand(spec: Extract<MtaSpec, { kind: 'command' }>, sinkPort: number): Promise<MtaUnderTest> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `bench-${spec.name}-`));
  const values = { port: String(port), relayhost: `[127.0.0.1]:${sinkPort}`, sink_port: String(sinkPort), dir };
  const argv = [...(spec.cpus === undefined ? [] : tasksetPrefix(spec.cpus)), 'sh', '-c', fill(spec.start, values)];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const failed = (why: string): Error =>
    new Error(`${spec.name}: ${why}${err.trim() ? `: ${err.trim().split('\n').pop()}` : ''}`);
  // A start command either returns (a daemon that forks, as `postfix start`)
  // or stays (a foreground MTA). One that returns may greet before it has
  // exited, so after the greeting it still gets a moment to exit and print
  // its daemon's pid; measuring the shell instead would measure nothing.
  const greeted = await waitForGreeting(port, 60_000, exited);
  const exit = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 3000))]);
  if (!greeted) {
    if (exit === 'running') child.kill('SIGKILL');
    throw failed(exit === 'running' || exit === 0 ? `nothing greets on port ${port}` : `start command exited with ${exit}`);
  }
  let pid: number | undefined = child.pid;
  if (exit !== 'running') {
    if (exit !== 0) throw failed(`start command exited with ${exit}`);
    const last = out.trim().split('\n').pop() ?? '';
    pid = /^\d+$/.test(last) ? Number(last) : undefined;
  }
  return {
    name: mtaName(spec),
    port,
    pid,
    stop: async () => {
      if (spec.stop) await runToEnd(fill(spec.stop, values));
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function runToEnd(command: string): Promise<void> {
  return new Promise((res) => {
    const c: ChildProcess = spawn('sh', ['-c', command], { stdio: 'ignore' });
    c.on('exit', () => res());
    c.on('error', () => res());
  });
}

/**
 * Resolves true once something on `port` sends a 220 greeting, false after
 * `timeoutMs`, or as soon as `gaveUp` settles with a failure exit status.
 */
async function waitForGreeting(port: number, timeoutMs: number, gaveUp?: Promise<number | null>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let failedExit = false;
  void gaveUp?.then((code) => (failedExit = code !== 0));
  while (Date.now() < deadline && !failedExit) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect(port, '127.0.0.1');
      let got = '';
      const done = (v: boolean): void => {
        s.destroy();
        res(v);
      };
      s.setTimeout(2000, () => done(false));
      s.on('error', () => done(false));
      s.on('data', (b: Buffer) => {
        got += b.toString('latin1');
        if (got.includes('\n')) {
          s.write('QUIT\r\n');
          done(got.startsWith('220'));
        }
      });
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
