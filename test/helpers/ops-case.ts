/**
 * Running the model ops through the internal runOp binding (native/napi/ops_binding.h), the random
 * GEMM and conv2d cases that test/ops.cpu.test.ts checks in-process and, per SIMD level, in child
 * processes, and the case lists the CPU and CUDA op tests share.
 */
import { Tensor } from '../../ts/index.js';
import { awaitNative } from '../../ts/errors.js';
import { loadNative } from '../../ts/native/load.js';
import { randomArray, relativeError } from './attention-reference.js';
import { conv2dRef, convOutSize, linearRef, type Act, type ConvShape, type TimestepRef } from './ops-reference.js';

/** One op by name; failures become DiffusionAttentionError with the native code. */
export async function runOp(name: string, inputs: Tensor[], params: object = {}): Promise<Tensor> {
  return new Tensor(await awaitNative(() => loadNative().binding.runOp(name, inputs.map((t) => t.native), params)));
}

/** The float32 values of a tensor, which is disposed. */
export async function values(t: Tensor): Promise<Float32Array> {
  const v = (await t.toArray()) as Float32Array;
  t.dispose();
  return v;
}

export interface LinearSpec {
  rows: number;
  inF: number;
  outF: number;
  bias?: boolean;
  act?: Act;
  residual?: boolean;
}

/** Relative error of linear on fresh random inputs against linearRef. */
export async function linearError(s: LinearSpec, next: () => number): Promise<number> {
  const x = randomArray(s.rows * s.inF, next);
  const w = randomArray(s.outF * s.inF, next, 1 / Math.sqrt(s.inF));
  const bias = s.bias ? randomArray(s.outF, next) : undefined;
  const residual = s.residual ? randomArray(s.rows * s.outF, next) : undefined;
  const inputs = [Tensor.from(x, [s.rows, s.inF]), Tensor.from(w, [s.outF, s.inF])];
  if (bias) inputs.push(Tensor.from(bias, [s.outF]));
  if (residual) inputs.push(Tensor.from(residual, [s.rows, s.outF]));
  const got = await values(await runOp('linear', inputs, { bias: !!bias, residual: !!residual, activation: s.act ?? 'none' }));
  inputs.forEach((t) => t.dispose());
  return relativeError(got, linearRef(x, s.rows, s.inF, w, s.outF, { bias, act: s.act, residual }));
}

export interface ConvSpec extends ConvShape {
  bias?: boolean;
  act?: Act;
  residual?: boolean;
}

/** Relative error of conv2d on fresh random inputs against conv2dRef. */
export async function convError(s: ConvSpec, next: () => number): Promise<number> {
  const [Ho, Wo] = convOutSize(s);
  const x = randomArray(s.N * s.C * s.H * s.W, next);
  const w = randomArray(s.O * s.C * s.kh * s.kw, next, 1 / Math.sqrt(s.C * s.kh * s.kw));
  const bias = s.bias ? randomArray(s.O, next) : undefined;
  const residual = s.residual ? randomArray(s.N * s.O * Ho * Wo, next) : undefined;
  const inputs = [Tensor.from(x, [s.N, s.C, s.H, s.W]), Tensor.from(w, [s.O, s.C, s.kh, s.kw])];
  if (bias) inputs.push(Tensor.from(bias, [s.O]));
  if (residual) inputs.push(Tensor.from(residual, [s.N, s.O, Ho, Wo]));
  const params = { stride: s.stride, padding: s.pad, bias: !!bias, residual: !!residual, activation: s.act ?? 'none' };
  const got = await values(await runOp('conv2d', inputs, params));
  inputs.forEach((t) => t.dispose());
  return relativeError(got, conv2dRef(x, w, s, { bias, act: s.act, residual }));
}

/** A conv case: 3x3 (pad 1) or 1x1 (pad 0) at the given stride unless `pad` says otherwise. */
export function conv(N: number, C: number, H: number, W: number, O: number, k: number, stride = 1,
  extra: Partial<ConvSpec> = {}): ConvSpec {
  const p = k === 3 ? 1 : 0;
  return { N, C, H, W, O, kh: k, kw: k, stride, pad: [p, p, p, p], ...extra };
}

// linear shapes for every backend (test/ops.cpu.test.ts, test/ops.cuda.test.ts), chosen so every CPU
// code path is hit: the dot path for <= 4 rows and just above it, row and column counts that are no
// multiple of any block (1, 3, 17, 77, 321), several K blocks (161, 1025), partial micro-panels,
// every epilogue.
export const LINEAR_CASES: LinearSpec[] = [
  { rows: 1, inF: 1, outF: 1 },
  { rows: 1, inF: 320, outF: 1280, bias: true, act: 'silu' },
  { rows: 2, inF: 320, outF: 77, bias: true, residual: true },
  { rows: 4, inF: 77, outF: 3, act: 'gelu' },
  { rows: 5, inF: 17, outF: 17, bias: true },
  { rows: 17, inF: 3, outF: 321 },
  { rows: 77, inF: 768, outF: 64, bias: true, residual: true },
  { rows: 154, inF: 768, outF: 320, bias: true },
  { rows: 321, inF: 321, outF: 17, bias: true, act: 'gelu' },
  { rows: 97, inF: 161, outF: 130, act: 'quick_gelu', residual: true },
  { rows: 200, inF: 1025, outF: 65, bias: true },
  { rows: 64, inF: 320, outF: 640, bias: true, act: 'gelu', residual: true },
];

