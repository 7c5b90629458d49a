/**
 * store-index: the in-memory index of live messages (no contents, only
 * locations), in queue-id order for listing, with counts by queue state.
 *
 * Every message has a slot: its queue id and msgpack meta copied into a
 * shared arena of off-heap chunks, its location, flags and hash in typed
 * arrays, and its id found through an IdTable of slot numbers. So a queued
 * message costs the JavaScript heap nothing: a queue that grows by tens of
 * thousands of messages a second does not grow the old generation, whose
 * full collections (pauses of several milliseconds, every 100 ms or so)
 * were the append path's latency tail. A message is decoded afresh
 * whenever it is read (get, list, values), so readers must not mutate what
 * they get; the store changes a message only through promote(), which
 * turns it into a held object for good (only messages with a change, which
 * are few at a time, are held).
 * Never throws, except promote() on an arena record that no longer decodes,
 * which cannot happen for a meta that passed scanMessageMeta.
 */
import { IdTable, KeyEncoder } from './store-id-table.js';
import { internMessage } from './store-intern.js';
import { decodeMeta } from './store-records.js';
import type { BodyLocation, QueueCounts, QueuedMessage } from './store-types.js';

const ARENA_CHUNK = 1024 * 1024;
const FLAG_HOLD = 1;
const FLAG_READY = 2;
const FLAG_LIVE = 4;
/** The message is a held object (promoted); its arena meta is stale. */
const FLAG_HELD = 8;
/** The message's body is in a file of its own (slotFileOffset, slotFileLength). */
const FLAG_FILE = 16;
/** Removals tolerated in the id order before it is swept. */
const SWEEP_AFTER = 1024;

/** Live messages by queue id, with a lazily sorted id order for paging. */
export class QueueIndex {
  private count = 0;
  private readonly held = new Map<number, QueuedMessage>();
  private readonly keys = new KeyEncoder();
  private readonly table: IdTable;

  // Slot fields in pages: growing adds a page and copies nothing (doubling
  // flat arrays copied megabytes in one append, a stall of tens of ms).
  private capacity = 0;
  private readonly slotChunk = new PagedArray(Uint32Array);
  /** Arena offset of the id; the meta follows it. */
  private readonly slotStart = new PagedArray(Uint32Array);
  private readonly slotKeyLength = new PagedArray(Uint32Array);
  private readonly slotEnd = new PagedArray(Uint32Array);
  private readonly slotHash = new PagedArray(Uint32Array);
  /** Bumped when a slot is freed, so the id order can tell a reused slot from the one it listed. */
  private readonly slotGeneration = new PagedArray(Uint32Array);
  private readonly slotSegment = new PagedArray(Uint32Array);
  private readonly slotOffset = new PagedArray(Float64Array);
  private readonly slotLength = new PagedArray(Float64Array);
  private readonly slotFlags = new PagedArray(Uint8Array);
  private readonly slotFileOffset = new PagedArray(Float64Array);
  private readonly slotFileLength = new PagedArray(Float64Array);
  private freeSlots: number[] = [];
  private nextSlot = 0;

  // Arena chunks; a chunk is dropped when its last slot goes.
  private chunks: (Buffer | undefined)[] = [];
  private chunkLive: number[] = [];
  private fill = 0;

  // The id order: slots (with the generation they had when listed) in
  // insertion order, sorted when a listing needs it; paged like the slots.
  private readonly orderSlot = new PagedArray(Int32Array);
  private readonly orderGeneration = new PagedArray(Uint32Array);
  private orderCapacity = 0;
  private orderLength = 0;
  private sorted = true;
  private stale = 0;
  private lastKey = Buffer.allocUnsafeSlow(256);
  private lastKeyLength = -1;

  /**
   * @param shard the queue shard whose store this index serves: every
   * location it hands out names it (0, the unsharded layout, is left out).
   */
  constructor(private readonly shard = 0) {
    this.table = new IdTable({
      hashOf: (slot) => this.slotHash.get(slot),
      keyEquals: (slot, key, length) => this.keyEquals(slot, key, length),
    });
  }

