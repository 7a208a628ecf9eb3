/**
 * Element values for fuzz tensors, and the comparison of what comes back from the library with what
 * went in (bit-exact for float32, through the reference rounding of test/helpers/float16.ts for the
 * 16-bit dtypes).
 */
import type { DType } from '../../ts/index.js';
import {
  bf16BitsToNumber, halfBitsToNumber, isBf16NaN, isHalfNaN, numberToBf16Bits, numberToHalfBits,
} from '../helpers/float16.js';
import { CheckFailure } from './case.js';
import type { Random } from './random.js';

/** Non-finite and extreme float32 values. */
const SPECIAL_FLOATS = [NaN, Infinity, -Infinity, -0, 3.4028234663852886e38, -3.4028234663852886e38, 1e-45, 65520, 1e30];

export type ValueKind = 'normal' | 'zeros' | 'large' | 'special';

/** `n` float32 values of `kind`; `special` sprinkles SPECIAL_FLOATS into normal values. */
export function floatValues(r: Random, n: number, kind: ValueKind): Float32Array {
  if (kind === 'zeros') return new Float32Array(n);
  const out = r.normals(n, kind === 'large' ? 1e4 : 1);
  if (kind === 'special') for (let i = 0; i < n; i++) if (r.chance(0.2)) out[i] = r.pick(SPECIAL_FLOATS);
  return out;
}

/** Whether every value is finite. */
export function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/** A float32 value as stored in `dtype` (the bit pattern for 16-bit dtypes). */
export function encode(x: number, dtype: DType): number {
  return dtype === 'float16' ? numberToHalfBits(x) : dtype === 'bfloat16' ? numberToBf16Bits(x) : x;
}

/** The number a stored element of `dtype` stands for. */
export function decode(x: number, dtype: DType): number {
  return dtype === 'float16' ? halfBitsToNumber(x) : dtype === 'bfloat16' ? bf16BitsToNumber(x) : x;
}

function isNaNElement(x: number, dtype: DType): boolean {
  return dtype === 'float16' ? isHalfNaN(x) : dtype === 'bfloat16' ? isBf16NaN(x) : Number.isNaN(x);
}

/** Checks `got` (as toArray() returns it for `dtype`) against the elements `want`: equal, or NaN where NaN. */
export function expectElements(got: ArrayLike<number>, want: ArrayLike<number>, dtype: DType, what: string): void {
  if (got.length !== want.length) throw new CheckFailure(`${what}: ${got.length} elements, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (isNaNElement(w, dtype) ? !isNaNElement(g, dtype) : !Object.is(g, w)) {
      throw new CheckFailure(`${what}: element ${i} is ${g}, expected ${w} (${dtype})`);
    }
  }
}
