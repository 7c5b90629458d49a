/**
 * supervisor-types: the supervisor's options and status shapes (public,
 * re-exported from supervisor.ts) and its internal bookkeeping records: a
 * Slot is a planned instance that outlives its workers, an Incarnation one
 * worker filling it. Also the small pure helpers both sides share. Nothing
 * here throws; a Deferred settles at most once and never rejects unhandled.
 */
import type { Worker } from 'node:worker_threads';
import type { MasterService } from '../config/config-types.js';
import type { RoleSpec, SupervisorConfig } from './role-registry.js';

export interface SupervisorOptions {
  config: SupervisorConfig;
  registry: RoleSpec[];
  /**
   * Heartbeat period (default 1000 ms); a worker that misses `missedHeartbeats`
   * (default 3) without CPU progress is dead and killed.
   */
  heartbeatMs?: number;
  missedHeartbeats?: number;
  /** How long a busy worker (CPU time advancing) may go without answering (default: supervisor_busy_timeout, 60 s). */
  busyTimeoutMs?: number;
  /** How long start() waits for every actor's ready (default 30 s). */
  readyTimeoutMs?: number;
  /** How long an actor may take to drain, then to shut down (default 30 s and 5 s). */
  drainTimeoutMs?: number;
  shutdownTimeoutMs?: number;
  /** Cores to size default instance counts by (default os.availableParallelism()). */
  cores?: number;
  /**
   * Whether listeners may share an address with the listen option reusePort
   * (default: what this Node and platform support, reuse-port.ts). Tests set
   * false to check the one-thread fallback.
   */
  reusePort?: boolean;
  /** Loads the configuration again for the control socket's reload. */
  loadConfig?: () => SupervisorConfig | Promise<SupervisorConfig>;
  /** master.cf programs that run inside other roles, so their lines start nothing and are not warned about (default: the catalogue's inline roles, i.e. cleanup). */
  inlinePrograms?: string[];
  /** Serve the control socket (default true). */
  controlSocket?: boolean;
}

/**
 * A part of the daemon outside the actors that follows reload (the metrics
 * listener): the hook takes the new configuration up without giving up the
 * old (or throws, and the reload is refused); then commit() or abort().
 */
export type ReloadHook = (config: SupervisorConfig) => Promise<ReloadHookStep | undefined>;
export interface ReloadHookStep {
  commit(): Promise<void> | void;
  abort(): Promise<void> | void;
}

/** One actor in status(). */
export interface ActorStatus {
  role: string;
  /** The role's kind in the catalogue: daemon or delivery (agent). */
  kind: string;
  instance: number;
  service: string | null;
  /** The further unix services this instance serves (services that differ only in their name share instances). */
  alsoServes?: string[];
  threadId: number;
  restarts: number;
  uptimeSeconds: number;
  state: string;
  /** Event-loop utilisation (0..1) since the previous status request: the actor's load. */
  load: number;
  /**
   * CPU seconds of the actor's thread since it started (user + system, and
   * each), read with Worker.cpuUsage(); absent while restarting or under a
   * Node without it. Cumulative, so a reader takes differences over a window.
   */
  cpuSeconds?: number;
  cpuUserSeconds?: number;
  cpuSystemSeconds?: number;
  /** Seconds the thread's event loop has been busy since it started (cumulative event-loop utilisation). */
  eventLoopActiveSeconds?: number;
}

/** CPU and event loop of one thread outside the actors (the supervisor's main thread). */
export interface ThreadUsage {
  cpuSeconds: number;
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  eventLoopActiveSeconds: number;
  /** Event-loop utilisation (0..1) since the previous status request. */
  load: number;
}

/** CPU of the whole process: every thread, the actors' and the runtime's own (GC, I/O pool) alike. */
export interface ProcessCpu {
  cpuSeconds: number;
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  /** Threads of the process now (Linux only): actors, main thread, and the runtime's helpers. */
  threads?: number;
}

export interface SupervisorStatus {
  pid: number;
  /** True once start() finished: every actor (every listener) is ready. */
  ready: boolean;
  uptimeSeconds: number;
  actors: ActorStatus[];
  /** The supervisor's own thread: routing, control socket, heartbeats. */
  mainThread?: ThreadUsage;
  /** The process as a whole, so a reader can tell what the listed threads leave out. */
  process?: ProcessCpu;
  [provider: string]: unknown;
}

export type IncState = 'spare' | 'starting' | 'running' | 'draining' | 'stopping' | 'exited';

export interface Slot {
  key: string;
  role: string;
  spec: RoleSpec;
  instance: number;
  service?: MasterService;
  /** Further unix services this slot's instance serves (role-registry's SlotPlan.also). */
  also?: MasterService[];
  restarts: number;
  current?: Incarnation;
  /**
   * An on-demand slot (RoleSpec.onDemand) with no incarnation serving by
   * design: not started yet, or ended after max_idle. The next demand for
   * its role or service starts it.
   */
  cold?: boolean;
  /** Resolved by the first ready of any incarnation; start() and reload() wait on it. */
  firstReady: Deferred<void>;
  removed: boolean;
}

export interface Incarnation {
  uid: number;
  /** Its queue-id salt (supervisor-salts), from activation until its thread has exited; none for a spare. */
  idSalt?: number;
  worker: Worker;
  threadId: number;
  slot?: Slot;
  state: IncState;
  startedAt: number;
  /** Set when the supervisor ends it on purpose (retire, stop): not a crash. */
  expectedExit: boolean;
  error?: Error;
  hung: boolean;
  /** Being taken out of service after a reload; its retire() owns it. */
  retiring: boolean;
  /** Started by a reload and not yet ready: a failure fails the reload (which keeps the old), it is no crash to restart. */
  trial?: boolean;
  sentPings: number;
  lastPong: number;
  loaded: Deferred<void>;
  ready: Deferred<void>;
  exited: Deferred<number>;
  waiters: Map<string, Array<() => void>>;
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: Error): void;
  settled: boolean;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const d = { settled: false } as Deferred<T>;
  d.promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  d.resolve = (v) => {
    if (!d.settled) {
      d.settled = true;
      resolve(v);
    }
  };
  d.reject = (e) => {
    if (!d.settled) {
      d.settled = true;
      reject(e);
    }
  };
  d.promise.catch(() => undefined);
  return d;
}


/** Worker heap limits unless a role sets its own. */
export const DEFAULT_LIMITS = { maxOldGenerationSizeMb: 512 };

/** The first line of an error message, so a stack or multi-line reason keeps the log to one line. */
export function oneLine(err: Error): string {
  return (err.message ?? String(err)).split('\n')[0];
}
