/**
 * scaling-model: the throughput an MTA should reach on N cores, from the CPU
 * each of its roles spends per message (measured by `bench run`), and which
 * role caps it. Pure functions, no I/O.
 *
 * The model: a thread uses at most one core, so a role whose threads do not
 * follow the core count caps the host at its threads x 1000 / its CPU-ms
 * per message. That is a singleton (trivial-rewrite, the main thread: one
 * thread on any host) and a sharded role (the journal and qmgr: one thread
 * per queue shard, and queue_shard_count "-" makes a shard per four cores,
 * so on N cores they have ceil(N / 4) threads, each taking its shard's
 * share of the messages). Every other role is replicated (its threads
 * follow the core count, as a service with maxproc "-" does) and shares
 * the cores: all the roles' CPU-ms per message together must fit in N
 * cores, so N x 1000 / total is the second bound. The projection is the
 * lower of the two; the role named is the thread-bound role with the
 * lowest cap, or "cores" when the shared bound is the lower. A role may be
 * marked as not sharing the cores measured (a load generator pinned
 * elsewhere): it then bounds the rate through its own cap only. What the
 * model leaves out: locks and hand-offs between threads, the memory bus,
 * and a per-message cost that changes with the load (batching); the
 * 1-core/2-core check in the README says how far that matters here.
 *
 * project() and projectTable() never throw; a role with no CPU per message
 * does not cap anything, and a model with no CPU at all projects Infinity.
 */

/** One role's measured cost. */
export interface RoleCost {
  role: string;
  /** Threads the role ran in the measurement. */
  threads: number;
  /** CPU milliseconds per message, summed over the role's threads. */
  cpuMsPerMessage: number;
  /** Whether the role is bound to one thread on any host; default: threads === 1 and no coresPerThread. */
  singleton?: boolean;
  /** A sharded role: one thread per this many cores, one at least (the cost per message stays the same; its messages are spread). */
  coresPerThread?: number;
  /** Whether its CPU comes out of the N cores; default true. */
  sharesCores?: boolean;
}

/** The projection for one core count. */
export interface Projection {
  cores: number;
  /** Messages per second the model allows. */
  messagesPerSecond: number;
  /** The thread-bound role whose cap binds, or "cores" when the cores as a whole do. */
  cappedBy: string;
  /** The shared bound alone: N x 1000 / total CPU-ms per message of the roles sharing the cores. */
  coresBound: number;
  /** The lowest cap of a thread-bound role on these cores, and its role; Infinity and "" when none costs anything. */
  threadBound: number;
  threadRole: string;
  /** The threads that role has on these cores (1 for a singleton). */
  threadRoleThreads: number;
}

/** The core counts `bench run` projects to. */
export const PROJECTED_CORES = [2, 8, 16, 64] as const;

/** Whether the role is bound to one thread on any host. */
export function isSingleton(r: RoleCost): boolean {
  return r.singleton ?? (r.threads === 1 && r.coresPerThread === undefined);
}

/** The threads a thread-bound role has on `cores` cores; undefined for a replicated role (no cap of its own). */
export function threadsOn(r: RoleCost, cores: number): number | undefined {
  if (r.coresPerThread !== undefined) return Math.max(1, Math.ceil(cores / r.coresPerThread));
  return isSingleton(r) ? 1 : undefined;
}

/** The rate `threads` threads of the role allow: threads x 1000 / its CPU-ms per message (Infinity when it costs nothing). */
export function threadCap(r: RoleCost, threads = 1): number {
  return r.cpuMsPerMessage > 0 ? (threads * 1000) / r.cpuMsPerMessage : Infinity;
}

/** The projected rate on `cores` cores, and what caps it. */
export function project(roles: readonly RoleCost[], cores: number): Projection {
  const shared = roles.filter((r) => r.sharesCores !== false).reduce((sum, r) => sum + Math.max(0, r.cpuMsPerMessage), 0);
  const coresBound = shared > 0 ? (cores * 1000) / shared : Infinity;
  let threadBound = Infinity;
  let threadRole = '';
  let threadRoleThreads = 0;
  for (const r of roles) {
    const threads = threadsOn(r, cores);
    if (threads === undefined) continue;
    const cap = threadCap(r, threads);
    if (cap < threadBound) {
      threadBound = cap;
      threadRole = r.role;
      threadRoleThreads = threads;
    }
  }
  const threadBinds = threadBound < coresBound;
  return {
    cores,
    messagesPerSecond: threadBinds ? threadBound : coresBound,
    cappedBy: threadBinds ? threadRole : 'cores',
    coresBound,
    threadBound,
    threadRole,
    threadRoleThreads,
  };
}

/** project() for each core count (default PROJECTED_CORES). */
export function projectTable(roles: readonly RoleCost[], cores: readonly number[] = PROJECTED_CORES): Projection[] {
  return cores.map((n) => project(roles, n));
}

/** The gain the model predicts from `from` to `to` cores (to's rate over from's); NaN when from's is 0 or both are Infinity. */
export function predictedGain(roles: readonly RoleCost[], from: number, to: number): number {
  return project(roles, to).messagesPerSecond / project(roles, from).messagesPerSecond;
}

/**
 * How far a predicted gain is from a measured one, relative to the measured
 * gain: 0.1 means the prediction is 10% off. NaN when either is not a finite
 * positive number.
 */
export function gainError(predicted: number, measured: number): number {
  if (!(predicted > 0) || !(measured > 0) || !Number.isFinite(predicted) || !Number.isFinite(measured)) return NaN;
  return Math.abs(predicted - measured) / measured;
}
