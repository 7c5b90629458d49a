/**
 * cli-harness: runs the real `postrider` command and the test-role start-fg
 * in child processes, on configurations written to temporary directories.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlRequest } from '../../src/cli/control-client.js';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
export const FG_TEST_ROLES = fileURLToPath(new URL('./fixtures/fg-test-roles.js', import.meta.url));

export interface ConfigDir {
  dir: string;
  queue: string;
  log: string;
  write(main: string, master: string): void;
  cleanup(): void;
}

export function configDir(main: string, master: string): ConfigDir {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-cli-'));
  const c: ConfigDir = {
    dir,
    queue: join(dir, 'queue'),
    log: join(dir, 'maillog'),
    write(m, ms) {
      writeFileSync(join(dir, 'main.cf'), `queue_directory = queue\nmaillog_file = ${join(dir, 'maillog')}\n${m}`);
      writeFileSync(join(dir, 'master.cf'), ms);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  c.write(main, master);
  return c;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `postrider ARGS` to completion. */
export function postrider(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts the test-role start-fg; resolves once its control socket reports ready. */
export async function startTestDaemon(c: ConfigDir): Promise<{ child: ChildProcess; exit: Promise<number | null>; stderr: () => string }> {
  const child = spawn(process.execPath, [FG_TEST_ROLES, c.dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let exited = false;
  void exit.then(() => (exited = true));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) throw new Error(`test daemon exited during start-up: ${stderr}`);
    try {
      const st = (await controlRequest(c.queue, 'status', [], undefined, { timeoutMs: 2000 })) as { ready: boolean };
      if (st.ready) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('test daemon not ready in 20 s');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, exit, stderr: () => stderr };
}
