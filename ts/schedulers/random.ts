/**
 * Seeded Gaussian noise whose sequence for a seed is fixed forever: users keep seeds to regenerate
 * identical images, so nothing here may change its output. (The golden values in
 * test/schedulers.test.ts guard this; a change to them is a breaking change.)
 *
 * The algorithm, completely:
 * 1. State: four 32-bit words, filled from the 64-bit seed by SplitMix64 (Steele, Lea & Flood 2014;
 *    constants of Vigna's splitmix64.c): two outputs z1, z2 give
 *    s = [low32(z1), high32(z1), low32(z2), high32(z2)].
 * 2. Uniform 32-bit integers: xoshiro128** 1.1 (Blackman & Vigna, https://prng.di.unimi.it/):
 *    result = rotl(s1 * 5, 7) * 9; t = s1 << 9; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;
 *    s3 = rotl(s3, 11) (all mod 2^32).
 * 3. Uniform doubles in [0, 1) with 53 random bits from two integers a, b:
 *    ((a >>> 5) * 2^26 + (b >>> 6)) / 2^53.
 * 4. Standard normals: the polar form of the Box–Muller transform (Marsaglia & Bray 1964): draw
 *    u = 2 U1 - 1, v = 2 U2 - 1 until 0 < s = u^2 + v^2 < 1, then m = sqrt(-2 ln(s) / s) and the two
 *    normals u m, then v m (returned in that order).
 *
 * Only integer operations and IEEE-754 +, -, *, /, sqrt (correctly rounded everywhere) are used;
 * ln is computed here (`log` below) rather than with Math.log, whose last bit the ECMAScript spec
 * leaves to the engine. So the sequence is the same on every platform, engine and version.
 */
import { DiffusionAttentionError } from '../errors.js';

const MASK64 = (1n << 64n) - 1n;

/** SplitMix64 from `seed`; returns the next 64-bit output each call. */
function splitMix64(seed: bigint): () => bigint {
  let x = seed;
  return () => {
    x = (x + 0x9e3779b97f4a7c15n) & MASK64;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    return z ^ (z >> 31n);
  };
}

// ln 2 split so that k * LN2_HI is exact for |k| < 2^11 (the split fdlibm uses).
const LN2_HI = 6.93147180369123816490e-01;
const LN2_LO = 1.90821492927058770002e-10;
// 2 / (2j + 1) for j = 1..10: ln(m) = 2 atanh(q) = 2q + sum_j 2 q^(2j+1) / (2j + 1).
const ATANH = Array.from({ length: 10 }, (_, j) => 2 / (2 * j + 3));

/**
 * Natural logarithm of a positive finite number from basic IEEE operations only. x = m 2^k with
 * m in [sqrt(1/2), sqrt(2)) found by exact scaling; ln m = 2 atanh((m - 1) / (m + 1)) by its series
 * (|q| <= 0.172, terms to q^21: truncation below 2^-60). Error within a few ulp of ln x.
 */
export function log(x: number): number {
  if (!(x > 0) || x === Infinity) return x === 0 ? -Infinity : x === Infinity ? Infinity : NaN;
  let k = 0;
  while (x < Math.SQRT1_2) {
    x *= 2;
    k--;
  }
  while (x >= Math.SQRT2) {
    x /= 2;
    k++;
  }
  const f = x - 1; // exact: x is within a factor 2 of 1
  const q = f / (2 + f);
  const z = q * q;
  let p = ATANH[9]!;
  for (let j = 8; j >= 0; j--) p = ATANH[j]! + z * p;
  const lnm = 2 * q + q * z * p;
  return k * LN2_HI + (k * LN2_LO + lnm);
}

/** A seed: an integer from 0 to 2^64 - 1 (a number must be a safe integer). */
export type Seed = number | bigint;

/** Seeded uniform and standard-normal random numbers (see the file comment for the exact algorithm). */
export class GaussianRandom {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  #spare = NaN;
  #hasSpare = false;

  constructor(seed: Seed) {
    const ok = typeof seed === 'bigint' ? seed >= 0n && seed <= MASK64 : Number.isSafeInteger(seed) && seed >= 0;
    if (!ok) throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `seed must be an integer from 0 to 2^64 - 1 (a number must be a safe integer), got ${String(seed)}`);
    const next = splitMix64(BigInt(seed));
    const a = next();
    const b = next();
    this.#s0 = Number(a & 0xffffffffn) | 0;
    this.#s1 = Number(a >> 32n) | 0;
    this.#s2 = Number(b & 0xffffffffn) | 0;
    this.#s3 = Number(b >> 32n) | 0;
  }

  /** The next uniform 32-bit unsigned integer (xoshiro128**). */
  nextUint32(): number {
    const s1 = this.#s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= s1;
    this.#s1 = s1 ^ this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return r;
  }

  /** The next uniform double in [0, 1), 53 random bits. */
  nextDouble(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** The next standard normal (polar Box–Muller; pairs are returned first value first). */
  nextGaussian(): number {
    if (this.#hasSpare) {
      this.#hasSpare = false;
      return this.#spare;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * this.nextDouble() - 1;
      v = 2 * this.nextDouble() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * log(s)) / s);
    this.#spare = v * m;
    this.#hasSpare = true;
    return u * m;
  }

  /** `length` standard normals. */
  normals(length: number): Float64Array {
    return this.fill(new Float64Array(length));
  }

  /** Fills `out` with standard normals in order (rounded to float32 for a Float32Array). */
  fill<T extends Float32Array | Float64Array>(out: T): T {
    for (let i = 0; i < out.length; i++) out[i] = this.nextGaussian();
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
