/**
 * supervisor-status: the tree's report for `postrider status` and the
 * metrics: one line per planned actor with its load, plus the sections other
 * parts registered as providers. Works on a read-only view the supervisor
 * hands in, so it cannot change the tree. Never rejects: a provider that
 * fails shows its error in its own section, and a worker whose load cannot be
 * read reports 0.
 */
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { ActorStatus, Incarnation, Slot, SupervisorStatus } from './supervisor-types.js';

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

/** The tree's state for `postrider status`. */
export async function supervisorStatus(view: StatusView): Promise<SupervisorStatus> {
  const now = Date.now();
  const actors: ActorStatus[] = [];
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
      state: inc && inc.state !== 'exited' ? inc.state : 'restarting',
      load: inc ? loadOf(inc, view.eluSeen) : 0,
    };
    if (slot.also?.length) entry.alsoServes = slot.also.map((s) => s.name);
    actors.push(entry);
  }
  const out: SupervisorStatus = { pid: process.pid, ready: view.ready, uptimeSeconds: Math.round((now - view.startedAt) / 1000), actors };
  for (const [name, fn] of view.providers) {
    try {
      out[name] = await fn();
    } catch (err) {
      out[name] = { error: (err as Error).message };
    }
  }
  return out;
}
