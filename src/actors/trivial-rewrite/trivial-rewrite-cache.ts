/**
 * trivial-rewrite-cache: a Map with a size cap. When full, the oldest entry
 * goes first (Map keeps insertion order), which is all a rewrite cache needs.
 */

/** A bounded cache; get/set never throw. */
export class BoundedCache<V> {
  private readonly map = new Map<string, V>();

  constructor(private readonly limit = 10_000) {}

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  set(key: string, value: V): void {
    if (this.map.size >= this.limit) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, value);
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}
