/**
 * worker-heap: the old-generation size every actor thread's heap starts
 * with. V8 starts a new isolate with a small old-generation limit and a
 * slack under it smaller than the young generation, so a busy thread whose
 * live heap is 10 MiB began incremental marking right after every
 * mark-compact: under 64 KiB messages the two smtpd threads ran a full
 * mark-compact every 40 messages each, and the concurrent markers were a
 * third of the process's CPU (perf/harness, `bench run -l 64k`). Starting
 * at 64 MiB lets a thread's heap grow to its working size first; an idle
 * thread allocates little and never comes near it, and V8's memory reducer
 * still shrinks a heap that went quiet (perf/ops/idle-footprint measured
 * the same settled footprint).
 *
 * The flag is process-wide and read when an isolate is made, so it is set
 * once, before the first worker; an operator's own --initial-old-space-size
 * (on the command line or in NODE_OPTIONS) is left as given.
 */
import { setFlagsFromString } from 'node:v8';

/** The old-generation size, in MiB, each thread's heap starts with. */
export const INITIAL_OLD_SPACE_MB = 64;

const FLAG = '--initial-old-space-size';
let configured = false;

/** True when node's own options (its command line or NODE_OPTIONS) already give the starting old-generation size. */
export function operatorSetsOldSpace(env: NodeJS.ProcessEnv, execArgv: readonly string[]): boolean {
  return [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.replace(/_/g, '-').startsWith(FLAG));
}

/**
 * Sets the starting old-generation size for the isolates made from now on
 * (once per process), and exposes `gc` to them for their one collection
 * after start (runtime/startup-gc).
 */
export function configureWorkerHeaps(): void {
  if (configured) return;
  configured = true;
  if (!operatorSetsOldSpace(process.env, process.execArgv)) setFlagsFromString(`${FLAG}=${INITIAL_OLD_SPACE_MB}`);
  setFlagsFromString('--expose-gc');
}
