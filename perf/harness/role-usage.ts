/**
 * role-usage: CPU per message per role of the MTA under test, from two
 * readings of its threads (Postrider's `status`: cumulative CPU seconds per
 * actor thread, the main thread and the process) taken before and after the
 * measured window. Generic over whatever roles and threads the readings
 * list: threads of one role are summed and counted (several smtpd threads,
 * several queue shards), the main thread is a role of its own, and what the
 * process used beyond the listed threads (the runtime's GC and I/O pool
 * threads, the body-check pool, a thread that exited in the window) is the
 * role "other". threadReading() turns a status reply into a reading;
 * roleUsage() is pure and never throws.
 */

/** One thread's cumulative counters at a reading. */
export interface ThreadCounter {
  role: string;
  /** Unique within the process while the thread lives (role and thread id). */
  key: string;
  cpuSeconds: number;
  eventLoopActiveSeconds?: number;
}

/** The MTA's threads at one moment. */
export interface ThreadReading {
  /** performance.now() of the reading, in ms. */
  at: number;
  threads: ThreadCounter[];
  /** The whole process's CPU seconds, every thread included. */
  processCpuSeconds?: number;
  /** Threads of the process (listed and not). */
  processThreads?: number;
}

/** One role's figures over the window. */
export interface RoleUsage {
  role: string;
  /** Threads of the role at the end of the window; for "other", the process's unlisted threads (0 when unknown). */
  threads: number;
  cpuMsPerMessage: number;
  /** Share of one core the role used on average over the window, summed over its threads (1 = one core busy). */
  cores: number;
  /** Average event-loop utilisation of its threads over the window (0..1); undefined for "other". */
  busy?: number;
}

/** The role name for the process's CPU outside the listed threads. */
export const OTHER_ROLE = 'other';
export const MAIN_ROLE = 'main thread';

interface StatusActor {
  role?: unknown;
  threadId?: unknown;
  state?: unknown;
  cpuSeconds?: unknown;
  eventLoopActiveSeconds?: unknown;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** A reading from a Postrider status reply; actors without a CPU figure (restarting) are left out. */
export function threadReading(status: unknown, at: number): ThreadReading {
  const st = (status ?? {}) as { actors?: StatusActor[]; mainThread?: StatusActor; process?: { cpuSeconds?: unknown; threads?: unknown } };
  const threads: ThreadCounter[] = [];
  for (const a of Array.isArray(st.actors) ? st.actors : []) {
    const cpu = num(a.cpuSeconds);
    if (cpu === undefined || typeof a.role !== 'string') continue;
    threads.push({ role: a.role, key: `${a.role}#${String(a.threadId)}`, cpuSeconds: cpu, eventLoopActiveSeconds: num(a.eventLoopActiveSeconds) });
  }
  const main = num(st.mainThread?.cpuSeconds);
  if (main !== undefined) threads.push({ role: MAIN_ROLE, key: MAIN_ROLE, cpuSeconds: main, eventLoopActiveSeconds: num(st.mainThread?.eventLoopActiveSeconds) });
  return { at, threads, processCpuSeconds: num(st.process?.cpuSeconds), processThreads: num(st.process?.threads) };
}

/**
 * Per role, the CPU of the window between `before` and `after` divided by
 * `messages`, in the order roles first appear in `after`, "other" last (when
 * the process total is known). A thread absent from `before` started in the
 * window and counts from zero.
 */
export function roleUsage(before: ThreadReading, after: ThreadReading, messages: number): RoleUsage[] {
  const wallSeconds = Math.max(1e-9, (after.at - before.at) / 1000);
  const prior = new Map(before.threads.map((t) => [t.key, t]));
  const byRole = new Map<string, { threads: number; cpu: number; active: number; activeKnown: boolean }>();
  let listed = 0;
  for (const t of after.threads) {
    const b = prior.get(t.key);
    const cpu = Math.max(0, t.cpuSeconds - (b?.cpuSeconds ?? 0));
    const active = t.eventLoopActiveSeconds === undefined ? undefined : Math.max(0, t.eventLoopActiveSeconds - (b?.eventLoopActiveSeconds ?? 0));
    const r = byRole.get(t.role) ?? { threads: 0, cpu: 0, active: 0, activeKnown: true };
    r.threads++;
    r.cpu += cpu;
    if (active === undefined) r.activeKnown = false;
    else r.active += active;
    byRole.set(t.role, r);
    listed += cpu;
  }
  const perMessage = (seconds: number): number => (messages > 0 ? (seconds * 1000) / messages : NaN);
  const rows: RoleUsage[] = [...byRole].map(([role, r]) => ({
    role,
    threads: r.threads,
    cpuMsPerMessage: perMessage(r.cpu),
    cores: r.cpu / wallSeconds,
    busy: r.activeKnown ? Math.min(1, r.active / wallSeconds / r.threads) : undefined,
  }));
  if (before.processCpuSeconds !== undefined && after.processCpuSeconds !== undefined) {
    const rest = Math.max(0, after.processCpuSeconds - before.processCpuSeconds - listed);
    rows.push({
      role: OTHER_ROLE,
      threads: after.processThreads !== undefined ? Math.max(0, after.processThreads - after.threads.length) : 0,
      cpuMsPerMessage: perMessage(rest),
      cores: rest / wallSeconds,
    });
  }
  return rows;
}
