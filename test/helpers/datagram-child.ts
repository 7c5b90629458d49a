/**
 * datagram-child: a unix datagram socket bound for a test by Debian's
 * /usr/bin/python3 (Node cannot bind one). The script gets the socket's
 * path and `args`, prints "ready" once bound, then one line per datagram;
 * each such line goes to onLine. The syslog and notification receivers
 * are built on it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PYTHON = '/usr/bin/python3';

export interface DatagramChild {
  socket: string;
  close(): void;
}

/** Binds `name` in a fresh temporary directory named after `prefix`; resolves once bound. */
export async function startDatagramChild(prefix: string, name: string, script: string, args: string[], onLine: (line: string) => void): Promise<DatagramChild> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const socket = join(dir, name);
  const child = spawn(PYTHON, ['-c', script, socket, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buffered = '';
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buffered += d;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line === 'ready') ready();
      else onLine(line);
    }
  });
  await isReady;
  return {
    socket,
    close() {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
