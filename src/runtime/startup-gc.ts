/**
 * startup-gc: one memory-reducing collection in a thread shortly after it
 * serves. Loading modules and setting up an actor leave garbage and a young
 * generation grown for it; V8 gives that memory back only when its memory
 * reducer runs, some 20 s into an idle life, so a daemon 5 s after start
 * held about 35 MiB more than once settled (perf/ops/idle-footprint). A
 * plain full collection does not shrink the heap; V8's "last resort" one
 * (what it runs on a low-memory notification) does, and an idle actor
 * thread costs a few milliseconds for it.
 *
 * A thread that is already busy when the moment comes (an agent started on
 * demand by a burst of work) is left to the memory reducer: a full
 * collection would be a pause in its work. `gc` is exposed to the actor
 * threads by the supervisor (worker-heap); the main thread takes it from a
 * fresh context. Never throws.
 */
import { performance } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';

/** How long after serving a thread collects. */
export const STARTUP_GC_DELAY_MS = 1000;
/** The share of that time the thread may have been busy and still collect. */
const IDLE_UTILIZATION = 0.2;

type GcFunction = (opts: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

function gcFunction(): GcFunction | undefined {
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === 'function') return own as GcFunction;
  try {
    const fresh: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    return typeof fresh === 'function' ? (fresh as GcFunction) : undefined;
  } catch {
    return undefined;
  }
}

/** Schedules the collection; `done` (for tests) is told whether it ran. */
export function collectStartupGarbage(delayMs = STARTUP_GC_DELAY_MS, done?: (collected: boolean) => void): void {
  const since = performance.eventLoopUtilization();
  const timer = setTimeout(() => {
    const busy = performance.eventLoopUtilization(since).utilization > IDLE_UTILIZATION;
    const gc = busy ? undefined : gcFunction();
    try {
      gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    } catch {
      // An engine without this form of gc() keeps its memory reducer's timing.
    }
    done?.(gc !== undefined);
  }, delayMs);
  timer.unref();
}
