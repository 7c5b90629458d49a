/**
 * cleanup-body-pool: the piscina pool that runs cleanup-body-worker, created
 * on first use only, so a configuration without body_checks or
 * mime_header_checks never starts a thread. close() destroys it. A task that
 * fails (worker crash) rejects with its error.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { BodyTask, BodyTaskResult } from './cleanup-body-worker.js';

/** A lazily started pool of body-check workers. */
export class BodyCheckPool {
  private pool: Piscina | undefined;

  constructor(private readonly maxThreads = Math.max(1, Math.min(4, availableParallelism()))) {}

  /** Runs one task; starts the pool on the first call. */
  run(task: BodyTask): Promise<BodyTaskResult> {
    this.pool ??= new Piscina({
      filename: new URL('./cleanup-body-worker.js', import.meta.url).href,
      minThreads: 1,
      maxThreads: this.maxThreads,
      idleTimeout: 30_000,
    });
    return this.pool.run(task) as Promise<BodyTaskResult>;
  }

  get started(): boolean {
    return this.pool !== undefined;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.destroy();
  }
}