  get size(): number {
    return this.count;
  }

  /** The queue shard this index serves. */
  get shardNumber(): number {
    return this.shard;
  }

  private find(queueId: string): number {
    const length = this.keys.encode(queueId);
    return this.table.find(this.keys.buf, length, this.keys.hash(length));
  }

  has(queueId: string): boolean {
    return this.find(queueId) >= 0;
  }

  /** The message, decoded afresh unless it is held; do not mutate it. */
  get(queueId: string): QueuedMessage | undefined {
    const slot = this.find(queueId);
    return slot < 0 ? undefined : this.read(slot, queueId);
  }

  private read(slot: number, queueId: string): QueuedMessage {
    return this.slotFlags.get(slot) & FLAG_HELD ? (this.held.get(slot) as QueuedMessage) : this.unpack(queueId, slot, false);
  }

  /** Where a message's content lies, without decoding it. */
  location(queueId: string): BodyLocation | undefined {
    const slot = this.find(queueId);
    if (slot < 0) return undefined;
    return this.locationOf(slot);
  }

  private locationOf(slot: number, queueId?: string): BodyLocation {
    const at: BodyLocation = { segment: this.slotSegment.get(slot), offset: this.slotOffset.get(slot), length: this.slotLength.get(slot) };
    if (this.shard > 0) at.shard = this.shard;
    if (this.slotFlags.get(slot) & FLAG_FILE) {
      at.file = { name: queueId ?? this.idOf(slot), offset: this.slotFileOffset.get(slot), length: this.slotFileLength.get(slot) };
    }
    return at;
  }

  /** Calls `fn` with each live message whose body is in a file of its own. */
  forEachBodyFile(fn: (queueId: string, offset: number, length: number) => void): void {
    for (let slot = 0; slot < this.nextSlot; slot++) {
      const f = this.slotFlags.get(slot);
      if (f & FLAG_LIVE && f & FLAG_FILE) fn(this.idOf(slot), this.slotFileOffset.get(slot), this.slotFileLength.get(slot));
    }
  }

  /** The held object of a message, unpacking it for good; for changing it in place. */
  promote(queueId: string): QueuedMessage | undefined {
    const slot = this.find(queueId);
    if (slot < 0) return undefined;
    if (this.slotFlags.get(slot) & FLAG_HELD) return this.held.get(slot);
    const q = this.unpack(queueId, slot, true);
    this.held.set(slot, q);
    this.slotFlags.set(slot, this.slotFlags.get(slot) | FLAG_HELD);
    return q;
  }

  /**
   * Adds or replaces a message: its meta bytes meta[start, end) are copied,
   * so the caller's buffer is not kept.
   */
  putPacked(queueId: string, meta: Buffer, start: number, end: number, hold: boolean, ready: boolean, location: BodyLocation): void {
    const keyLength = this.keys.encode(queueId);
    const hash = this.keys.hash(keyLength);
    let slot = this.table.find(this.keys.buf, keyLength, hash);
    if (slot >= 0) {
      this.releaseArena(slot);
      this.held.delete(slot);
    } else {
      slot = this.allocSlot();
      this.slotHash.set(slot, hash);
      this.table.add(slot, hash);
      this.addToOrder(slot, keyLength);
      this.count++;
    }
    this.allocArena(slot, keyLength, end - start);
    const chunk = this.chunks[this.slotChunk.get(slot)] as Buffer;
    let at = this.slotStart.get(slot);
    // Byte loops, not copy() or a view: a few hundred bytes, and no object made per message.
    const key = this.keys.buf;
    for (let i = 0; i < keyLength; i++) chunk[at++] = key[i];
    for (let i = start; i < end; i++) chunk[at++] = meta[i];
    this.slotSegment.set(slot, location.segment);
    this.slotOffset.set(slot, location.offset);
    this.slotLength.set(slot, location.length);
    let flags = FLAG_LIVE | (hold ? FLAG_HOLD : 0) | (ready ? FLAG_READY : 0);
    if (location.file) {
      flags |= FLAG_FILE;
      this.slotFileOffset.set(slot, location.file.offset);
      this.slotFileLength.set(slot, location.file.length);
    }
    this.slotFlags.set(slot, flags);
  }

