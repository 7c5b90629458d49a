/**
 * fuzz-prng: the fuzzers' seeded pseudo-random numbers (sfc32, seeded
 * through splitmix32), so that a case is a pure function of its seed and a
 * failure found in a long campaign is replayed by its seed alone. Not for
 * anything secret. Never throws.
 *
 *   const r = new Prng(0x1234);
 *   r.int(10); r.chance(0.2); r.pick(['a', 'b']); r.bytes(16);
 *   caseSeed(campaignSeed, i)   // the seed of the i-th case of a campaign
 */

/** splitmix32: spreads a 32-bit seed over the generator's state. */
function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A small, fast generator with a 128-bit state; the same seed gives the same sequence on every machine. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    const mix = splitmix32(seed);
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    // the first outputs of sfc32 still show the seed
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** A uniform integer in [0, n); 0 when n <= 1. */
  int(n: number): number {
    if (n <= 1) return 0;
    return Math.floor((this.next() / 0x1_0000_0000) * n);
  }

  /** A uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  /** One element of a non-empty list. */
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)];
  }

  /** One element, chosen by weight: [[weight, value], ...]. */
  weighted<T>(table: ReadonlyArray<readonly [number, T]>): T {
    let total = 0;
    for (const [w] of table) total += w;
    let x = (this.next() / 0x1_0000_0000) * total;
    for (const [w, v] of table) {
      if (x < w) return v;
      x -= w;
    }
    return table[table.length - 1][1];
  }

  /** n bytes of any value (NUL and 8-bit included). */
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /** A fresh generator whose sequence depends on this one's next output only (for sub-streams). */
  fork(): Prng {
    return new Prng(this.next());
  }
}

/** The seed of case `index` of a campaign: distinct cases of one campaign never share a seed stream. */
export function caseSeed(campaignSeed: number, index: number): number {
  const mix = splitmix32((campaignSeed ^ Math.imul(index + 1, 0x27d4eb2d)) >>> 0);
  mix();
  return mix();
}

/** "0x0012abcd": how seeds are printed and read back. */
export function formatSeed(seed: number): string {
  return '0x' + (seed >>> 0).toString(16).padStart(8, '0');
}

/** Reads a seed written in decimal or 0x-hex; undefined when it is not one. */
export function parseSeed(text: string): number | undefined {
  const t = text.trim();
  if (/^0x[0-9a-f]{1,8}$/i.test(t)) return Number.parseInt(t.slice(2), 16) >>> 0;
  if (/^\d{1,10}$/.test(t) && Number(t) <= 0xffffffff) return Number(t) >>> 0;
  return undefined;
}
