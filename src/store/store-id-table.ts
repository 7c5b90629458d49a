/**
 * store-id-table: the queue index's map from queue id to slot number, kept
 * in typed arrays instead of a Map of strings, so a queue of a million
 * messages adds no objects to the JavaScript heap (each one would be marked
 * by every full garbage collection, and their growth is what triggers
 * those collections while mail arrives). Keys are the ids' UTF-8 bytes,
 * which the owner of the slots stores and compares; the table holds slot
 * numbers only. Open addressing with linear probing and backward-shift
 * deletion (no tombstones), split in SHARDS by the hash's top bits so that
 * growing rehashes a sixty-fourth of the entries at a time, not all of them
 * in one stall. Never throws.
 */

const SHARDS = 64;
const SHARD_SHIFT = 26;
const FIRST_SIZE = 64;

/** What the table asks of the slots' owner. */
export interface SlotKeys {
  /** The hash recorded for a slot when it was added. */
  hashOf(slot: number): number;
  /** True when the slot's key equals key[0, length). */
  keyEquals(slot: number, key: Uint8Array, length: number): boolean;
}

/** Encodes ids into a reused buffer and hashes them: no allocation for ASCII ids. */
export class KeyEncoder {
  /** The bytes of the id last encoded, from 0 to the length encode() returned. */
  buf = Buffer.allocUnsafeSlow(256);

  /** Writes `id` as UTF-8 into `buf`; returns its byte length. */
  encode(id: string): number {
    const n = id.length;
    if (n <= this.buf.length) {
      const b = this.buf;
      let i = 0;
      for (; i < n; i++) {
        const c = id.charCodeAt(i);
        if (c > 0x7f) break;
        b[i] = c;
      }
      if (i === n) return n;
    }
    const bytes = Buffer.byteLength(id, 'utf8');
    if (bytes > this.buf.length) this.buf = Buffer.allocUnsafeSlow(bytes * 2);
    return this.buf.write(id, 0, 'utf8');
  }

  /** FNV-1a of buf[0, length). */
  hash(length: number): number {
    const b = this.buf;
    let h = 0x811c9dc5;
    for (let i = 0; i < length; i++) h = Math.imul(h ^ b[i], 0x01000193);
    // FNV's low bits are weak for short keys: mix before they pick a bucket.
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    return h >>> 0;
  }
}

/** Slot numbers by key; entries are slot + 1, 0 is an empty bucket. */
export class IdTable {
  private readonly buckets: Int32Array[] = [];
  private readonly used = new Int32Array(SHARDS);

  constructor(private readonly keys: SlotKeys) {
    for (let i = 0; i < SHARDS; i++) this.buckets.push(new Int32Array(FIRST_SIZE));
  }

  /** The slot whose key is key[0, length) with this hash, or -1. */
  find(key: Uint8Array, length: number, hash: number): number {
    const t = this.buckets[hash >>> SHARD_SHIFT];
    const mask = t.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const v = t[i];
      if (v === 0) return -1;
      const slot = v - 1;
      if (this.keys.hashOf(slot) === hash && this.keys.keyEquals(slot, key, length)) return slot;
    }
  }

  /** Adds a slot whose key is not in the table yet. */
  add(slot: number, hash: number): void {
    const shard = hash >>> SHARD_SHIFT;
    if ((this.used[shard] + 1) * 2 > this.buckets[shard].length) this.grow(shard);
    const t = this.buckets[shard];
    const mask = t.length - 1;
    let i = hash & mask;
    while (t[i] !== 0) i = (i + 1) & mask;
    t[i] = slot + 1;
    this.used[shard]++;
  }

  /** Removes a slot (found by its hash); false when it is not in the table. */
  delete(slot: number, hash: number): boolean {
    const shard = hash >>> SHARD_SHIFT;
    const t = this.buckets[shard];
    const mask = t.length - 1;
    let i = hash & mask;
    for (;; i = (i + 1) & mask) {
      const v = t[i];
      if (v === 0) return false;
      if (v === slot + 1) break;
    }
    // Backward shift: pull later entries of the probe run into the hole, so
    // every entry stays reachable from its home bucket without tombstones.
    t[i] = 0;
    let hole = i;
    for (let j = (i + 1) & mask; t[j] !== 0; j = (j + 1) & mask) {
      const home = this.keys.hashOf(t[j] - 1) & mask;
      // The entry may move to the hole only if its home is not in (hole, j].
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!between) {
        t[hole] = t[j];
        t[j] = 0;
        hole = j;
      }
    }
    this.used[shard]--;
    return true;
  }

  private grow(shard: number): void {
    const old = this.buckets[shard];
    const t = new Int32Array(old.length * 2);
    const mask = t.length - 1;
    for (const v of old) {
      if (v === 0) continue;
      let i = this.keys.hashOf(v - 1) & mask;
      while (t[i] !== 0) i = (i + 1) & mask;
      t[i] = v;
    }
    this.buckets[shard] = t;
  }
}
