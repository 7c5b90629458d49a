/**
 * pid-file: $queue_directory/pid/master.pid, as Postfix's master keeps it.
 * claimPidFile refuses (ERR_ALREADY_RUNNING) when the file names another
 * live process; a stale file is replaced. Writes are atomic (tmp + rename);
 * the directory is 0700 and the file 0600 whatever the umask, like the rest
 * of the queue.
 */
import { chmodSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makePrivateDirSync, PRIVATE_FILE_MODE } from '../util/private-files.js';
import { SupervisorError } from './supervisor-error.js';

/** The pid file's path for a queue directory. */
export function pidFilePath(queueDir: string): string {
  return join(queueDir, 'pid', 'master.pid');
}

/** The pid in the file, or undefined when there is no readable pid. */
export function readPidFile(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True when a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes this process's pid, unless another live process holds the file. */
export function claimPidFile(path: string): void {
  makePrivateDirSync(dirname(path));
  const old = readPidFile(path);
  if (old !== undefined && old !== process.pid && isAlive(old)) {
    throw new SupervisorError('ERR_ALREADY_RUNNING', `the Postrider mail system is already running (pid ${old})`);
  }
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${String(process.pid).padStart(10)}\n`, { mode: PRIVATE_FILE_MODE });
  chmodSync(tmp, PRIVATE_FILE_MODE);
  renameSync(tmp, path);
}

/** Removes the file if it still names this process. */
export function releasePidFile(path: string): void {
  if (readPidFile(path) !== process.pid) return;
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
