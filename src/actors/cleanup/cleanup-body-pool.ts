/**
 * cleanup-body-pool: the piscina pool that runs cleanup-body-worker, created
 * on first use only, so a configuration without body_checks or
 * mime_header_checks never starts a thread. Every task has a deadline
 * (body_checks_time_limit, counted from submission): a task still queued
 * then is dropped, and the thread of a task still running is terminated
 * and replaced, so a match that never ends cannot hold a thread or burn its
 * core. Such a task resolves { timeout: true }. A task that fails (worker
 * crash) rejects with its error. close() destroys the pool.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { BodyTask, BodyTaskResult } from './cleanup-body-worker.js';

/** A task that did not finish before its deadline. */
export interface BodyTaskTimeout {
  timeout: true;
}

/** A lazily started pool of body-check workers. */
export class BodyCheckPool {
  private pool: Piscina | undefined;

  constructor(private readonly maxThreads = Math.max(1, Math.min(4, availableParallelism()))) {}

  /** Runs one task within `timeLimitMs`; starts the pool on the first call. */
  async run(task: BodyTask, timeLimitMs: number): Promise<BodyTaskResult | BodyTaskTimeout> {
    this.pool ??= new Piscina({
      filename: new URL('./cleanup-body-worker.js', import.meta.url).href,
      minThreads: 1,
      maxThreads: this.maxThreads,
      idleTimeout: 30_000,
    });
    const signal = AbortSignal.timeout(timeLimitMs);
    try {
      return (await this.pool.run(task, { signal })) as BodyTaskResult;
    } catch (err) {
      // Piscina rejects an aborted task at once and terminates the thread that ran it.
      if (signal.aborted) return { timeout: true };
      throw err;
    }
  }

  get started(): boolean {
    return this.pool !== undefined;
  }

  /** The pool's worker threads now (none before the first task). */
  threads(): readonly Worker[] {
    return this.pool ? this.pool.threads : [];
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.destroy();
  }
}