  /**
   * Moves a message's content to `to` (after a compaction copy), unless it
   * no longer lies at `from` (replaced meanwhile); true when moved.
   */
  relocate(queueId: string, from: BodyLocation, to: BodyLocation): boolean {
    const slot = this.find(queueId);
    if (slot < 0) return false;
    if (this.slotSegment.get(slot) !== from.segment || this.slotOffset.get(slot) !== from.offset) return false;
    this.slotSegment.set(slot, to.segment);
    this.slotOffset.set(slot, to.offset);
    this.slotLength.set(slot, to.length);
    const q = this.held.get(slot);
    if (q) q.location = { ...to };
    return true;
  }

  /** Drops a message; false when it was not there. */
  remove(queueId: string): boolean {
    const slot = this.find(queueId);
    if (slot < 0) return false;
    this.table.delete(slot, this.slotHash.get(slot));
    this.releaseArena(slot);
    this.held.delete(slot);
    this.slotFlags.set(slot, 0);
    this.slotGeneration.set(slot, this.slotGeneration.get(slot) + 1);
    this.freeSlots.push(slot);
    this.count--;
    if (++this.stale > SWEEP_AFTER && this.stale > this.count) this.sweep();
    return true;
  }

  /** Every live message, in no particular order; decoded afresh unless held. */
  *values(): IterableIterator<QueuedMessage> {
    for (let slot = 0; slot < this.nextSlot; slot++) {
      if (this.slotFlags.get(slot) & FLAG_LIVE) yield this.read(slot, this.idOf(slot));
    }
  }

  /** Calls `fn` with each live message's id, content segment and size, without decoding its meta. */
  forEachLocation(fn: (queueId: string, segment: number, size: number) => void): void {
    for (let slot = 0; slot < this.nextSlot; slot++) {
      if (this.slotFlags.get(slot) & FLAG_LIVE) fn(this.idOf(slot), this.slotSegment.get(slot), this.slotLength.get(slot));
    }
  }

  /**
   * Content bytes of live messages in segments before `segment`, plus
   * `perMessage` for each; no ids made, no meta decoded.
   */
  bytesBefore(segment: number, perMessage = 0): number {
    let bytes = 0;
    for (let slot = 0; slot < this.nextSlot; slot++) {
      if (this.slotFlags.get(slot) & FLAG_LIVE && this.slotSegment.get(slot) < segment) bytes += this.slotLength.get(slot) + perMessage;
    }
    return bytes;
  }

