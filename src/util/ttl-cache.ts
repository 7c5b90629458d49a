/**
 * ttl-cache: a size-capped map whose entries expire after a fixed time,
 * for answers a thread asks another actor for again and again (rewrite and
 * resolve). The oldest insertion goes first when the cap is reached; an
 * expired entry is treated as absent. A hit is answered at once, not as a
 * promise, so a caller whose answers are cached runs without waiting.
 * Never throws.
 */
import type { Maybe } from './maybe.js';

export class TtlCache<V> {
  private readonly entries = new Map<string, { at: number; value: V }>();

  constructor(
    private readonly limit: number,
    private readonly ttlMs: number,
  ) {}

  get(key: string, now = Date.now()): V | undefined {
    const hit = this.entries.get(key);
    return hit && now - hit.at < this.ttlMs ? hit.value : undefined;
  }

  set(key: string, value: V, now = Date.now()): void {
    this.entries.delete(key);
    if (this.entries.size >= this.limit) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { at: now, value });
  }

  /** The cached value at once, or a promise of `load`'s answer, cached when `keep` accepts it. */
  through(key: string, load: () => Promise<V>, keep: (value: V) => boolean): Maybe<V> {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    let loading: Promise<V>;
    try {
      loading = load();
    } catch (err) {
      // A loader that throws answers as one that rejects: the caller sees a promise either way.
      return Promise.reject(err);
    }
    return loading.then((value) => {
      if (keep(value)) this.set(key, value);
      return value;
    });
  }
}
