/**
 * store-index: the in-memory index of live messages (no contents, only
 * locations), in queue-id order for listing, with counts by queue state.
 *
 * A message is held in one of two forms. Recovery stores it packed: its
 * msgpack meta copied into a shared arena, its location and two flags (hold,
 * has a ready recipient) in typed arrays, so a million recovered messages
 * cost one string and one map entry each instead of a handful of objects.
 * A packed message is decoded afresh whenever it is read (get, list,
 * values), so readers must not mutate what they get; the store changes a
 * message only through promote(), which turns it into a held object for
 * good. Messages appended at run time are packed the same way, from the
 * bytes just written.
 * Never throws, except promote() on an arena record that no longer decodes,
 * which cannot happen for a meta that passed scanMessageMeta.
 */
import { internMessage } from './store-intern.js';
import { decodeMeta } from './store-records.js';
import type { BodyLocation, QueueCounts, QueuedMessage } from './store-types.js';

const ARENA_CHUNK = 1024 * 1024;
const SHARDS = 64;
const FLAG_HOLD = 1;
const FLAG_READY = 2;

/** Live messages by queue id, with a lazily sorted id list for paging. */
export class QueueIndex {
  /** A held object, or the slot of a packed message. */
  private readonly entries = new ShardedMap<QueuedMessage | number>();
  /** Ids in order, possibly holding ids that are gone (skipped and swept lazily). */
  private order: string[] = [];
  private sorted = true;
  private stale = 0;

  // Packed messages: slot arrays, grown by doubling, and free slots for reuse.
  private capacity = 0;
  private slotChunk = new Uint32Array(0);
  private slotStart = new Uint32Array(0);
  private slotEnd = new Uint32Array(0);
  private slotSegment = new Uint32Array(0);
  private slotOffset = new Float64Array(0);
  private slotLength = new Float64Array(0);
  private slotFlags = new Uint8Array(0);
  private freeSlots: number[] = [];
  private nextSlot = 0;
  // Arena chunks of packed metas; a chunk is dropped when its last slot goes.
  private chunks: (Buffer | undefined)[] = [];
  private chunkLive: number[] = [];
  private fill = 0;

  get size(): number {
    return this.entries.size;
  }

  has(queueId: string): boolean {
    return this.entries.has(queueId);
  }

  /** The message, decoded afresh when it is packed; do not mutate it. */
  get(queueId: string): QueuedMessage | undefined {
    const e = this.entries.get(queueId);
    if (e === undefined) return undefined;
    return typeof e === 'number' ? this.unpack(queueId, e, false) : e;
  }

  /** Where a message's content lies, without decoding it. */
  location(queueId: string): BodyLocation | undefined {
    const e = this.entries.get(queueId);
    if (e === undefined || typeof e !== 'number') return e?.location;
    return { segment: this.slotSegment[e], offset: this.slotOffset[e], length: this.slotLength[e] };
  }

  /** The held object of a message, unpacking it for good; for changing it in place. */
  promote(queueId: string): QueuedMessage | undefined {
    const e = this.entries.get(queueId);
    if (e === undefined || typeof e !== 'number') return e;
    const q = this.unpack(queueId, e, true);
    this.freeSlot(e);
    this.entries.set(queueId, q);
    return q;
  }

  /**
   * Adds or replaces a message in packed form: its meta bytes meta[start, end)
   * are copied, so the caller's buffer is not kept.
   */
  putPacked(queueId: string, meta: Buffer, start: number, end: number, hold: boolean, ready: boolean, location: BodyLocation): void {
    const slot = this.allocSlot(end - start);
    const chunk = this.chunks[this.slotChunk[slot]] as Buffer;
    // A view, not meta.subarray(): no Buffer object per record.
    chunk.set(new Uint8Array(meta.buffer, meta.byteOffset + start, end - start), this.slotStart[slot]);
    this.slotSegment[slot] = location.segment;
    this.slotOffset[slot] = location.offset;
    this.slotLength[slot] = location.length;
    this.slotFlags[slot] = (hold ? FLAG_HOLD : 0) | (ready ? FLAG_READY : 0);
    this.replace(queueId, slot);
  }

