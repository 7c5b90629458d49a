/**
 * test-milter: runs the test milter (test/fixtures/milter/test-milter.py,
 * on python3-milter's libmilter binding) as a child process on a unix
 * socket, and reads what it recorded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './send-mail.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** Why the milter tests cannot run here, or undefined when they can. */
export function pythonMilterMissing(): string | undefined {
  if (!existsSync(SYSTEM_PYTHON)) return 'python3 is not installed (.ci/run installs python3-milter)';
  if (!existsSync('/usr/lib/python3/dist-packages/Milter/__init__.py')) return 'python3-milter is not installed (.ci/run installs it)';
  return undefined;
}

/** One callback the milter recorded. */
export interface MilterRecord {
  stage: string;
  args: Record<string, unknown>;
  macros: Record<string, string>;
}

export interface TestMilter {
  socket: string;
  records(): MilterRecord[];
  stop(): Promise<void>;
}

export async function startTestMilter(): Promise<TestMilter> {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-milter-'));
  const socket = join(dir, 'milter.sock');
  const log = join(dir, 'milter.log');
  const child: ChildProcess = spawn(SYSTEM_PYTHON, [join(ROOT, 'test/fixtures/milter/test-milter.py'), `unix:${socket}`, log], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitFor(() => existsSync(socket), 15_000, 'the test milter socket');
  return {
    socket: `unix:${socket}`,
    records: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as MilterRecord) : []),
    stop: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    },
  };
}
