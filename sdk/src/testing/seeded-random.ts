// A seeded pseudo-random generator for tests and benchmarks that must see the same "random" data
// on every run and machine, so a failure can be replayed.

/** mulberry32: numbers in [0, 1) from a 32-bit seed; small, fast and the same everywhere. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
