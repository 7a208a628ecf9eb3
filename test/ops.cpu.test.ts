import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { Tensor } from '../ts/index.js';
import { randomArray, relativeError } from './helpers/attention-reference.js';
import { runChild } from './helpers/child.js';
import { throwsCode } from './helpers/errors.js';
import {
  CONV_CASES, convError, GROUP_NORM_CASES, LAYER_NORM_CASES, LINEAR_CASES, linearError, runOp, TIMESTEP_CASES, values,
} from './helpers/ops-case.js';
import {
  activationRef, addRef, concatRef, embeddingRef, gegluRef, groupNormRef, layerNormRef, linearRef, permuteRef, sliceRef,
  timestepRef, upsampleRef, type Act,
} from './helpers/ops-reference.js';
import { rng, SEED } from './helpers/random.js';

// The model ops (native/ops/ops.h) against float64 references (test/helpers/ops-reference.ts) on
// fresh random inputs. Tolerance: relative error (norm of the difference / norm of the reference)
// <= 1e-5, the float32 bound of the issue. Float32 sums over K <= 1025 terms land near 1e-7; the
// activations' approximations (exp to 2e-7, erf to 1.5e-7 absolute) stay below 1e-6.
const TOL = 1e-5;
const next = rng();

const gemm = suite('ops: linear and conv2d');

gemm('linear matches the reference over rows, features, K blocks and epilogues', async () => {
  for (const s of LINEAR_CASES) {
    const err = await linearError(s, next);
    assert.ok(err <= TOL, `linear ${JSON.stringify(s)}: relative error ${err}`);
  }
});

gemm('linear takes any leading dims', async () => {
  const x = randomArray(2 * 3 * 40, next);
  const w = randomArray(24 * 40, next);
  const y = await runOp('linear', [Tensor.from(x, [2, 3, 40]), Tensor.from(w, [24, 40])], { bias: false });
  assert.equal(y.shape, [2, 3, 24]);
  assert.ok(relativeError(await values(y), linearRef(x, 6, 40, w, 24)) <= TOL);
});

gemm('conv2d matches the reference over strides, paddings, kernels, odd sizes and epilogues', async () => {
  for (const s of CONV_CASES) {
    const err = await convError(s, next);
    assert.ok(err <= TOL, `conv2d ${JSON.stringify(s)}: relative error ${err}`);
  }
});

gemm('every SIMD path gives the same answer (GEMM, conv2d, row-wise kernels)', async () => {
  for (const level of ['scalar', 'avx2']) {
    const r = runChild<{ simd: string; errs: number[] }>(`
      const ops = require(${JSON.stringify(require.resolve('./helpers/ops-case.ts'))});
      const ref = require(${JSON.stringify(require.resolve('./helpers/ops-reference.ts'))});
      const { randomArray, relativeError } = require(${JSON.stringify(require.resolve('./helpers/attention-reference.ts'))});
      const { rng } = require(${JSON.stringify(require.resolve('./helpers/random.ts'))});
      const next = rng();
      const errs = [];
      for (const s of ${JSON.stringify(LINEAR_CASES.filter((_, i) => i % 2 === 1))}) errs.push(await ops.linearError(s, next));
      for (const s of ${JSON.stringify(CONV_CASES.filter((_, i) => i % 2 === 0))}) errs.push(await ops.convError(s, next));
      const x = randomArray(2 * 64 * 3 * 5, next, 3);
      const t = da.Tensor.from(x, [2, 64, 3, 5]);
      for (const act of ['silu', 'gelu', 'quick_gelu']) {
        errs.push(relativeError(await ops.values(await ops.runOp(act, [t])), ref.activationRef(x, act)));
      }
      errs.push(relativeError(await ops.values(await ops.runOp('group_norm', [t], { numGroups: 8, affine: false, silu: true })),
        ref.groupNormRef(x, 2, 64, 15, 8, 1e-5, undefined, undefined, true)));
      errs.push(relativeError(await ops.values(await ops.runOp('layer_norm', [t], { affine: false })), ref.layerNormRef(x, 5, 1e-5)));
      const g = randomArray(3 * 77 * 34, next, 3);
      errs.push(relativeError(await ops.values(await ops.runOp('geglu', [da.Tensor.from(g, [3, 77, 34])])), ref.gegluRef(g, 3 * 77, 17)));
      return { simd: da.info().devices[0].simd, errs };`, { DIFFUSION_ATTENTION_SIMD: level, TEST_SEED: String(SEED) });
    assert.is(r.simd, level);
    r.errs.forEach((e, i) => assert.ok(e <= TOL, `${level}: case ${i}: relative error ${e}`));
  }
});