  /** A page of live messages in queue-id order, after `after` (exclusive). */
  list(after: string | undefined, limit: number): { messages: QueuedMessage[]; next?: string } {
    this.ensureSorted();
    let lo = 0;
    if (after !== undefined) {
      const length = this.keys.encode(after);
      let hi = this.orderLength;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.compareKey(this.orderSlot.get(mid), this.keys.buf, length) <= 0) lo = mid + 1;
        else hi = mid;
      }
    }
    const messages: QueuedMessage[] = [];
    const max = Math.max(0, Math.floor(limit));
    let i = lo;
    for (; i < this.orderLength && messages.length < max; i++) {
      const slot = this.orderSlot.get(i);
      messages.push(this.read(slot, this.idOf(slot)));
    }
    const page: { messages: QueuedMessage[]; next?: string } = { messages };
    if (i < this.orderLength && messages.length > 0) page.next = messages[messages.length - 1].queueId;
    return page;
  }

  /** Counts by Postfix queue state; `corrupt` is filled in by the caller. */
  counts(corrupt: number): QueueCounts {
    let active = 0;
    let deferred = 0;
    let hold = 0;
    for (let slot = 0; slot < this.nextSlot; slot++) {
      const f = this.slotFlags.get(slot);
      if (!(f & FLAG_LIVE)) continue;
      if (f & FLAG_HELD) {
        const q = this.held.get(slot) as QueuedMessage;
        if (q.hold) hold++;
        else if (q.recipients.some((r) => r.state === 'ready')) active++;
        else deferred++;
      } else if (f & FLAG_HOLD) hold++;
      else if (f & FLAG_READY) active++;
      else deferred++;
    }
    return { incoming: 0, active, deferred, hold, corrupt, total: this.count };
  }

  /** The id of a live slot, as a string. */
  private idOf(slot: number): string {
    const chunk = this.chunks[this.slotChunk.get(slot)] as Buffer;
    const start = this.slotStart.get(slot);
    return chunk.toString('utf8', start, start + this.slotKeyLength.get(slot));
  }

  private keyEquals(slot: number, key: Uint8Array, length: number): boolean {
    if (this.slotKeyLength.get(slot) !== length) return false;
    const chunk = this.chunks[this.slotChunk.get(slot)] as Buffer;
    const start = this.slotStart.get(slot);
    for (let i = 0; i < length; i++) if (chunk[start + i] !== key[i]) return false;
    return true;
  }

  /** Byte order of a slot's id against key[0, length): negative, zero or positive. */
  private compareKey(slot: number, key: Uint8Array, length: number): number {
    const chunk = this.chunks[this.slotChunk.get(slot)] as Buffer;
    const start = this.slotStart.get(slot);
    const n = this.slotKeyLength.get(slot);
    const common = Math.min(n, length);
    for (let i = 0; i < common; i++) {
      const d = chunk[start + i] - key[i];
      if (d !== 0) return d;
    }
    return n - length;
  }

  /** Byte order of two slots' ids. */
  private compareSlots(a: number, b: number): number {
    const chunk = this.chunks[this.slotChunk.get(b)] as Buffer;
    const start = this.slotStart.get(b);
    return this.compareKey(a, chunk.subarray(start, start + this.slotKeyLength.get(b)), this.slotKeyLength.get(b));
  }

  /** Lists a new slot at the end of the id order; the order stays sorted while ids arrive ascending. */
  private addToOrder(slot: number, keyLength: number): void {
    if (this.orderLength === this.orderCapacity) {
      this.orderSlot.addPage();
      this.orderGeneration.addPage();
      this.orderCapacity += PAGE;
    }
    this.orderSlot.set(this.orderLength, slot);
    this.orderGeneration.set(this.orderLength, this.slotGeneration.get(slot));
    this.orderLength++;
    const key = this.keys.buf;
    if (this.lastKeyLength >= 0 && this.sorted) {
      const common = Math.min(keyLength, this.lastKeyLength);
      let d = 0;
      for (let i = 0; i < common && d === 0; i++) d = key[i] - this.lastKey[i];
      if (d < 0 || (d === 0 && keyLength <= this.lastKeyLength)) this.sorted = false;
    }
    if (keyLength > this.lastKey.length) this.lastKey = Buffer.allocUnsafeSlow(keyLength * 2);
    for (let i = 0; i < keyLength; i++) this.lastKey[i] = key[i];
    this.lastKeyLength = keyLength;
  }

  /** Drops listed slots that were removed since (their generation moved on). */
  private sweep(): void {
    let n = 0;
    for (let i = 0; i < this.orderLength; i++) {
      const slot = this.orderSlot.get(i);
      if (this.slotFlags.get(slot) & FLAG_LIVE && this.slotGeneration.get(slot) === this.orderGeneration.get(i)) {
        this.orderSlot.set(n, slot);
        this.orderGeneration.set(n, this.orderGeneration.get(i));
        n++;
      }
    }
    this.orderLength = n;
    this.stale = 0;
  }

  private ensureSorted(): void {
    if (this.stale > 0) this.sweep();
    if (this.sorted) return;
    const flat = new Int32Array(this.orderLength);
    for (let i = 0; i < flat.length; i++) flat[i] = this.orderSlot.get(i);
    flat.sort((a, b) => this.compareSlots(a, b));
    for (let i = 0; i < flat.length; i++) {
      this.orderSlot.set(i, flat[i]);
      this.orderGeneration.set(i, this.slotGeneration.get(flat[i]));
    }
    this.sorted = true;
    // The next id is compared with the largest one listed.
    const last = this.orderLength > 0 ? this.orderSlot.get(this.orderLength - 1) : -1;
    if (last < 0) {
      this.lastKeyLength = -1;
      return;
    }
    const length = this.slotKeyLength.get(last);
    if (length > this.lastKey.length) this.lastKey = Buffer.allocUnsafeSlow(length * 2);
    const chunk = this.chunks[this.slotChunk.get(last)] as Buffer;
    chunk.copy(this.lastKey, 0, this.slotStart.get(last), this.slotStart.get(last) + length);
    this.lastKeyLength = length;
  }

  /** Decodes a message's meta; `keep` interns its values (it will live on). */
  private unpack(queueId: string, slot: number, keep: boolean): QueuedMessage {
    const chunk = this.chunks[this.slotChunk.get(slot)] as Buffer;
    const meta = decodeMeta(chunk, this.slotStart.get(slot) + this.slotKeyLength.get(slot), this.slotEnd.get(slot));
    if (!meta) throw new Error(`queue index: packed meta of ${queueId} does not decode`);
    const q = meta as unknown as QueuedMessage;
    q.queueId = queueId;
    q.hold = q.hold === true;
    q.location = this.locationOf(slot, queueId);
    q.size = this.slotLength.get(slot) + (q.location.file ? q.location.file.length : 0);
    if (keep) internMessage(q);
    return q;
  }

  private allocSlot(): number {
    const slot = this.freeSlots.pop();
    if (slot !== undefined) return slot;
    if (this.nextSlot === this.capacity) this.grow();
    return this.nextSlot++;
  }

  /** Gives a slot keyLength + metaLength bytes of arena. */
  private allocArena(slot: number, keyLength: number, metaLength: number): void {
    const bytes = keyLength + metaLength;
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
    this.slotChunk.set(slot, c);
    this.slotStart.set(slot, this.fill);
    this.slotKeyLength.set(slot, keyLength);
    this.slotEnd.set(slot, this.fill + bytes);
    this.fill += bytes;
    this.chunkLive[c]++;
  }

  private releaseArena(slot: number): void {
    const c = this.slotChunk.get(slot);
    // The chunk being filled stays; an older one goes with its last message.
    if (--this.chunkLive[c] === 0 && c !== this.chunks.length - 1) this.chunks[c] = undefined;
  }

  private grow(): void {
    for (const a of [this.slotChunk, this.slotStart, this.slotKeyLength, this.slotEnd, this.slotHash, this.slotGeneration,
      this.slotSegment, this.slotOffset, this.slotLength, this.slotFlags, this.slotFileOffset, this.slotFileLength]) a.addPage();
    this.capacity += PAGE;
  }
}

const PAGE_BITS = 14;
const PAGE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE - 1;

type NumberArray = Uint8Array | Int32Array | Uint32Array | Float64Array;

/** A growable array of numbers in fixed pages of PAGE entries, zero-filled; growing copies nothing. */
class PagedArray<T extends NumberArray> {
  private readonly pages: T[] = [];

  constructor(private readonly make: new (n: number) => T) {}

  get(i: number): number {
    return this.pages[i >>> PAGE_BITS][i & PAGE_MASK];
  }

  set(i: number, v: number): void {
    this.pages[i >>> PAGE_BITS][i & PAGE_MASK] = v;
  }

  addPage(): void {
    this.pages.push(new this.make(PAGE));
  }
}
