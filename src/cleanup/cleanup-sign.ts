/**
 * cleanup-sign: DKIM signing and ARC sealing as cleanup's last step, once
 * per message, over the message exactly as the store will keep it (after
 * every header_checks edit, header rewriting and added header), so a retry
 * never signs again and nothing changes the signed bytes afterwards.
 *
 * MessageSigner.from(config) reads dkim_key_table / dkim_signing_table and
 * arc_key_table / arc_signing_table (config/dkim-keys: a missing or
 * unreadable key throws, so a bad key stops start and reload), or returns
 * undefined when neither pair is set. dkimKeys(from) gives the keys of the
 * From: address (dkim_signing_table); arcKey(recipients) the sealing key of
 * the first recipient the ARC signing table lists. sign(task) runs in a
 * lazily started piscina pool, off the thread that serves the SMTP
 * sessions: for RSA 2048 and Ed25519 alike, since mailauth's own work per
 * message (parsing, canonicalization, hashing: about 1.7 CPU-ms for 1 KiB
 * here) costs more than an Ed25519 signature and, inline, held that
 * thread's event loop up by tens of milliseconds under load (perf/cleanup/
 * dkim-sign). Never throws for a message: a failure is { error } and the
 * caller queues the message unsigned, with a warning.
 */
import { availableParallelism } from 'node:os';
import { LazyPool } from './cleanup-piscina.js';
import type { MainConfig } from '../config/main-config.js';
import { SigningKeys, type SigningKey } from '../config/dkim-keys.js';
import { withParameterDefaults } from '../config/parameter-defaults.js';
import { type SignTask, type SignTaskResult, type TaskKey } from './cleanup-sign-task.js';

export class MessageSigner {
  private readonly pool = new LazyPool({
    filename: new URL('./cleanup-sign-worker.js', import.meta.url).href,
    minThreads: 1,
    maxThreads: Math.max(1, Math.min(4, availableParallelism())),
    idleTimeout: 30_000,
  });
  readonly canonicalization: string;
  readonly headerList: string[];
  readonly localOnly: boolean;

  private constructor(
    private readonly dkim: SigningKeys | undefined,
    private readonly arc: SigningKeys | undefined,
    config: MainConfig,
  ) {
    const c = withParameterDefaults(config, ['dkim_canonicalization', 'dkim_signed_headers', 'dkim_sign_local_only']);
    this.canonicalization = c.get('dkim_canonicalization').trim().toLowerCase() || 'relaxed/relaxed';
    // "relaxed" alone is relaxed/simple, as in OpenDKIM's Canonicalization.
    if (!this.canonicalization.includes('/')) this.canonicalization += '/simple';
    this.headerList = c.list('dkim_signed_headers');
    this.localOnly = c.bool('dkim_sign_local_only');
  }

  /** The signer of a configuration; undefined when it neither signs nor seals. */
  static from(config: MainConfig): MessageSigner | undefined {
    const get = (n: string): string => (config.has(n) ? config.get(n).trim() : '');
    const dkim = get('dkim_signing_table') ? new SigningKeys(get('dkim_key_table'), get('dkim_signing_table'), config.dir) : undefined;
    const arc = get('arc_signing_table') ? new SigningKeys(get('arc_key_table'), get('arc_signing_table'), config.dir, ['arc_key_table', 'arc_signing_table']) : undefined;
    return dkim || arc ? new MessageSigner(dkim, arc, config) : undefined;
  }

  /** The DKIM keys for mail from this author address ([] when none). */
  dkimKeys(from: string): SigningKey[] {
    return this.dkim && from ? this.dkim.lookup(from) : [];
  }

  /** The ARC sealing key: that of the first recipient the table lists. */
  arcKey(recipients: readonly string[]): SigningKey | undefined {
    if (!this.arc) return undefined;
    for (const r of recipients) {
      const keys = this.arc.lookup(r);
      if (keys.length > 0) return keys[0];
    }
    return undefined;
  }

  /** Signs or seals, in the pool. */
  async sign(kind: SignTask['kind'], content: Uint8Array, keys: SigningKey[], extra: Pick<SignTask, 'cv' | 'authResults'> = {}): Promise<SignTaskResult> {
    const task: SignTask = {
      kind,
      content,
      keys: keys.map((k): TaskKey => ({ domain: k.domain, selector: k.selector, pem: k.pem, algorithm: k.algorithm })),
      canonicalization: this.canonicalization,
      headerList: this.headerList,
      signTime: Date.now(),
      ...extra,
    };
    try {
      return (await (await this.pool.get()).run(task)) as SignTaskResult;
    } catch (err) {
      return { error: (err as Error).message };
    }
  }

  /** Stops the pool, if it was started. */
  async close(): Promise<void> {
    await this.pool.close();
  }
}