gemm.run();

const norms = suite('ops: group_norm and layer_norm');

/** Random values around `offset`: a mean far from 0 is the hard case for one-pass statistics. */
function around(n: number, offset: number, scale = 1): Float32Array {
  return randomArray(n, next, scale).map((v) => v + offset);
}

norms('group_norm: 32 groups over 320 and 640 channels, small group counts, affine or not, SiLU', async () => {
  for (const c of GROUP_NORM_CASES) {
    const [N, C] = c.shape as [number, number];
    const S = c.shape.slice(2).reduce((a, b) => a * b, 1);
    const x = around(N * C * S, c.offset);
    const w = c.affine ? randomArray(C, next) : undefined;
    const b = c.affine ? randomArray(C, next) : undefined;
    const inputs = [Tensor.from(x, c.shape), ...(w && b ? [Tensor.from(w, [C]), Tensor.from(b, [C])] : [])];
    const got = await values(await runOp('group_norm', inputs, { numGroups: c.groups, eps: c.eps, affine: c.affine, silu: c.silu }));
    const err = relativeError(got, groupNormRef(x, N, C, S, c.groups, c.eps, w, b, c.silu));
    assert.ok(err <= TOL, `group_norm ${JSON.stringify({ ...c })}: relative error ${err}`);
  }
});

norms('layer_norm over the last dim, with and without affine, far from zero', async () => {
  for (const { rows, D, affine, offset } of LAYER_NORM_CASES) {
    const x = around(rows * D, offset);
    const w = affine ? randomArray(D, next) : undefined;
    const b = affine ? randomArray(D, next) : undefined;
    const inputs = [Tensor.from(x, [rows, D]), ...(w && b ? [Tensor.from(w, [D]), Tensor.from(b, [D])] : [])];
    const got = await values(await runOp('layer_norm', inputs, { eps: 1e-5, affine }));
    const err = relativeError(got, layerNormRef(x, D, 1e-5, w, b));
    assert.ok(err <= TOL, `layer_norm rows=${rows} D=${D}: relative error ${err}`);
  }
});

norms.run();

const pointwise = suite('ops: activations, geglu, add, upsample');

pointwise('silu, gelu, quick_gelu over every tail length and extreme values', async () => {
  const extremes = [-1e4, -100, -30, -10, -3, -1e-3, 0, 1e-3, 3, 10, 30, 100, 1e4];
  for (const n of [1, 15, 16, 17, 100, 4103, 70001]) {
    const x = new Float32Array([...randomArray(n, next, 4), ...extremes]);
    for (const act of ['silu', 'gelu', 'quick_gelu'] as Act[]) {
      const got = await values(await runOp(act, [Tensor.from(x, [x.length])]));
      assert.ok(got.every(Number.isFinite), `${act} n=${n}: non-finite output`);
      const err = relativeError(got, activationRef(x, act));
      assert.ok(err <= TOL, `${act} n=${n}: relative error ${err}`);
    }
  }
});

pointwise('gelu keeps its relative accuracy per element in the negative tail', async () => {
  // 1 + erf(x / sqrt 2) in float32 (PyTorch's formula) loses all digits near x = -8; the kernel
  // works with erfc there. Bound: erfc's fit (1.2e-7) plus the float32 exponent -x^2/2 (~4e-6 at -8).
  const x = Float32Array.from({ length: 1601 }, (_, i) => -8 + i / 100);
  const got = await values(await runOp('gelu', [Tensor.from(x, [x.length])]));
  const want = activationRef(x, 'gelu');
  got.forEach((g, i) => {
    if (want[i] !== 0) assert.ok(Math.abs(g - want[i]!) <= 1e-5 * Math.abs(want[i]!), `gelu(${x[i]}) = ${g}, want ${want[i]}`);
  });
});

pointwise('geglu: value half times gelu of the gate half', async () => {
  for (const [rows, h] of [[1, 1], [3, 5], [77, 1280], [2, 17]] as const) {
    const x = randomArray(rows * 2 * h, next, 2);
    const y = await runOp('geglu', [Tensor.from(x, [rows, 2 * h])]);
    assert.equal(y.shape, [rows, h]);
    const err = relativeError(await values(y), gegluRef(x, rows, h));
    assert.ok(err <= TOL, `geglu [${rows}, ${2 * h}]: relative error ${err}`);
  }
});

