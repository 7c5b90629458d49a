/**
 * daemon: runs the real Postrider daemon (`postrider start-fg`) as a child
 * process on a temporary configuration, for end-to-end tests and the load
 * harness. The configuration is the given main.cf parameters plus a
 * master.cf with one smtpd listener on a free loopback port.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './send-mail.js';

/** The compiled CLI entry, from dist/test/helpers/. */
export const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

/** Ports this process has handed out: the kernel may offer a port again once it is closed, and two listeners of one test must not get the same one. */
const handedOut = new Set<number>();

/** A loopback port free now and not handed out before in this process. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((res, rej) => {
      const s = createServer();
      s.on('error', rej);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

export interface DaemonOptions {
  /** main.cf parameters beyond the test defaults. */
  params?: Record<string, string>;
  /** Extra master.cf lines. */
  masterExtra?: string[];
  /** Override the whole unix-services part of master.cf. */
  master?: string;
  /** How long to wait for the daemon to serve (default 30 s; a large queue takes longer to load). */
  readyTimeoutMs?: number;
  /** A command the daemon runs under, which execs its arguments (e.g. a shell that lowers `ulimit -n` first). */
  launcher?: string[];
  /** The listener's maxproc column: its smtpd threads (default 2: every test runs a shared port, whatever the host's cores). */
  listenerMaxproc?: string;
  /** Environment variables the daemon gets besides this process's. */
  env?: Record<string, string>;
  /** The smtpd listener's port (default a free one). */
  port?: number;
}

