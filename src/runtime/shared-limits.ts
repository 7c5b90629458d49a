/**
 * shared-limits: concurrency counters that every queue shard's qmgr takes
 * from, so that a per-destination limit (default_destination_concurrency_limit,
 * <transport>_destination_concurrency_limit) and a transport's process limit
 * stay one limit for the host however many shards schedule deliveries.
 *
 * The counters live in a SharedArrayBuffer the supervisor makes (one per
 * daemon) and hands to each qmgr. A key (a destination or a transport) owns
 * an entry of an open-addressed table, found by a 64-bit fingerprint of the
 * key; each entry counts the deliveries in flight per shard. Taking a slot
 * checks the sum against the limit and adds one under a short mutex, so the
 * limit is exact and never exceeded (a fingerprint collision between two
 * keys would only make them share one limit, stricter, never looser).
 * Counting per shard lets a restarted qmgr clear what its dead predecessor
 * held, as a new single qmgr starts its own counts from zero. A delivery
 * also takes a slot of one lane of its destination (qmgr-lanes: which
 * agent thread delivers it), chosen under the same lock from what every
 * shard holds in each lane, so the lanes' quotas hold for the host too.
 * Releasing a slot bumps a generation word and notifies it; a qmgr that
 * found a limit reached waits on that word (Atomics.waitAsync) and
 * schedules again.
 *
 * Why a shared table rather than a coordinating thread: a slot is taken and
 * given back once per delivery; a round trip to another thread per delivery
 * costs more than the scheduling it guards, while a compare-and-swap lock
 * held for a few hundred nanoseconds costs almost nothing and cannot lose a
 * message in flight between threads.
 *
 * Errors: none thrown in normal use; a table full of keys with deliveries in
 * flight (more than its capacity at once) refuses the slot, which only
 * delays the delivery until a slot frees.
 */

/** Atomics.waitAsync (Node >= 16), which the configured TypeScript library does not declare yet. */
interface AtomicsWaitAsync {
  waitAsync(a: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}

/** The lanes of a destination (qmgr-lanes): each lane's key in the table, and the choice of one from what each holds. */
export interface LaneChoice {
  key(lane: number): string;
  pick(busy: (lane: number) => number): number;
}

/** No entry to keep (entry()'s `keep`), without an array made per call: a slot is taken and given back per delivery. */
const NONE: readonly number[] = [];

/** Header words. */
const LOCK = 0;
const GENERATION = 1;
const SHARDS = 2;
const CAPACITY = 3;
const USED = 4;
const HEADER = 8;
/** Entry words before the per-shard counts. */
const FP_HI = 0;
const FP_LO = 1;
const COUNTS = 2;

/** Distinct keys with deliveries in flight the table can hold (destinations and transports). */
export const DEFAULT_LIMIT_KEYS = 16_384;
/** Spins before a contended lock sleeps. */
const SPINS = 200;

/** Makes the shared buffer for `shards` shards (the supervisor does, once). */
export function createLimitTable(shards: number, capacity = DEFAULT_LIMIT_KEYS): SharedArrayBuffer {
  const words = HEADER + capacity * (COUNTS + shards);
  const sab = new SharedArrayBuffer(words * 4);
  const a = new Int32Array(sab);
  a[SHARDS] = shards;
  a[CAPACITY] = capacity;
  return sab;
}

function fnv(key: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** One shard's view of the shared counters. */
export class SharedLimits {
  private readonly a: Int32Array;
  private readonly shards: number;
  private readonly capacity: number;
  private readonly stride: number;
  private readonly owner: number;
  private waiting = false;

  /** @param shard this qmgr's shard (0 ..); the table must have been made for more shards than that. */
  constructor(sab: SharedArrayBuffer, private readonly shard: number) {
    this.a = new Int32Array(sab);
    this.shards = this.a[SHARDS];
    this.capacity = this.a[CAPACITY];
    this.stride = COUNTS + this.shards;
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.shards) throw new RangeError(`shard ${shard} out of range for a table of ${this.shards}`);
    this.owner = shard + 1;
  }

  /**
   * Starts this shard afresh: a lock its dead predecessor held is freed and
   * every count it held is cleared (its deliveries are no longer tracked,
   * as a restarted qmgr does not track the old one's).
   */
  reset(): void {
    Atomics.compareExchange(this.a, LOCK, this.owner, 0);
    this.lock();
    try {
      for (let e = 0; e < this.capacity; e++) this.a[HEADER + e * this.stride + COUNTS + this.shard] = 0;
    } finally {
      this.unlock();
    }
    this.bump();
  }

  /** The generation now: read it before trying, and pass it to wake(). */
  generation(): number {
    return Atomics.load(this.a, GENERATION);
  }

  /**
   * Takes one slot of `key` (at most `limit` across all shards) and, when
   * `key2` is given, one of `key2` (at most `limit2`) with it: both or none.
   */
  acquire(key: string, limit: number, key2?: string, limit2 = 0): boolean {
    this.lock();
    try {
      const e1 = this.entry(key, true, NONE);
      if (e1 < 0 || this.sum(e1) >= limit) return false;
      let e2 = -1;
      if (key2 !== undefined) {
        e2 = this.entry(key2, true, [e1]);
        if (e2 < 0 || this.sum(e2) >= limit2) return false;
      }
      this.a[e1 + COUNTS + this.shard]++;
      if (e2 >= 0) this.a[e2 + COUNTS + this.shard]++;
      return true;
    } finally {
      this.unlock();
    }
  }

  /**
   * As acquire(key, limit, key2, limit2), and with them a slot of one of
   * `key`'s lanes, which `lanes.pick` chooses from what each lane holds
   * across all shards: all three or none. The lane taken, or -1.
   */
  acquireLane(key: string, limit: number, key2: string, limit2: number, lanes: LaneChoice): number {
    this.lock();
    try {
      const e1 = this.entry(key, true, NONE);
      if (e1 < 0 || this.sum(e1) >= limit) return -1;
      const e2 = this.entry(key2, true, [e1]);
      if (e2 < 0 || this.sum(e2) >= limit2) return -1;
      const lane = lanes.pick((l) => {
        const e = this.entry(lanes.key(l), false, NONE);
        return e < 0 ? 0 : this.sum(e);
      });
      if (lane < 0) return -1;
      const e3 = this.entry(lanes.key(lane), true, [e1, e2]);
      if (e3 < 0) return -1;
      this.a[e1 + COUNTS + this.shard]++;
      this.a[e2 + COUNTS + this.shard]++;
      this.a[e3 + COUNTS + this.shard]++;
      return lane;
    } finally {
      this.unlock();
    }
  }

  /** Gives back a slot of each key this shard took; wakes every shard waiting for one. */
  release(...keys: string[]): void {
    this.lock();
    try {
      for (const k of keys) {
        const e = this.entry(k, false, NONE);
        if (e >= 0 && this.a[e + COUNTS + this.shard] > 0) this.a[e + COUNTS + this.shard]--;
      }
    } finally {
      this.unlock();
    }
    this.bump();
  }

  /** Deliveries in flight for `key` across all shards. */
  inFlight(key: string): number {
    this.lock();
    try {
      const e = this.entry(key, false, NONE);
      return e < 0 ? 0 : this.sum(e);
    } finally {
      this.unlock();
    }
  }

  /**
   * Calls `fn` once some shard releases a slot after generation `seen`
   * (at once if one already has). One wait at a time: calls while one is
   * pending are folded into it.
   */
  wake(seen: number, fn: () => void): void {
    if (this.waiting) return;
    this.waiting = true;
    const r = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.a, GENERATION, seen);
    const done = (): void => {
      this.waiting = false;
      fn();
    };
    if (r.async) void r.value.then(done);
    else queueMicrotask(done);
  }

