/**
 * cpu-pinning: CPU lists for `bench run --cpus` and `--source-cpus`, in
 * taskset's syntax ("0", "0,1", "0-3,6"). parseCpuList() turns one into the
 * set of CPU numbers (a malformed list throws a one-line Error);
 * tasksetPrefix() is the command that starts a process pinned to a list;
 * pinProcess() pins a running process, all its threads, with `taskset -a -p`
 * (Linux's util-linux), throwing a one-line Error when taskset is missing or
 * refuses (a CPU the machine does not have).
 */
import { spawnSync } from 'node:child_process';

/** The CPUs of a list such as "0-2,5", sorted; throws on a malformed list. */
export function parseCpuList(list: string): number[] {
  const cpus = new Set<number>();
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`bad CPU list: ${list} (CPU numbers and ranges such as 0,1 or 0-3)`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new Error(`bad CPU list: ${list} (a range goes upwards)`);
    for (let c = lo; c <= hi; c++) cpus.add(c);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** Whether two lists share a CPU. */
export function cpuListsOverlap(a: string, b: string): boolean {
  const set = new Set(parseCpuList(a));
  return parseCpuList(b).some((c) => set.has(c));
}

/** The argv prefix that runs a command on `list` only. */
export function tasksetPrefix(list: string): string[] {
  parseCpuList(list);
  return ['taskset', '-c', list];
}

/** Pins every thread of process `pid` to `list`. */
export function pinProcess(pid: number, list: string): void {
  parseCpuList(list);
  const r = spawnSync('taskset', ['-a', '-p', '-c', list, String(pid)], { encoding: 'utf8' });
  if (r.error) throw new Error(`cannot pin to CPUs ${list}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`cannot pin to CPUs ${list}: ${(r.stderr || `taskset exited with ${r.status}`).trim().split('\n')[0]}`);
}
