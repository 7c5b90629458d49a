/**
 * cleanup-piscina: piscina, loaded when cleanup first starts a pool (body
 * checks, DKIM signing and ARC sealing): a thread whose configuration uses
 * neither never loads it. LazyPool is such a pool: get() loads piscina and
 * starts the pool once, however many callers ask at the same moment, and
 * rejects only when the package cannot be loaded; close() destroys it (the
 * next get() starts a new one).
 */
import type { Piscina } from 'piscina';

type PoolOptions = NonNullable<ConstructorParameters<typeof Piscina>[0]>;

export class LazyPool {
  private pool: Piscina | undefined;
  private starting: Promise<Piscina> | undefined;

  constructor(private readonly options: PoolOptions) {}

  /** The pool, started on the first call. */
  get(): Promise<Piscina> {
    return (this.starting ??= import('piscina').then((m) => (this.pool = new m.Piscina(this.options))));
  }

  /** The pool when it has been started. */
  get current(): Piscina | undefined {
    return this.pool;
  }

  /** Destroys the pool, if one was started or is starting. */
  async close(): Promise<void> {
    const starting = this.starting;
    this.starting = undefined;
    this.pool = undefined;
    const pool = await starting?.catch(() => undefined);
    if (!pool) return;
    // A pool that finished starting after the close began is this one too.
    if (this.pool === pool) this.pool = undefined;
    await pool.destroy();
  }
}
