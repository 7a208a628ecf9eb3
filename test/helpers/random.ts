/**
 * Seeded random numbers for tests. Every run draws a fresh seed (printed once, so a failure can be
 * replayed with TEST_SEED=<seed> npm test).
 */
export const SEED = Number(process.env.TEST_SEED ?? Date.now() % 2 ** 31);
let announced = false;

/** A mulberry32 generator: uniform floats in [0, 1). */
export function rng(seed = SEED): () => number {
  if (!announced) {
    console.log(`random seed: ${SEED} (replay with TEST_SEED=${SEED})`);
    announced = true;
  }
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Float32 values spread over many magnitudes (1e-9 to 1e6), both signs, plus normal samples. */
export function randomFloats(n: number, next: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const mag = 10 ** (next() * 15 - 9);
    out[i] = (next() < 0.5 ? -1 : 1) * (i % 3 === 0 ? next() * 4 : mag);
  }
  return out;
}
