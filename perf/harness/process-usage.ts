/**
 * process-usage: CPU time and resident memory of a process tree (a root
 * and all its descendants), read from Linux's /proc, for the benchmark
 * harness's report of what the MTA under test used.
 *
 * readTree() takes one snapshot; startUsageSampler() snapshots the tree on
 * an unref'd timer and at stop() gives a ProcessUsage. Resident memory is
 * summed per process (statm), which counts pages shared between processes
 * (libraries, a forking server's text) once per process: a tree of many
 * small processes, as Postfix's, looks far bigger than it is. With the `pss`
 * option the proportional set size (smaps_rollup) is summed as well, which
 * splits each shared page between its users and so compares fairly with a
 * one-process MTA.
 *
 * A process that vanishes between the listing and the read is skipped,
 * never an error; a root that does not exist is an empty tree (zero usage).
 * Without /proc (not Linux) both throw a ProcessUsageError with a one-line
 * message.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { ProcessUsage } from './harness-types.js';

/** Thrown when the process table cannot be read at all (no /proc). */
export class ProcessUsageError extends Error {
  readonly code = 'ERR_NO_PROCFS';
  constructor(message: string) {
    super(message);
    this.name = 'ProcessUsageError';
  }
}

/** One snapshot of a process tree. */
export interface ProcSample {
  /** The root first, then its descendants (those found at the snapshot). */
  pids: number[];
  /** Sum over the tree of utime + stime + cutime + cstime, in clock ticks. */
  cpuTicks: number;
  /** cpuTicks in seconds. */
  cpuSeconds: number;
  /** Sum of the resident set sizes of the tree, in bytes. */
  rssBytes: number;
  /** Sum of the proportional set sizes, in bytes; only with the pss option, and undefined when the kernel has no smaps_rollup. */
  pssBytes?: number;
}

/** How to read the process table. */
export interface ProcOptions {
  /** Where the process table lives; default /proc (tests point it at crafted files). */
  procDir?: string;
  /** Also sum the proportional set size (costs a page-table walk per process and sample). */
  pss?: boolean;
}

interface ProcStat {
  ppid: number;
  ticks: number;
}

let clockTicks: number | undefined;
let pageSize: number | undefined;

/** sysconf value through getconf, read once; the Linux default when getconf fails. */
function getconf(name: string, fallback: number): number {
  try {
    const n = Number(execFileSync('getconf', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(n) && n > 0 ? n : fallback;
  } catch {
    return fallback;
  }
}

/** Clock ticks per second (USER_HZ): 100 on Linux. */
export function clockTicksPerSecond(): number {
  return (clockTicks ??= getconf('CLK_TCK', 100));
}

/** Bytes per page, the unit of /proc/PID/statm. */
export function pageBytes(): number {
  return (pageSize ??= getconf('PAGESIZE', 4096));
}

/** Reads a small /proc file, or undefined when the process has gone. */
function readOrGone(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

/**
 * Parses /proc/PID/stat. The command name (field 2) is in parentheses and
 * may itself hold spaces and parentheses, so the fields are counted from the
 * last ')'. After it: state (3), ppid (4), ... utime (14), stime (15),
 * cutime (16), cstime (17).
 */
export function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(' ');
  if (f.length < 15) return undefined;
  const ppid = Number(f[1]);
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  if (!Number.isFinite(ppid) || !Number.isFinite(ticks)) return undefined;
  return { ppid, ticks };
}

/** Every process's stat, by pid; processes that vanish while listed are left out. */
function readAllStats(procDir: string): Map<number, ProcStat> {
  let names: string[];
  try {
    names = readdirSync(procDir);
  } catch {
    throw new ProcessUsageError(`process-usage: cannot read ${procDir} (process usage needs Linux's /proc)`);
  }
  const stats = new Map<number, ProcStat>();
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 0x30 || c > 0x39) continue;
    const text = readOrGone(`${procDir}/${name}/stat`);
    const stat = text === undefined ? undefined : parseStat(text);
    if (stat) stats.set(Number(name), stat);
  }
  return stats;
}

/** Resident bytes of one process from statm (second field, in pages); 0 when gone or a zombie. */
function residentBytes(procDir: string, pid: number): number {
  const text = readOrGone(`${procDir}/${pid}/statm`);
  if (text === undefined) return 0;
  const pages = Number(text.split(' ')[1]);
  return Number.isFinite(pages) ? pages * pageBytes() : 0;
}

