/**
 * Random attention problems for the kernel tests: float32 inputs (as the kernels take them), the
 * same values in float64 for the references, and tensors on the requested device.
 */
import { Tensor, type Device, type DType } from '../../ts/index.js';
import { randomArray, type Dims } from './attention-reference.js';

export interface CaseSpec {
  B: number;
  H: number;
  N: number;
  T: number;
  d: number;
  /** Pad each batch row's keys with a random number of masked keys (at least `minKeys` stay). */
  mask?: boolean;
  /** Attended keys per batch row at least (default 1). */
  minKeys?: number;
  /** Multiplies q, so logits grow with it. */
  qScale?: number;
}

export interface Case {
  dims: Dims;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  mask?: Uint8Array;
}

/** A random mask: a random-length prefix of each batch row with some holes, and the first `minKeys` keys always kept. */
export function randomMask(B: number, T: number, next: () => number, minKeys = 1): Uint8Array {
  const m = new Uint8Array(B * T);
  for (let b = 0; b < B; b++) {
    const keep = 1 + Math.floor(next() * T);
    for (let j = 0; j < T; j++) m[b * T + j] = j < minKeys || (j < keep && next() > 0.1) ? 1 : 0;
  }
  return m;
}

export function makeCase(s: CaseSpec, next: () => number): Case {
  const { B, H, N, T, d } = s;
  const c: Case = {
    dims: { B, H, N, T, d },
    q: randomArray(B * H * N * d, next, s.qScale ?? 1),
    k: randomArray(B * H * T * d, next),
    v: randomArray(B * H * T * d, next),
  };
  if (s.mask) c.mask = randomMask(B, T, next, s.minKeys);
  return c;
}

/** q, k, v as tensors (float32 values converted to `dtype` on `device`). */
export function tensors(c: Case, device: Device = 'cpu', dtype: DType = 'float32'): { q: Tensor; k: Tensor; v: Tensor } {
  const { B, H, N, T, d } = c.dims;
  return {
    q: Tensor.from(c.q, [B, H, N, d], { device, dtype }),
    k: Tensor.from(c.k, [B, H, T, d], { device, dtype }),
    v: Tensor.from(c.v, [B, H, T, d], { device, dtype }),
  };
}

/** A tensor's values as float32 on the host. */
export async function values(t: Tensor): Promise<Float32Array> {
  return (await (t.dtype === 'float32' && t.device === 'cpu' ? t : await t.to({ dtype: 'float32', device: 'cpu' })).toArray()) as Float32Array;
}