pointwise('add: same shape, and [N, C] broadcast over [N, C, H, W]', async () => {
  const a = randomArray(2 * 3 * 5 * 7, next);
  const b = randomArray(a.length, next);
  assert.ok(relativeError(await values(await runOp('add', [Tensor.from(a, [2, 3, 5, 7]), Tensor.from(b, [2, 3, 5, 7])])), addRef(a, b)) <= TOL);
  const t = randomArray(6, next);
  assert.ok(relativeError(await values(await runOp('add', [Tensor.from(a, [2, 3, 5, 7]), Tensor.from(t, [2, 3])])), addRef(a, t, 35)) <= TOL);
  const big = randomArray(2 * 320 * 16 * 16, next);
  const temb = randomArray(640, next);
  assert.ok(relativeError(await values(await runOp('add', [Tensor.from(big, [2, 320, 16, 16]), Tensor.from(temb, [2, 320])])), addRef(big, temb, 256)) <= TOL);
});

pointwise('average_halves: the mean of the two halves of the leading dim', async () => {
  for (const shape of [[2, 3], [4, 5, 7], [6, 1, 33, 9]]) {
    const x = randomArray(shape.reduce((a, b) => a * b, 1), next);
    const y = await runOp('average_halves', [Tensor.from(x, shape)]);
    assert.equal(y.shape, [shape[0]! / 2, ...shape.slice(1)]);
    const half = x.length / 2;
    const ref = Array.from({ length: half }, (_, i) => (x[i]! + x[half + i]!) / 2);
    assert.ok(relativeError(await values(y), ref) <= TOL);
  }
  await throwsCode(() => runOp('average_halves', [Tensor.from(new Float32Array(9), [3, 3])]), 'E_SHAPE');
});

pointwise('upsample_nearest2x repeats every pixel 2x2', async () => {
  for (const shape of [[2, 3, 5, 7], [1, 1, 1, 1], [1, 4, 8, 3]]) {
    const [N, C, H, W] = shape as [number, number, number, number];
    const x = randomArray(N * C * H * W, next);
    const y = await runOp('upsample_nearest2x', [Tensor.from(x, shape)]);
    assert.equal(y.shape, [N, C, 2 * H, 2 * W]);
    assert.equal(Array.from(await values(y)), Array.from(upsampleRef(x, N * C, H, W)));
  }
});

pointwise.run();

const misc = suite('ops: timestep_embedding and data movement');

misc('timestep_embedding follows diffusers get_timestep_embedding step for step', async () => {
  const t = new Float32Array([0, 1, 999, 500.5, 981, 3.25]);
  for (const p of TIMESTEP_CASES) {
    const y = await runOp('timestep_embedding', [Tensor.from(t, [t.length])], p);
    assert.equal(y.shape, [t.length, p.dim]);
    const err = relativeError(await values(y), timestepRef(t, p));
    // Same float32 arguments as the reference: only the final rounding of sin and cos differs.
    assert.ok(err <= 1e-7, `timestep_embedding ${JSON.stringify(p)}: relative error ${err}`);
  }
});

misc('concat, slice, permute and embedding copy exactly', async () => {
  const data = (shape: number[]) => ({ data: randomArray(shape.reduce((a, b) => a * b, 1), next), shape });
  for (const [shapes, dim] of [[[[2, 3, 4], [2, 5, 4]], 1], [[[1, 2], [3, 2], [2, 2]], 0], [[[2, 3, 1], [2, 3, 4]], -1], [[[2, 640, 8, 8], [2, 320, 8, 8]], 1]] as Array<[number[][], number]>) {
    const parts = shapes.map(data);
    const y = await runOp('concat', parts.map((p) => Tensor.from(p.data, p.shape)), { dim });
    const d = dim < 0 ? dim + shapes[0]!.length : dim;
    assert.equal(Array.from(await values(y)), Array.from(concatRef(parts, d)));
  }
  const s = data([2, 8, 3, 3]);
  for (const [dim, begin, end] of [[1, 0, 4], [1, 4, 8], [-1, 1, 2], [0, 1, 1], [3, 0, 3]]) {
    const y = await runOp('slice', [Tensor.from(s.data, s.shape)], { dim, begin, end });
    const d = dim! < 0 ? dim! + 4 : dim!;
    assert.equal(Array.from(await values(y)), Array.from(sliceRef(s.data, s.shape, d, begin!, end!)));
  }
  for (const [shape, perm] of [[[2, 5, 3, 4], [0, 2, 3, 1]], [[2, 5, 3, 4], [0, 3, 1, 2]], [[2, 7, 3, 5], [0, 2, 1, 3]],
    [[3, 1, 4, 2, 5], [4, 2, 0, 3, 1]], [[17, 33], [1, 0]], [[2, 320, 40], [0, 2, 1]], [[4, 6], [0, 1]], [[1, 1], [1, 0]]]) {
    const p = data(shape!);
    const y = await runOp('permute', [Tensor.from(p.data, p.shape)], { perm });
    assert.equal(y.shape, perm!.map((i) => shape![i]));
    assert.equal(Array.from(await values(y)), Array.from(permuteRef(p.data, p.shape, perm!)), `permute ${JSON.stringify({ shape, perm })}`);
  }
  const table = data([11, 7]);
  const ids = [0, 10, 3, 3];
  const e = await runOp('embedding', [Tensor.from(table.data, table.shape)], { ids });
  assert.equal(e.shape, [4, 7]);
  assert.equal(Array.from(await values(e)), Array.from(embeddingRef(table.data, 7, ids)));
});

