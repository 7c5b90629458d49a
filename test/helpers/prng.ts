/**
 * prng: a small deterministic generator (xorshift32) for tests that try
 * many random inputs, so a failure names a seed that replays it.
 */

/** Numbers in [0, 1) from `seed`. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Whole numbers in [0, n) from `seed`. */
export function prngInt(seed: number): (n: number) => number {
  const r = prng(seed);
  return (n) => Math.floor(r() * n);
}
