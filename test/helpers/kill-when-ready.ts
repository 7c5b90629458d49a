/**
 * kill-when-ready: the crash tests' harness. Runs a Node program that prints
 * "READY" once it works under load, kills it with SIGKILL `delayMs` later,
 * and resolves with the whole lines it printed (a line cut by the kill is
 * not a report). Rejects when the program ends any other way, or is not
 * ready within `guardMs` (it is then killed and the rejection carries the
 * start of its standard error).
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';

export function runAndKillWhenReady(program: string, args: string[], delayMs: number, guardMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [program, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      if (!timer && out.includes('READY\n')) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), guardMs);
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(guard);
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL' || !out.includes('READY\n')) {
        reject(new Error(`child ended by ${signal ?? 'exit'} before it was killed: ${err.slice(0, 500)}`));
        return;
      }
      const lines = out.split('\n');
      lines.pop();
      resolve(lines);
    });
  });
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * The crash children's report line: written with system calls before
 * anything else happens (a line queued in process.stdout is lost with the
 * kill). The pipe to the parent may be non-blocking and full while the
 * parent is busy: then EAGAIN, and the rest goes a millisecond later.
 */
export function sayLine(line: string): void {
  const bytes = Buffer.from(line + '\n');
  let at = 0;
  while (at < bytes.length) {
    try {
      at += writeSync(1, bytes, at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
