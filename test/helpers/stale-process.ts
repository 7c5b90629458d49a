/**
 * stale-process: real processes a stale pid file can name: an unrelated
 * live one (`sleep`), a zombie (a child its parent never reaps) and a pid
 * that names nothing (a child that ran and was reaped).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** `sleep 600`, running once this resolves; the caller kills it. */
export async function unrelatedProcess(): Promise<ChildProcess> {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return child;
}

/** A zombie: sh forks a child that exits at once, then execs `sleep`, which never reaps it. Kill `parent` to end it. */
export async function zombieProcess(): Promise<{ pid: number; parent: ChildProcess }> {
  const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 600'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = await new Promise<number>((resolve, reject) => {
    parent.stdout!.setEncoding('utf8').once('data', (d: string) => resolve(Number(d.trim())));
    parent.once('error', reject);
  });
  for (let i = 0; i < 500; i++) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return { pid, parent };
    await new Promise((r) => setTimeout(r, 10));
  }
  parent.kill('SIGKILL');
  throw new Error(`process ${pid} did not become a zombie`);
}

/** A pid that names no process now. */
export async function gonePid(): Promise<number> {
  const child = spawn('true', { stdio: 'ignore' });
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

/** Leaves a Unix socket file at `path` whose listener was killed (a dead daemon's control socket). */
export async function deadSocketFile(path: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve) => child.stdout!.once('data', resolve));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
}
