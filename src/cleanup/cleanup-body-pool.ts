/**
 * cleanup-body-pool: the piscina pool that runs cleanup-body-worker, created
 * on first use only, so a configuration without body_checks or
 * mime_header_checks never starts a thread. Every task has a deadline
 * (body_checks_time_limit) counted from when a thread starts it (the worker
 * notes the moment in shared memory): tasks wait here, in order, until a
 * thread is free, and neither that wait nor the start of a replacement
 * thread is charged to them. A task still running at its deadline resolves
 * { timeout: true }, and its thread is terminated and replaced, so a match
 * that never ends cannot hold a thread or burn its core. A task that fails
 * (worker crash, pool closed) rejects with its error. piscina itself is
 * loaded with the pool, so a thread that never checks a body does not
 * carry it.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { LazyPool } from './cleanup-piscina.js';
import type { BodyTask, BodyTaskResult } from './cleanup-body-worker.js';

/** How often a task that has not started yet is looked at again. */
const START_POLL_MS = 100;

/** A task that did not finish before its deadline. */
export interface BodyTaskTimeout {
  timeout: true;
}

/** A lazily started pool of body-check workers. */
export class BodyCheckPool {
  private readonly pool: LazyPool;
  private running = 0;
  /** Tasks waiting for a free thread, oldest first. */
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly maxThreads = Math.max(1, Math.min(4, availableParallelism()))) {
    this.pool = new LazyPool({
      filename: new URL('./cleanup-body-worker.js', import.meta.url).href,
      minThreads: 1,
      maxThreads,
      idleTimeout: 30_000,
    });
  }

  /** Runs one task within `timeLimitMs` of a thread starting it; starts the pool on the first call. */
  async run(task: BodyTask, timeLimitMs: number): Promise<BodyTaskResult | BodyTaskTimeout> {
    const pool = await this.pool.get();
    if (this.running >= this.maxThreads) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    const startedAt = new BigInt64Array(new SharedArrayBuffer(8));
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const watch = (ms: number): void => {
      timer = setTimeout(() => {
        const started = Number(Atomics.load(startedAt, 0));
        if (started === 0) return watch(START_POLL_MS);
        const left = started + timeLimitMs - Date.now();
        if (left > 0) return watch(left);
        abort.abort();
      }, ms);
    };
    watch(timeLimitMs);
    try {
      return (await pool.run({ ...task, startedAt }, { signal: abort.signal })) as BodyTaskResult;
    } catch (err) {
      // Piscina rejects an aborted task at once and terminates the thread that ran it.
      if (abort.signal.aborted) return { timeout: true };
      throw err;
    } finally {
      clearTimeout(timer);
      this.running--;
      this.waiting.shift()?.();
    }
  }

  get started(): boolean {
    return this.pool.current !== undefined;
  }

  /** The pool's worker threads now (none before the first task). */
  threads(): readonly Worker[] {
    return this.pool.current?.threads ?? [];
  }

  /** Destroys the pool; tasks still waiting for a thread then fail, as do those running. */
  async close(): Promise<void> {
    await this.pool.close();
    for (const wake of this.waiting.splice(0)) wake();
  }
}
