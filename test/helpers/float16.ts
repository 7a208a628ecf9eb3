/**
 * Reference float16 / bfloat16 conversions, written from the value definitions in float64 (not from
 * the bit tricks the native code uses), so the tests check the native results independently.
 */

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** floor(log2(a)) for a > 0, exact. */
function exponent(a: number): number {
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  return e;
}

/**
 * Rounds `x` to a binary format with `mant` fraction bits, minimum normal exponent `emin` and
 * maximum finite value `max`, ties to even; returns the rounded value (±Infinity on overflow).
 */
function roundTo(x: number, mant: number, emin: number, max: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  const e = Math.max(exponent(a), emin);
  const ulp = 2 ** (e - mant);
  const r = roundHalfEven(a / ulp) * ulp;
  const s = Math.sign(x);
  return r > max ? s * Infinity : s * r;
}

const HALF_MAX = 65504;
const BF16_MAX = (2 - 2 ** -7) * 2 ** 127;

/** float64 value of a float16 bit pattern. */
export function halfBitsToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** float64 value of a bfloat16 bit pattern. */
export function bf16BitsToNumber(h: number): number {
  const f = new Float32Array(new Uint32Array([h << 16]).buffer);
  return f[0]!;
}

/** The float16 bit pattern nearest to `x` (ties to even); NaN gives a NaN pattern. */
export function numberToHalfBits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const r = roundTo(x, 10, -14, HALF_MAX);
  const sign = r < 0 || Object.is(r, -0) ? 0x8000 : 0;
  const a = Math.abs(r);
  if (a === Infinity) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24);
  const e = exponent(a);
  return sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
}

/** The bfloat16 bit pattern nearest to `x` (ties to even); NaN gives a NaN pattern. */
export function numberToBf16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7fc0;
  const r = roundTo(x, 7, -126, BF16_MAX);
  const bits = new Uint32Array(new Float32Array([r]).buffer)[0]!;
  return bits >>> 16;
}

export function isHalfNaN(h: number): boolean {
  return (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
}

export function isBf16NaN(h: number): boolean {
  return (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
}

/** Float32 values that exercise every rounding case: signed zeros, subnormals, ties, overflow, NaN. */
export function specialFloats(): Float32Array {
  const v = [0, -0, 1, -1, Infinity, -Infinity, NaN, 65504, 65519.99, 65520, -65520, 1e5, 2 ** -14, 2 ** -24,
    2 ** -25, 2 ** -25 * 1.0001, 2 ** -26, 3 * 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8,
    3.4028234663852886e38, -3.4028234663852886e38, 1e-40, -1e-45, 1.17549435e-38, 0.1, 1 / 3, Math.PI];
  return new Float32Array(v);
}