// Odd spatial sizes, both strides, 1x1 and 3x3 (and 3x1), the VAE's (0, 1, 0, 1) padding, channel
// counts that are no multiple of 16, several K blocks (C * 9 > 256), more pixels than one task
// holds (33 x 31), batches of small images (merged into one GEMM), a K too long for one shared
// packing buffer, a 1x1 image, a single output channel, every epilogue.
export const CONV_CASES: ConvSpec[] = [
  conv(1, 3, 7, 9, 5, 3),
  conv(2, 17, 13, 11, 33, 3, 1, { bias: true, residual: true }),
  conv(2, 20, 17, 17, 24, 3, 2, { bias: true }),
  conv(1, 8, 16, 16, 8, 3, 2, { pad: [0, 1, 0, 1] }),
  conv(2, 19, 9, 15, 7, 3, 2, { pad: [0, 1, 0, 1], bias: true }),
  conv(2, 40, 8, 8, 19, 3, 1, { bias: true, act: 'silu' }),
  conv(1, 33, 12, 10, 17, 1, 1, { residual: true }),
  conv(2, 16, 33, 31, 7, 1, 1, { bias: true, residual: true }),
  conv(1, 5, 6, 6, 3, 1, 2),
  conv(1, 4, 1, 1, 6, 3, 1, { bias: true }),
  conv(1, 2, 5, 4, 3, 3, 1, { kw: 1, pad: [1, 1, 0, 0], act: 'gelu' }),
  conv(1, 64, 20, 20, 1, 3, 1, { bias: true }),
  conv(1, 4, 32, 32, 64, 3, 1, { bias: true }),
  conv(2, 24, 5, 7, 9, 1, 1, { residual: true, act: 'quick_gelu' }),
  conv(3, 6, 7, 5, 4, 1, 2, { bias: true }),
  conv(1, 7300, 3, 3, 2, 3, 1, { bias: true, residual: true }),  // K = 65700: more than one shared K super-block
];

// group_norm: SD's 32 groups over 320 and 640 channels (64x64 and odd grids), one group, small
// group counts, 1-D and 0-D trailing shapes, affine or not, with and without the fused SiLU, inputs
// far from zero (offset) where a one-pass variance would lose precision.
export const GROUP_NORM_CASES: Array<{ shape: number[]; groups: number; eps: number; affine: boolean; silu: boolean; offset: number }> = [
  { shape: [2, 320, 64, 64], groups: 32, eps: 1e-5, affine: true, silu: true, offset: 0 },
  { shape: [2, 320, 8, 8], groups: 32, eps: 1e-6, affine: true, silu: false, offset: 3 },
  { shape: [1, 640, 5, 7], groups: 32, eps: 1e-6, affine: true, silu: true, offset: -2 },
  { shape: [2, 6, 3, 5], groups: 1, eps: 1e-5, affine: true, silu: false, offset: 0 },
  { shape: [1, 9, 7], groups: 3, eps: 1e-5, affine: false, silu: false, offset: 0 },
  { shape: [3, 4, 11, 13], groups: 2, eps: 1e-5, affine: false, silu: true, offset: 50 },
  { shape: [2, 5], groups: 5, eps: 1e-3, affine: true, silu: false, offset: 0 },
];

// layer_norm over the last dim D: a single element, odd widths, CLIP's 768, widths just past a
// power of two, many short rows, affine or not, far from zero.
export const LAYER_NORM_CASES: Array<{ rows: number; D: number; affine: boolean; offset: number }> = [
  { rows: 1, D: 1, affine: true, offset: 0 },
  { rows: 5, D: 7, affine: false, offset: 0 },
  { rows: 77, D: 768, affine: true, offset: 0 },
  { rows: 3, D: 320, affine: true, offset: 20 },
  { rows: 2, D: 1025, affine: false, offset: -7 },
  { rows: 4096, D: 40, affine: true, offset: 1 },
];

// timestep_embedding: SD's settings (320, flip, shift 0), an odd dim (zero-padded), the smallest,
// and a scaled embedding with another max period.
export const TIMESTEP_CASES: TimestepRef[] = [
  { dim: 320, flipSinToCos: true, downscaleFreqShift: 0, scale: 1, maxPeriod: 10000 },
  { dim: 321, flipSinToCos: false, downscaleFreqShift: 1, scale: 1, maxPeriod: 10000 },
  { dim: 2, flipSinToCos: true, downscaleFreqShift: 0, scale: 1, maxPeriod: 10000 },
  { dim: 64, flipSinToCos: false, downscaleFreqShift: 1, scale: 2.5, maxPeriod: 1000 },
];
