/**
 * supervisor-status: the tree's report for `postrider status` and the
 * metrics: one line per planned actor with its load, plus the sections other
 * parts registered as providers. Works on a read-only view the supervisor
 * hands in, so it cannot change the tree. Never rejects: a provider that
 * fails shows its error in its own section, and a worker whose load cannot be
 * read reports 0.
 *
 * CPU per thread: each actor's CPU seconds since its thread started come from
 * Worker.cpuUsage(), which the main thread can ask even while the actor's
 * event loop is busy, so the figure needs nothing from the actor; the main
 * thread's own from process.threadCpuUsage(), and the process total from
 * process.cpuUsage(). All are cumulative, so two readings give the CPU of any
 * window (the benchmark charges CPU per message to each role this way). A
 * reading that fails or takes over a second (a thread exiting, a Node
 * without the call) leaves the fields out rather than failing status.
 */
import { readdirSync } from 'node:fs';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { ActorStatus, Incarnation, ProcessCpu, Slot, SupervisorStatus, ThreadUsage } from './supervisor-types.js';

/** What status() needs from the supervisor. */
export interface StatusView {
  readonly slots: readonly Slot[];
  /** True once start() finished and stop() has not begun. */
  readonly ready: boolean;
  readonly startedAt: number;
  readonly providers: ReadonlyMap<string, () => Promise<unknown>>;
  /** The previous reading per worker, so each load covers only the time since the last request. */
  readonly eluSeen: WeakMap<Incarnation, EventLoopUtilization>;
}

/** Event-loop utilisation of one worker since it was last asked (a cheap, thread-local reading). */
function loadOf(inc: Incarnation, eluSeen: WeakMap<Incarnation, EventLoopUtilization>): number {
  if (inc.state === 'exited') return 0;
  try {
    const now = inc.worker.performance.eventLoopUtilization();
    const prev = eluSeen.get(inc);
    eluSeen.set(inc, now);
    const elu = prev ? inc.worker.performance.eventLoopUtilization(now, prev) : now;
    return Math.round(elu.utilization * 1000) / 1000;
  } catch {
    return 0;
  }
}

const round6 = (seconds: number): number => Math.round(seconds * 1e6) / 1e6;

/** How long status waits for one thread's CPU reading (a thread being torn down may never answer). */
const CPU_READ_TIMEOUT_MS = 1000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** CPU fields of one worker since its thread started, or none when they cannot be read. */
async function cpuOf(inc: Incarnation): Promise<Pick<ActorStatus, 'cpuSeconds' | 'cpuUserSeconds' | 'cpuSystemSeconds' | 'eventLoopActiveSeconds'>> {
  if (inc.state === 'exited') return {};
  const worker = inc.worker as { cpuUsage?: () => Promise<NodeJS.CpuUsage> };
  try {
    const active = inc.worker.performance.eventLoopUtilization().active / 1000;
    if (typeof worker.cpuUsage !== 'function') return { eventLoopActiveSeconds: round6(active) };
    const u = await withTimeout(worker.cpuUsage(), CPU_READ_TIMEOUT_MS);
    return {
      cpuSeconds: round6((u.user + u.system) / 1e6),
      cpuUserSeconds: round6(u.user / 1e6),
      cpuSystemSeconds: round6(u.system / 1e6),
      eventLoopActiveSeconds: round6(active),
    };
  } catch {
    return {};
  }
}

/** The main thread's previous event-loop reading, for its load since the last request (one main thread per process). */
let mainEluSeen: EventLoopUtilization | undefined;

/** The supervisor's own thread; undefined under a Node without process.threadCpuUsage (before 23.9). */
function mainThreadUsage(): ThreadUsage | undefined {
  const threadCpuUsage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage;
  if (typeof threadCpuUsage !== 'function') return undefined;
  const u = threadCpuUsage.call(process);
  const now = performance.eventLoopUtilization();
  const since = mainEluSeen ? performance.eventLoopUtilization(now, mainEluSeen) : now;
  mainEluSeen = now;
  return {
    cpuSeconds: round6((u.user + u.system) / 1e6),
    cpuUserSeconds: round6(u.user / 1e6),
    cpuSystemSeconds: round6(u.system / 1e6),
    eventLoopActiveSeconds: round6(now.active / 1000),
    load: Math.round(since.utilization * 1000) / 1000,
  };
}

/** The whole process's CPU, and its thread count where /proc tells it. */
function processCpu(): ProcessCpu {
  const u = process.cpuUsage();
  const out: ProcessCpu = {
    cpuSeconds: round6((u.user + u.system) / 1e6),
    cpuUserSeconds: round6(u.user / 1e6),
    cpuSystemSeconds: round6(u.system / 1e6),
  };
  try {
    out.threads = readdirSync('/proc/self/task').length;
  } catch {
    // not Linux: the count is left out
  }
  return out;
}

/** The tree's state for `postrider status`. */
export async function supervisorStatus(view: StatusView): Promise<SupervisorStatus> {
  const now = Date.now();
  const actors: ActorStatus[] = [];
  const cpuReads: Array<Promise<void>> = [];
  for (const slot of view.slots) {
    if (slot.removed) continue;
    const inc = slot.current;
    const entry: ActorStatus = {
      role: slot.role,
      kind: slot.spec.kind ?? 'daemon',
      instance: slot.instance,
      service: slot.service?.name ?? null,
      threadId: inc?.threadId ?? 0,
      restarts: slot.restarts,
      uptimeSeconds: inc ? Math.round((now - inc.startedAt) / 1000) : 0,
      state: inc && inc.state !== 'exited' ? inc.state : slot.cold ? 'on-demand' : 'restarting',
      load: inc ? loadOf(inc, view.eluSeen) : 0,
    };
    if (slot.also?.length) entry.alsoServes = slot.also.map((s) => s.name);
    actors.push(entry);
    if (inc) cpuReads.push(cpuOf(inc).then((cpu) => void Object.assign(entry, cpu)));
  }
  await Promise.all(cpuReads);
  const out: SupervisorStatus = { pid: process.pid, ready: view.ready, uptimeSeconds: Math.round((now - view.startedAt) / 1000), actors };
  const main = mainThreadUsage();
  if (main) out.mainThread = main;
  out.process = processCpu();
  for (const [name, fn] of view.providers) {
    try {
      out[name] = await fn();
    } catch (err) {
      out[name] = { error: (err as Error).message };
    }
  }
  return out;
}
