/**
 * Running the model ops through the internal runOp binding (native/napi/ops_binding.h), and the
 * random GEMM and conv2d cases that test/ops.cpu.test.ts checks in-process and, per SIMD level, in
 * child processes.
 */
import { Tensor } from '../../ts/index.js';
import { awaitNative } from '../../ts/errors.js';
import { loadNative } from '../../ts/native/load.js';
import { randomArray, relativeError } from './attention-reference.js';
import { conv2dRef, convOutSize, linearRef, type Act, type ConvShape } from './ops-reference.js';

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