export interface RunningDaemon {
  dir: string;
  configDir: string;
  queueDir: string;
  logFile: string;
  port: number;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** The mail log as written so far. */
  log(): string;
  /** Waits until the log says `QUEUEID: removed` (default 30 s). */
  waitRemoved(queueId: string, timeoutMs?: number): Promise<void>;
  /** Runs `postrider -c DIR ...args`; resolves with exit code and output. */
  cli(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** Starts the daemon again on the same configuration and queue. */
  restart(): Promise<void>;
}

export const DEFAULT_MASTER = [
  'pickup    unix  n       -       n       60      1       pickup',
  'cleanup   unix  n       -       n       -       0       cleanup',
  'qmgr      unix  n       -       n       300     1       qmgr',
  'rewrite   unix  -       -       n       -       1       trivial-rewrite',
  'bounce    unix  -       -       n       -       1       bounce',
  'smtp      unix  -       -       n       -       2       smtp',
  'relay     unix  -       -       n       -       -       smtp',
  'virtual   unix  -       n       n       -       1       virtual',
  'discard   unix  -       -       n       -       1       discard',
  'error     unix  -       -       n       -       1       error',
  'retry     unix  -       -       n       -       -       error',
  'local     unix  -       n       n       -       1       local',
].join('\n');

/** Runs `postrider ARGS` as a child; resolves with exit code (1 for a kill or a timeout) and output. */
export function runPostrider(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = execFile(process.execPath, [CLI, ...args], { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      res({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Runs `postrider -c CONFIGDIR ARGS`. */
export function runCli(configDir: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return runPostrider(['-c', configDir, ...args], { input });
}

/**
 * Polls `status --json` until it says ready. Each poll is a CLI process of
 * its own, which competes for the CPU with the daemon's starting threads: while
 * the daemon has not yet logged that it started (read from `logFile` past
 * `logFrom`, when there is a log file), it is asked only every 5 s (in case the line is missed).
 */
async function waitForStatus(configDir: string, child: ChildProcess, timeoutMs: number, logFile?: string, logFrom = 0): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastAsked = 0;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode} before it served`);
    if (!logFile || loggedStart(logFile, logFrom) || Date.now() - lastAsked >= 5000) {
      lastAsked = Date.now();
      const r = await runCli(configDir, ['status', '--json']);
      if (r.code === 0) {
        try {
          if (JSON.parse(r.stdout).ready === true) return;
        } catch {
          // not ready to answer in JSON yet
        }
      }
    }
    await new Promise((r2) => setTimeout(r2, logFile ? 50 : 100));
  }
  throw new Error('daemon did not come up in time');
}

/** The size of `file`, 0 when it does not exist yet. */
function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Whether the daemon's start line is in `file` past `from`. */
function loggedStart(file: string, from: number): boolean {
  try {
    return readFileSync(file).subarray(from).includes('daemon started -- ');
  } catch {
    return false;
  }
}

export async function startDaemon(opts: DaemonOptions = {}): Promise<RunningDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-e2e-'));
  const configDir = join(dir, 'etc');
  const queueDir = join(dir, 'spool');
  const logFile = join(dir, 'maillog');
  mkdirSync(configDir);
  const port = opts.port ?? (await freePort());
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const params: Record<string, string> = {
    queue_directory: queueDir,
    maillog_file: logFile,
    myhostname: 'mx.postrider.test',
    mydomain: 'postrider.test',
    mynetworks: '127.0.0.0/8',
    inet_interfaces: 'loopback-only',
    minimal_backoff_time: '1s',
    maximal_backoff_time: '2s',
    queue_run_delay: '1s',
    smtpd_greet_wait: '0s',
    debug_fault_injection: 'yes',
    ...opts.params,
  };
  // The file the daemon logs its start to, when the test keeps a log file (a relative path would need the daemon's view).
  const startLog = params.maillog_file?.startsWith('/') ? params.maillog_file : undefined;
  writeFileSync(join(configDir, 'main.cf'), Object.entries(params).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
  const master = [
    '# service type  private unpriv  chroot  wakeup  maxproc command',
    `127.0.0.1:${port} inet n - n - ${opts.listenerMaxproc ?? '2'} smtpd`,
    opts.master ?? DEFAULT_MASTER,
    ...(opts.masterExtra ?? []),
  ].join('\n');
  writeFileSync(join(configDir, 'master.cf'), master + '\n');

  const d: RunningDaemon = {
    dir, configDir, queueDir, logFile, port,
    child: undefined as unknown as ChildProcess,
    exited: Promise.resolve(null),
    log: () => readFileSync(logFile, 'utf8'),
    waitRemoved: (queueId, timeoutMs = 30_000) => waitFor(() => d.log().includes(`${queueId}: removed`), timeoutMs, `${queueId} removed`),
    cli: (args, input) => runCli(configDir, args, input),
    stop: async () => {
      if (d.child.exitCode !== null || d.child.signalCode !== null) return d.child.exitCode;
      d.child.kill('SIGTERM');
      return d.exited;
    },
    kill: async (signal = 'SIGKILL') => {
      if (d.child.exitCode !== null || d.child.signalCode !== null) return d.child.exitCode;
      d.child.kill(signal);
      return d.exited;
    },
    restart: async () => {
      const from = startLog ? sizeOf(startLog) : 0;
      launch();
      await waitForStatus(configDir, d.child, readyTimeoutMs, startLog, from).catch((err: unknown) => {
        throw withReason(err);
      });
    },
  };
  // The running daemon's standard error: its last line names why a start failed.
  let errText = '';
  const withReason = (err: unknown): Error => {
    const last = errText.trim().split('\n').pop();
    return new Error(`${(err as Error).message}${last ? `: ${last}` : ''}`);
  };
  const launch = (): void => {
    // POSTRIDER_NODE_ARGS lets a benchmark run the daemon under --cpu-prof and the like.
    const nodeArgs = (process.env.POSTRIDER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const command = [...(opts.launcher ?? []), process.execPath, ...nodeArgs, CLI, '-c', configDir, 'start-fg'];
    const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ? { ...process.env, ...opts.env } : process.env });
    errText = '';
    child.stderr?.on('data', (b: Buffer) => { errText += b.toString(); });
    child.stdout?.resume();
    d.child = child;
    d.exited = new Promise((res) => child.on('exit', (code) => {
      if (code && process.env.POSTRIDER_TEST_VERBOSE) process.stderr.write(errText);
      res(code);
    }));
  };
  launch();
  try {
    await waitForStatus(configDir, d.child, readyTimeoutMs, startLog);
  } catch (err) {
    d.child.kill('SIGKILL');
    throw withReason(err);
  }
  return d;
}
