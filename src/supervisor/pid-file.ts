/**
 * pid-file: $queue_directory/pid/master.pid, the supervisor's pid in
 * Postfix's format (for scripts and service managers), and beside it
 * master.identity, which proves that the pid still names this daemon: the
 * pid, the process's start time in clock ticks since boot (/proc/PID/stat
 * field 22) and the kernel's boot id. `kill -0` says yes for a zombie and
 * for a pid reused after a reboot or a crash, so a pid alone proves
 * nothing; a pid whose start time and boot match what the daemon wrote is
 * the daemon (Postfix gets the same certainty from a lock on master.lock,
 * which Node cannot take). Without procfs (not Linux) a pid can only be
 * "unproven" and daemon-liveness asks the control socket instead.
 *
 * Nothing here throws except writePidFile (the file system's error).
 * Writes are atomic (tmp + rename), identity first, so a master.pid never
 * names a pid whose identity is missing. The directory is 0700 and the
 * files 0600 whatever the umask, like the rest of the queue.
 */
import { chmodSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makePrivateDirSync, PRIVATE_FILE_MODE } from '../util/private-files.js';

/** What proves a pid is a given process: its start time since boot, and the boot. */
export interface ProcessIdentity {
  pid: number;
  /** /proc/PID/stat field 22, clock ticks after boot. */
  startTicks: string;
  /** /proc/sys/kernel/random/boot_id: differs after every reboot. */
  bootId: string;
}

/** What the pid file alone says about the daemon. */
export type PidFileVerdict =
  /** No readable pid. */
  | { verdict: 'none' }
  /** The pid's process is the one that wrote the file. */
  | { verdict: 'ours'; pid: number }
  /** Nothing of ours runs under that pid; `reason` says what is there instead. */
  | { verdict: 'stale'; pid: number; reason: string }
  /** A live process with no identity to compare (an older file, or no procfs). */
  | { verdict: 'unproven'; pid: number };

/** The pid file's path for a queue directory. */
export function pidFilePath(queueDir: string): string {
  return join(queueDir, 'pid', 'master.pid');
}

/** The identity file next to a pid file. */
export function identityFilePath(pidPath: string): string {
  return join(dirname(pidPath), 'master.identity');
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

/** A process as /proc shows it: gone, a zombie (dead, not yet reaped), or live since startTicks; undefined without procfs. */
export function procState(pid: number): { state: 'gone' } | { state: 'zombie' } | { state: 'live'; startTicks: string } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return hasProcfs() ? { state: 'gone' } : undefined;
  }
  // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); field 22 (starttime) is fields[19]
  if (fields[0] === 'Z' || fields[0] === 'X' || fields[0] === 'x') return { state: 'zombie' };
  return { state: 'live', startTicks: fields[19] ?? '' };
}

/** This machine's boot id, or '' where the kernel does not say. */
function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

function hasProcfs(): boolean {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
}

/** The identity of a live process, or undefined (gone, a zombie, or no procfs). */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  const st = procState(pid);
  if (st?.state !== 'live') return undefined;
  return { pid, startTicks: st.startTicks, bootId: bootId() };
}

/** True while the process exists and is not a zombie (what `kill -0` cannot tell). */
export function isRunningProcess(pid: number): boolean {
  const st = procState(pid);
  if (st) return st.state === 'live';
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readIdentity(path: string): ProcessIdentity | undefined {
  try {
    const [pid, startTicks, boot] = readFileSync(path, 'utf8').trim().split(/\s+/);
    const n = Number(pid);
    return Number.isInteger(n) && n > 0 && startTicks ? { pid: n, startTicks, bootId: boot ?? '' } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the pid file names the daemon that wrote it. */
export function pidFileVerdict(pidPath: string): PidFileVerdict {
  const pid = readPidFile(pidPath);
  if (pid === undefined) return { verdict: 'none' };
  const st = procState(pid);
  if (st === undefined) return isRunningProcess(pid) ? { verdict: 'unproven', pid } : { verdict: 'stale', pid, reason: `process ${pid} is not running` };
  if (st.state === 'gone') return { verdict: 'stale', pid, reason: `process ${pid} is not running` };
  if (st.state === 'zombie') return { verdict: 'stale', pid, reason: `process ${pid} has exited (a zombie)` };
  const recorded = readIdentity(identityFilePath(pidPath));
  if (!recorded || recorded.pid !== pid) return { verdict: 'unproven', pid };
  if (recorded.startTicks === st.startTicks && recorded.bootId === bootId()) return { verdict: 'ours', pid };
  return { verdict: 'stale', pid, reason: `process ${pid} is another program (the pid was reused)` };
}

/** Writes this process's identity, then its pid; the caller has made sure no other daemon runs. */
export function writePidFile(path: string): void {
  makePrivateDirSync(dirname(path));
  const me = processIdentity(process.pid);
  const identPath = identityFilePath(path);
  if (me) atomicWrite(identPath, `${me.pid} ${me.startTicks} ${me.bootId}\n`);
  else removeFile(identPath);
  atomicWrite(path, `${String(process.pid).padStart(10)}\n`);
}

/** Removes the files if they still name this process. */
export function releasePidFile(path: string): void {
  if (readPidFile(path) !== process.pid) return;
  removeFile(path);
  removeFile(identityFilePath(path));
}

function atomicWrite(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: PRIVATE_FILE_MODE });
  chmodSync(tmp, PRIVATE_FILE_MODE);
  renameSync(tmp, path);
}

function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
