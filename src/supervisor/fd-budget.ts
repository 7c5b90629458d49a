/**
 * fd-budget: how many SMTP sessions the listeners may hold so that the
 * daemon never runs out of file descriptors for what must keep working.
 * All threads share one process descriptor table, so sessions that reach
 * the open-file limit (ulimit -n) would make the control socket (status,
 * stop), the journal's segment files and pickup's maildrop files fail with
 * EMFILE. Node cannot raise the limit as Postfix's master does, so the
 * supervisor reads it (/proc/self/limits) and divides it:
 *
 *   in use     what the main thread holds before any worker starts, plus
 *              PER_THREAD_FDS for each actor and warm spare thread
 *   reserve    max(64, limit / 8): the control socket's connections, the
 *              journal's segments, pickup's files, log files, DNS lookups
 *              and a reload's new workers
 *   sessions   half of what is left, shared equally by the smtpd listeners
 *              (each session is one socket, plus one per smtpd_milters
 *              entry); the other half is for delivery connections
 *
 * Each listener gets its share as sessionCapFromFdLimit in its assignment
 * (ActorContext.sessionCapFromFdLimit): smtpd stops accepting beyond it
 * plus SESSION_CAP_SLACK (the slack lets a per-service limit answer 421
 * at the cap itself before the listener drops connections unanswered).
 * Where the limit cannot be read (no procfs) there is no cap.
 *
 * Nothing here throws.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { MainConfig } from '../config/main-config.js';
import { SESSION_CAP_SLACK } from '../runtime/control-messages.js';
import { planSlots, type PlanOptions, type RoleSpec, type SupervisorConfig } from './role-registry.js';

/** Descriptors a worker thread holds of its own (its event loop's epoll, event and timer fds, pipes, log file), measured: about 7. */
export const PER_THREAD_FDS = 8;

// The slack travels with the cap in the assignment, so the listener reads it from the runtime.
export { SESSION_CAP_SLACK };

/** The smallest reserve, whatever the limit. */
const MIN_RESERVE = 64;

/** The division of the open-file limit, for the start-up log line and the tests. */
export interface FdBudget {
  limit: number;
  inUse: number;
  reserve: number;
  /** Sessions each listener may hold (at least 1). */
  sessionCap: number;
  /** True when the limit leaves less than one session per listener: the operator should raise it. */
  tooLow: boolean;
}

/** The soft open-file limit of this process, or undefined where it cannot be read (or is unlimited). */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Descriptors this process holds now, or undefined without procfs. */
export function openFileCount(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

/**
 * Divides the limit.
 * @param mainInUse descriptors the main thread holds before workers start
 * @param threads actor and spare worker threads the configuration runs
 * @param listeners smtpd listeners sharing the sessions
 * @param perSession descriptors one session holds (1, plus one per milter)
 */
export function fdBudget(limit: number, mainInUse: number, threads: number, listeners: number, perSession = 1): FdBudget {
  const inUse = mainInUse + threads * PER_THREAD_FDS;
  const reserve = Math.max(MIN_RESERVE, Math.ceil(limit / 8)) + SESSION_CAP_SLACK * Math.max(1, listeners) * perSession;
  const left = limit - inUse - reserve;
  const share = Math.floor(left / 2 / Math.max(1, listeners) / Math.max(1, perSession));
  return { limit, inUse, reserve, sessionCap: Math.max(1, share), tooLow: share < 1 };
}

/** The division for what a configuration runs: its actor and spare threads, its inet listeners, its milters. */
export function configFdBudget(limit: number, mainInUse: number, config: SupervisorConfig, registry: RoleSpec[], cores: number, opts?: PlanOptions): FdBudget {
  const plan = planSlots(config, registry, cores, opts).slots;
  const spares = registry.filter((s) => s.spare && plan.some((p) => p.role === s.role)).length;
  const listeners = plan.filter((p) => p.service?.type === 'inet').length;
  const milters = new MainConfig(config.params, config.dir).list('smtpd_milters').length;
  return fdBudget(limit, mainInUse, plan.length + spares, listeners, 1 + milters);
}

/** The start-up log line. */
export function describeFdBudget(b: FdBudget): string {
  const text = `open-file limit ${b.limit}: ${b.inUse} for the threads, ${b.reserve} in reserve; each SMTP listener holds at most ${b.sessionCap} sessions`;
  return b.tooLow ? `${text}; the limit is too low, raise it (ulimit -n)` : text;
}
