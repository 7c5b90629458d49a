/**
 * scaling-model: the throughput an MTA should reach on N cores, from the CPU
 * each of its roles spends per message (measured by `bench run`), and which
 * role caps it. Pure functions, no I/O.
 *
 * The model: a role of one thread (a singleton: the journal, qmgr, the main
 * thread today) can use at most one core, so it caps the host at
 * 1000 / its CPU-ms per message, however many cores there are. Every other
 * role is replicated (its threads follow the core count, as a service with
 * maxproc "-" does) and shares the cores: all the roles' CPU-ms per message
 * together, singletons included, must fit in N cores, so N x 1000 / total is
 * the second bound. The projection is the lower of the two; the role named
 * is the singleton with the lowest cap, or "cores" when the shared bound is
 * the lower. A role may be marked as not sharing the cores measured (a load
 * generator pinned elsewhere): it then bounds the rate through its own cap
 * only. What the model leaves out: locks and hand-offs between threads, the
 * memory bus, and a per-message cost that changes with the load (batching);
 * the 1-core/2-core check in the README says how far that matters here.
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
  /** Whether the role is bound to one core; default: threads === 1. */
  singleton?: boolean;
  /** Whether its CPU comes out of the N cores; default true. */
  sharesCores?: boolean;
}

/** The projection for one core count. */
export interface Projection {
  cores: number;
  /** Messages per second the model allows. */
  messagesPerSecond: number;
  /** The singleton role whose cap binds, or "cores" when the cores as a whole do. */
  cappedBy: string;
  /** The shared bound alone: N x 1000 / total CPU-ms per message of the roles sharing the cores. */
  coresBound: number;
  /** The lowest singleton cap, and its role; Infinity and "" when no singleton costs anything. */
  singletonBound: number;
  singletonRole: string;
}

/** The core counts `bench run` projects to. */
export const PROJECTED_CORES = [2, 8, 16, 64] as const;

/** Whether the role is bound to one thread. */
export function isSingleton(r: RoleCost): boolean {
  return r.singleton ?? r.threads === 1;
}

/** The rate a singleton allows: 1000 / its CPU-ms per message (Infinity when it costs nothing). */
export function singletonCap(r: RoleCost): number {
  return r.cpuMsPerMessage > 0 ? 1000 / r.cpuMsPerMessage : Infinity;
}

/** The projected rate on `cores` cores, and what caps it. */
export function project(roles: readonly RoleCost[], cores: number): Projection {
  const shared = roles.filter((r) => r.sharesCores !== false).reduce((sum, r) => sum + Math.max(0, r.cpuMsPerMessage), 0);
  const coresBound = shared > 0 ? (cores * 1000) / shared : Infinity;
  let singletonBound = Infinity;
  let singletonRole = '';
  for (const r of roles) {
    if (!isSingleton(r)) continue;
    const cap = singletonCap(r);
    if (cap < singletonBound) {
      singletonBound = cap;
      singletonRole = r.role;
    }
  }
  const singletonBinds = singletonBound < coresBound;
  return {
    cores,
    messagesPerSecond: singletonBinds ? singletonBound : coresBound,
    cappedBy: singletonBinds ? singletonRole : 'cores',
    coresBound,
    singletonBound,
    singletonRole,
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
