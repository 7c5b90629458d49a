/**
 * supervisor-worker: one actor worker as the supervisor sees it. Spawns the
 * thread for an incarnation, posts control messages to it, reads its
 * replies (loaded, ready, set-up error, drained, ...), waits for a reply
 * with a bound, and drains and shuts it down. The tree (which incarnations
 * exist, what a crash means) stays in supervisor.ts.
 *
 * Errors: nothing here throws. A message that cannot be posted is logged; a
 * wait that times out resolves false and the caller logs it; a set-up error
 * rejects the incarnation's ready promise with SupervisorError
 * ERR_SETUP_FAILED.
 */
import { Worker, type TransferListItem } from 'node:worker_threads';
import type { Logger } from '../util/log.js';
import type { ActorWorkerData, FromWorker, ToWorker } from '../runtime/control-messages.js';
import type { RoleSpec } from './role-registry.js';
import { SupervisorError } from './supervisor-error.js';
import { workerEnv } from '../util/compile-cache.js';
import { configureWorkerHeaps } from './worker-heap.js';
import { DEFAULT_LIMITS, deferred, oneLine, type Incarnation } from './supervisor-types.js';

/** What the supervisor hears from a spawned worker. */
export interface WorkerEvents {
  message(inc: Incarnation, msg: FromWorker): void;
  exit(inc: Incarnation, code: number): void;
}

/** Starts a worker thread for the role with this workerData; the caller registers the incarnation. */
export function spawnWorker(spec: RoleSpec, uid: number, data: ActorWorkerData, events: WorkerEvents, log: Logger): Incarnation {
  const env = workerEnv();
  configureWorkerHeaps();
  const worker = new Worker(spec.entry, {
    workerData: data,
    // The shared compile cache: a thread's start reuses the code its predecessors compiled.
    ...(env ? { env } : {}),
    resourceLimits: { ...DEFAULT_LIMITS, ...spec.resourceLimits },
  });
  const inc: Incarnation = {
    uid,
    worker,
    threadId: worker.threadId,
    state: data.spare ? 'spare' : 'starting',
    startedAt: Date.now(),
    expectedExit: false,
    hung: false,
    retiring: false,
    sentPings: 0,
    lastPong: 0,
    loaded: deferred(),
    ready: deferred(),
    exited: deferred(),
    waiters: new Map(),
  };
  worker.on('message', (msg: FromWorker) => events.message(inc, msg));
  worker.on('error', (err) => {
    inc.error = err;
  });
  worker.on('messageerror', (err) => log.warning(`${workerName(inc)}: unreadable control message: ${err.message}`));
  worker.on('exit', (code) => events.exit(inc, code));
  return inc;
}

/** Posts a control message; a worker that has exited gets nothing, and a failed post is logged. */
export function postTo(inc: Incarnation, msg: ToWorker, log: Logger, transfer?: TransferListItem[]): void {
  if (inc.state === 'exited') return;
  try {
    inc.worker.postMessage(msg, transfer);
  } catch (err) {
    log.warning(`${workerName(inc)}: cannot post ${msg.ctl}: ${(err as Error).message}`);
  }
}

/** role[instance], or the thread of a spare, for log lines. */
export function workerName(inc: Incarnation): string {
  return inc.slot ? `${inc.slot.role}[${inc.slot.instance}]` : `spare ${inc.threadId}`;
}

/**
 * Applies one control reply from the worker to its incarnation.
 * @param started whether the supervisor's start() has finished
 */
export function onWorkerMessage(inc: Incarnation, msg: FromWorker, started: boolean, log: Logger): void {
  switch (msg?.ctl) {
    case 'pong':
      inc.lastPong = msg.seq;
      break;
    case 'loaded':
      inc.loaded.resolve();
      break;
    case 'ready':
      inc.trial = false;
      if (inc.state === 'starting') inc.state = 'running';
      inc.ready.resolve();
      inc.slot?.firstReady.resolve();
      break;
    case 'setupError': {
      const err = new SupervisorError('ERR_SETUP_FAILED', `${workerName(inc)}: set-up failed: ${msg.message}`);
      inc.ready.reject(err);
      // During start() a broken set-up stops the start, during a reload it fails the
      // reload (the old incarnation serves on); later it is a crash like any other.
      if (inc.slot && (!started || inc.trial)) {
        inc.expectedExit = true;
        inc.slot.firstReady.reject(err);
      }
      break;
    }
    case 'draining':
    case 'drained':
    case 'reconfigured':
    case 'shutdownDone': {
      if (msg.ctl !== 'draining' && msg.error) log.warning(`${workerName(inc)}: ${msg.ctl}: ${msg.error}`);
      const list = inc.waiters.get(msg.ctl) ?? [];
      inc.waiters.delete(msg.ctl);
      for (const w of list) w();
      break;
    }
  }
}

/** Resolves on the worker's message `what`, its exit, or the timeout (returns false then). */
export function waitForWorker(inc: Incarnation, what: string, timeoutMs: number): Promise<boolean> {
  if (inc.state === 'exited') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const list = inc.waiters.get(what) ?? [];
    list.push(done);
    inc.waiters.set(what, list);
    void inc.exited.promise.then(done);
  });
}

/** Why a worker exited, for the log line ('' for a plain exit). */
export function exitReason(inc: Incarnation): string {
  if (inc.hung) return 'not responding, killed';
  const e = inc.error as (Error & { code?: string }) | undefined;
  if (e?.code === 'ERR_WORKER_OUT_OF_MEMORY') return 'out of memory';
  if (e) return `uncaught exception: ${oneLine(e)}`;
  return '';
}

/**
 * How long past its drain deadline a worker may take to report drained: a
 * message being queued at the deadline gets its reply first (a queue append
 * waits up to 60 s), so a client is never told 4xx for mail that is queued.
 */
export const DRAIN_GRACE_MS = 65_000;

/**
 * Asks the worker to finish its work in hand and take no more; its open
 * sessions have `deadlineMs`, a reply in flight then up to DRAIN_GRACE_MS.
 * Logs a drain that outlasts both.
 */
export async function drainWorker(inc: Incarnation, deadlineMs: number, log: Logger): Promise<void> {
  if (inc.state === 'exited') return;
  inc.state = 'draining';
  const drained = waitForWorker(inc, 'drained', deadlineMs + DRAIN_GRACE_MS);
  postTo(inc, { ctl: 'drain', deadlineMs }, log);
  if (!(await drained)) log.warning(`${workerName(inc)}: drain timed out`);
}

/** Asks the worker to shut down, then ends the thread (after the bound at the latest) and waits for its exit. */
export async function shutdownWorker(inc: Incarnation, timeoutMs: number, log: Logger): Promise<void> {
  if (inc.state === 'exited') return;
  inc.expectedExit = true;
  inc.state = 'stopping';
  const done = waitForWorker(inc, 'shutdownDone', timeoutMs);
  postTo(inc, { ctl: 'shutdown' }, log);
  if (!(await done)) log.warning(`${workerName(inc)}: shutdown timed out`);
  await inc.worker.terminate();
  await inc.exited.promise;
}