  private replace(queueId: string, value: QueuedMessage | number): void {
    const old = this.entries.get(queueId);
    if (old === undefined) {
      const last = this.order.length > 0 ? this.order[this.order.length - 1] : undefined;
      if (last !== undefined && queueId <= last) this.sorted = false;
      this.order.push(queueId);
    } else if (typeof old === 'number') {
      this.freeSlot(old);
    }
    this.entries.set(queueId, value);
  }

  /**
   * Moves a message's content to `to` (after a compaction copy), unless it
   * no longer lies at `from` (replaced meanwhile); true when moved.
   */
  relocate(queueId: string, from: BodyLocation, to: BodyLocation): boolean {
    const e = this.entries.get(queueId);
    if (e === undefined) return false;
    if (typeof e === 'number') {
      if (this.slotSegment[e] !== from.segment || this.slotOffset[e] !== from.offset) return false;
      this.slotSegment[e] = to.segment;
      this.slotOffset[e] = to.offset;
      this.slotLength[e] = to.length;
      return true;
    }
    if (e.location.segment !== from.segment || e.location.offset !== from.offset) return false;
    e.location = { ...to };
    return true;
  }

  /** Drops a message; false when it was not there. */
  remove(queueId: string): boolean {
    const e = this.entries.get(queueId);
    if (e === undefined) return false;
    this.entries.delete(queueId);
    if (typeof e === 'number') this.freeSlot(e);
    // The id may come back (a replayed copy); the sweep drops duplicates.
    if (++this.stale > 1024 && this.stale > this.entries.size) this.sweep();
    return true;
  }

  /** Every live message, in no particular order; packed ones decoded afresh. */
  *values(): IterableIterator<QueuedMessage> {
    for (const [id, e] of this.entries) yield typeof e === 'number' ? this.unpack(id, e, false) : e;
  }

  /** Calls `fn` with each live message's content segment and size, without decoding anything. */
  forEachLocation(fn: (queueId: string, segment: number, size: number) => void): void {
    for (const [id, e] of this.entries) {
      if (typeof e === 'number') fn(id, this.slotSegment[e], this.slotLength[e]);
      else fn(id, e.location.segment, e.size);
    }
  }