/** Whether this kernel has smaps_rollup (Linux 4.14 on). */
function hasSmapsRollup(procDir: string, rootPid: number): boolean {
  return existsSync(`${procDir}/self/smaps_rollup`) || existsSync(`${procDir}/${rootPid}/smaps_rollup`);
}

/** Proportional set size of one process from smaps_rollup, in bytes; 0 when gone or a zombie (whose read fails). */
function proportionalBytes(procDir: string, pid: number): number {
  const text = readOrGone(`${procDir}/${pid}/smaps_rollup`);
  const m = text === undefined ? null : /^Pss:\s+(\d+) kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

/** A snapshot of rootPid and all its descendants (found through the ppid field). Empty when rootPid does not exist. */
export function readTree(rootPid: number, options: ProcOptions = {}): ProcSample {
  const procDir = options.procDir ?? '/proc';
  const stats = readAllStats(procDir);
  const empty: ProcSample = { pids: [], cpuTicks: 0, cpuSeconds: 0, rssBytes: 0 };
  if (!stats.has(rootPid)) return empty;
  const children = new Map<number, number[]>();
  for (const [pid, s] of stats) {
    const list = children.get(s.ppid);
    if (list) list.push(pid);
    else children.set(s.ppid, [pid]);
  }
  const pids = [rootPid];
  let cpuTicks = 0;
  let rssBytes = 0;
  let pssBytes: number | undefined = options.pss && hasSmapsRollup(procDir, rootPid) ? 0 : undefined;
  // Breadth first: pids grows while it is walked. The seen set guards against a ppid cycle, which only pid reuse during the listing could fake.
  const seen = new Set(pids);
  for (let i = 0; i < pids.length; i++) {
    const pid = pids[i];
    cpuTicks += stats.get(pid)!.ticks;
    rssBytes += residentBytes(procDir, pid);
    if (pssBytes !== undefined) pssBytes += proportionalBytes(procDir, pid);
    for (const child of children.get(pid) ?? []) {
      if (seen.has(child)) continue;
      seen.add(child);
      pids.push(child);
    }
  }
  const sample: ProcSample = { pids, cpuTicks, cpuSeconds: cpuTicks / clockTicksPerSecond(), rssBytes };
  if (pssBytes !== undefined) sample.pssBytes = pssBytes;
  return sample;
}

/**
 * A running sampler; stop() ends it and gives the usage since it started (the same object on a second call),
 * with peakPssBytes when the pss option was set and the kernel has smaps_rollup.
 */
export interface UsageSampler {
  stop(): ProcessUsage;
}

/**
 * Samples the tree of rootPid every intervalMs (the timer does not keep the
 * process alive) until stop().
 *
 * Why the CPU sum stays right while processes come and go: when a process
 * of the tree exits and its parent (also in the tree) reaps it, the kernel
 * adds the child's utime + stime + cutime + cstime to the parent's cutime and
 * cstime. Its time thus moves from one entry of the sum to another, and a
 * process born and reaped between two samples is counted in full. The sum
 * at stop minus the sum at start is then the CPU used in between. Not
 * counted: a process that reparents out of the tree (a double fork to
 * init), or children of a parent that ignores SIGCHLD (never reaped by
 * wait, so never added).
 */
export function startUsageSampler(rootPid: number, intervalMs = 100, options: ProcOptions = {}): UsageSampler {
  const first = readTree(rootPid, options);
  let peakRssBytes = first.rssBytes;
  let peakPssBytes = first.pssBytes;
  // The last snapshot in which the tree existed: if the root has exited by stop(), its time is known up to there.
  let lastLive = first.pids.length > 0 ? first : undefined;
  let last = first;
  const sample = (): void => {
    try {
      last = readTree(rootPid, options);
    } catch {
      return;
    }
    if (last.rssBytes > peakRssBytes) peakRssBytes = last.rssBytes;
    if (last.pssBytes !== undefined && (peakPssBytes === undefined || last.pssBytes > peakPssBytes)) peakPssBytes = last.pssBytes;
    if (last.pids.length > 0) lastLive = last;
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  let result: ProcessUsage | undefined;
  return {
    stop(): ProcessUsage {
      if (result) return result;
      clearInterval(timer);
      sample();
      const endTicks = lastLive?.cpuTicks ?? 0;
      const cpuSeconds = Math.max(0, endTicks - first.cpuTicks) / clockTicksPerSecond();
      result = { cpuSeconds, peakRssBytes, processes: last.pids.length };
      if (peakPssBytes !== undefined) result.peakPssBytes = peakPssBytes;
      return result;
    },
  };
}