misc.run();

const errors = suite('ops: errors');

errors('bad operands and options give the documented codes', async () => {
  const t = (shape: number[], dtype: 'float32' | 'float16' = 'float32') =>
    Tensor.from(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, { dtype });
  const x = t([4, 8]);
  const img = t([1, 3, 5, 5]);
  await throwsCode(() => runOp('softmax', [x]), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('linear', [x, t([5, 7])], { bias: false }), 'E_SHAPE');
  await throwsCode(() => runOp('linear', [x, t([5, 8])]), 'E_INVALID_ARGUMENT');  // bias expected but missing
  await throwsCode(() => runOp('linear', [x, t([5, 8]), t([4])]), 'E_SHAPE');
  await throwsCode(() => runOp('linear', [x, t([5, 8]), t([4, 4])], { bias: false, residual: true }), 'E_SHAPE');
  await throwsCode(() => runOp('linear', [t([4, 8], 'float16'), t([5, 8], 'float16')], { bias: false }), 'E_DTYPE');
  await throwsCode(() => runOp('linear', [x, t([5, 8], 'float16')], { bias: false }), 'E_DTYPE');
  await throwsCode(() => runOp('linear', [x, t([5, 8])], { bias: false, activation: 'relu' }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('linear', [t([0]), t([5, 0])], { bias: false }), 'E_SHAPE');
  await throwsCode(() => runOp('conv2d', [img, t([2, 4, 3, 3])], { bias: false }), 'E_SHAPE');
  await throwsCode(() => runOp('conv2d', [t([3, 5, 5]), t([2, 3, 3, 3])], { bias: false }), 'E_SHAPE');
  await throwsCode(() => runOp('conv2d', [img, t([2, 3, 3, 3])], { bias: false, stride: 0 }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('conv2d', [img, t([2, 3, 3, 3])], { bias: false, padding: 3 }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('conv2d', [img, t([2, 3, 3, 3])], { bias: false, padding: [1, 1, 1] }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('conv2d', [img, t([2, 3, 3, 3])], { bias: false, stride: 'two' }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('conv2d', [t([1, 3, 2, 2]), t([2, 3, 3, 3])], { bias: false }), 'E_SHAPE');
  await throwsCode(() => runOp('group_norm', [img], { numGroups: 2, affine: false }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('group_norm', [img], { affine: false }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('group_norm', [img], { numGroups: 3, affine: false, eps: 0 }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('group_norm', [img, t([4]), t([4])], { numGroups: 3 }), 'E_SHAPE');
  await throwsCode(() => runOp('layer_norm', [x, t([7]), t([8])]), 'E_SHAPE');
  await throwsCode(() => runOp('geglu', [t([2, 7])]), 'E_SHAPE');
  await throwsCode(() => runOp('add', [x, t([4, 7])]), 'E_SHAPE');
  await throwsCode(() => runOp('upsample_nearest2x', [x]), 'E_SHAPE');
  await throwsCode(() => runOp('timestep_embedding', [t([3])], { dim: 1 }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('timestep_embedding', [t([3])], { dim: 2 }), 'E_INVALID_ARGUMENT');  // dim/2 - shift = 0
  await throwsCode(() => runOp('timestep_embedding', [x], { dim: 8 }), 'E_SHAPE');
  await throwsCode(() => runOp('concat', [x, t([4, 8, 1])], { dim: 0 }), 'E_SHAPE');
  await throwsCode(() => runOp('concat', [x, x], { dim: 2 }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('concat', [], { dim: 0 }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('slice', [x], { dim: 1, begin: 3, end: 9 }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('permute', [x], { perm: [0, 0] }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('permute', [x], { perm: [1.5, 0] }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('embedding', [x], { ids: [4] }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('embedding', [x], { ids: [-1] }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => runOp('silu', [x, x]), 'E_INVALID_ARGUMENT');
  const gone = t([2, 2]);
  gone.dispose();
  await throwsCode(() => runOp('silu', [gone]), 'E_DISPOSED');
});

errors.run();