  private sweep(): void {
    const seen = new Set<string>();
    this.order = this.order.filter((id) => {
      if (!this.entries.has(id) || seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    this.stale = 0;
  }

  private ensureSorted(): void {
    if (this.stale > 0 || !this.sorted) {
      this.sweep();
      this.order.sort();
      this.sorted = true;
    }
  }

  /** A page of live messages in queue-id order, after `after` (exclusive). */
  list(after: string | undefined, limit: number): { messages: QueuedMessage[]; next?: string } {
    this.ensureSorted();
    let lo = 0;
    if (after !== undefined) {
      let hi = this.order.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.order[mid] <= after) lo = mid + 1;
        else hi = mid;
      }
    }
    const messages: QueuedMessage[] = [];
    const max = Math.max(0, Math.floor(limit));
    let i = lo;
    for (; i < this.order.length && messages.length < max; i++) {
      const q = this.get(this.order[i]);
      if (q) messages.push(q);
    }
    const page: { messages: QueuedMessage[]; next?: string } = { messages };
    if (i < this.order.length && messages.length > 0) page.next = messages[messages.length - 1].queueId;
    return page;
  }

  /** Counts by Postfix queue state; `corrupt` is filled in by the caller. */
  counts(corrupt: number): QueueCounts {
    let active = 0;
    let deferred = 0;
    let hold = 0;
    for (const e of this.entries.values()) {
      if (typeof e === 'number') {
        const f = this.slotFlags[e];
        if (f & FLAG_HOLD) hold++;
        else if (f & FLAG_READY) active++;
        else deferred++;
        continue;
      }
      if (e.hold) {
        hold++;
        continue;
      }
      let ready = false;
      for (const r of e.recipients) {
        if (r.state === 'ready') {
          ready = true;
          break;
        }
      }
      if (ready) active++;
      else deferred++;
    }
    return { incoming: 0, active, deferred, hold, corrupt, total: this.entries.size };
  }

  /** Decodes a packed message; `keep` interns its values (it will live on). */
  private unpack(queueId: string, slot: number, keep: boolean): QueuedMessage {
    const chunk = this.chunks[this.slotChunk[slot]] as Buffer;
    const meta = decodeMeta(chunk, this.slotStart[slot], this.slotEnd[slot]);
    if (!meta) throw new Error(`queue index: packed meta of ${queueId} does not decode`);
    const q = meta as unknown as QueuedMessage;
    q.queueId = queueId;
    q.hold = q.hold === true;
    q.size = this.slotLength[slot];
    q.location = { segment: this.slotSegment[slot], offset: this.slotOffset[slot], length: this.slotLength[slot] };
    if (keep) internMessage(q);
    return q;
  }

  private allocSlot(bytes: number): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.nextSlot === this.capacity) this.grow();
      slot = this.nextSlot++;
    }
    let c = this.chunks.length - 1;
    let chunk = c >= 0 ? this.chunks[c] : undefined;
    if (!chunk || this.fill + bytes > chunk.length) {
      if (c >= 0 && this.chunkLive[c] === 0) this.chunks[c] = undefined;
      chunk = Buffer.allocUnsafeSlow(Math.max(ARENA_CHUNK, bytes));
      this.chunks.push(chunk);
      this.chunkLive.push(0);
      c = this.chunks.length - 1;
      this.fill = 0;
    }
    this.slotChunk[slot] = c;
    this.slotStart[slot] = this.fill;
    this.slotEnd[slot] = this.fill + bytes;
    this.fill += bytes;
    this.chunkLive[c]++;
    return slot;
  }

  private freeSlot(slot: number): void {
    const c = this.slotChunk[slot];
    // The chunk being filled stays; an older one goes with its last message.
    if (--this.chunkLive[c] === 0 && c !== this.chunks.length - 1) this.chunks[c] = undefined;
    this.freeSlots.push(slot);
  }

  private grow(): void {
    const n = Math.max(1024, this.capacity * 2);
    const widen = <T extends Uint32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.slotChunk = widen(this.slotChunk, (k) => new Uint32Array(k));
    this.slotStart = widen(this.slotStart, (k) => new Uint32Array(k));
    this.slotEnd = widen(this.slotEnd, (k) => new Uint32Array(k));
    this.slotSegment = widen(this.slotSegment, (k) => new Uint32Array(k));
    this.slotOffset = widen(this.slotOffset, (k) => new Float64Array(k));
    this.slotLength = widen(this.slotLength, (k) => new Float64Array(k));
    this.slotFlags = widen(this.slotFlags, (k) => new Uint8Array(k));
    this.capacity = n;
  }
}

/**
 * A Map split in SHARDS by a hash of the key. A Map rehashes all of its
 * entries when it grows; one Map of a million ids stalls the event loop for
 * tens of milliseconds each time, a shard for a sixty-fourth of that.
 */
class ShardedMap<V> {
  private readonly shards: Map<string, V>[] = Array.from({ length: SHARDS }, () => new Map<string, V>());
  private count = 0;

  private shard(key: string): Map<string, V> {
    let h = 0;
    for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
    return this.shards[(h ^ (h >>> 7)) & (SHARDS - 1)];
  }

  get size(): number {
    return this.count;
  }

  get(key: string): V | undefined {
    return this.shard(key).get(key);
  }

  has(key: string): boolean {
    return this.shard(key).has(key);
  }

  set(key: string, value: V): void {
    const m = this.shard(key);
    const before = m.size;
    m.set(key, value);
    this.count += m.size - before;
  }

  delete(key: string): boolean {
    const gone = this.shard(key).delete(key);
    if (gone) this.count--;
    return gone;
  }

  *[Symbol.iterator](): IterableIterator<[string, V]> {
    for (const m of this.shards) yield* m;
  }

  *values(): IterableIterator<V> {
    for (const m of this.shards) yield* m.values();
  }
}