  private bump(): void {
    Atomics.add(this.a, GENERATION, 1);
    Atomics.notify(this.a, GENERATION);
  }

  private sum(e: number): number {
    let n = 0;
    for (let s = 0; s < this.shards; s++) n += this.a[e + COUNTS + s];
    return n;
  }

  private idle(e: number): boolean {
    return this.sum(e) === 0;
  }

  /**
   * The word offset of `key`'s entry, or -1. With `create`, an entry is
   * made (reusing an idle one on the probe path, or an empty one); `keep`
   * are entries that must not be reused for it (the other keys taken with
   * it). Runs under the lock.
   */
  private entry(key: string, create: boolean, keep: readonly number[]): number {
    let hi = fnv(key, 0x811c9dc5 | 0);
    const lo = fnv(key, 0x2f1c3a5b);
    if (hi === 0 && lo === 0) hi = 1;
    let i = (lo >>> 0) % this.capacity;
    let reusable = -1;
    for (let probes = 0; probes < this.capacity; probes++, i = (i + 1) % this.capacity) {
      const e = HEADER + i * this.stride;
      const h = this.a[e + FP_HI];
      const l = this.a[e + FP_LO];
      if (h === hi && l === lo) return e;
      if (h === 0 && l === 0) {
        // The end of the probe path: the key has no entry.
        if (!create) return -1;
        const at = reusable >= 0 ? reusable : e;
        if (at === e) {
          if (this.a[USED] * 4 >= this.capacity * 3) return this.rebuildThen(key, keep);
          this.a[USED]++;
        }
        this.a[at + FP_HI] = hi;
        this.a[at + FP_LO] = lo;
        return at;
      }
      if (reusable < 0 && !keep.includes(e) && this.idle(e)) reusable = e;
    }
    if (!create || reusable < 0) return -1;
    this.a[reusable + FP_HI] = hi;
    this.a[reusable + FP_LO] = lo;
    return reusable;
  }

  /**
   * Three quarters of the entries were used once: drop every idle one and
   * place the busy ones again, so probe paths stay short; then find `key`.
   * `keep` (entries the caller holds) stay where they are.
   */
  private rebuildThen(key: string, keep: readonly number[]): number {
    const busy: number[][] = [];
    for (let i = 0; i < this.capacity; i++) {
      const e = HEADER + i * this.stride;
      if (keep.includes(e)) continue;
      if ((this.a[e + FP_HI] !== 0 || this.a[e + FP_LO] !== 0) && !this.idle(e)) busy.push(Array.from(this.a.subarray(e, e + this.stride)));
      this.a.fill(0, e, e + this.stride);
    }
    this.a[USED] = keep.length;
    for (const words of busy) {
      let i = (words[FP_LO] >>> 0) % this.capacity;
      while (this.a[HEADER + i * this.stride + FP_HI] !== 0 || this.a[HEADER + i * this.stride + FP_LO] !== 0) i = (i + 1) % this.capacity;
      this.a.set(words, HEADER + i * this.stride);
      this.a[USED]++;
    }
    if (this.a[USED] * 4 >= this.capacity * 3) return -1;
    return this.entry(key, true, keep);
  }

  private lock(): void {
    const a = this.a;
    for (let spin = 0; ; spin++) {
      const held = Atomics.compareExchange(a, LOCK, 0, this.owner);
      if (held === 0) return;
      if (spin >= SPINS) Atomics.wait(a, LOCK, held, 1);
    }
  }

  private unlock(): void {
    Atomics.store(this.a, LOCK, 0);
    Atomics.notify(this.a, LOCK, 1);
  }
}
