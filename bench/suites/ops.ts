/**
 * `ops`: the model ops other than attention at SD1.5 UNet shapes, guidance batch 2, at 512x512
 * (64x64 latents, 4096 tokens per image) and 256x256 (32x32, 1024 tokens). GFLOP/s count
 * 2*M*N*K for linear and 2*N*O*Ho*Wo*C*kh*kw for conv2d; the memory-bound ops report GB/s of one
 * read of the input and one write of the output. Baselines (PyTorch, same shapes, same run, every
 * core): F.linear (OpenBLAS sgemm), F.conv2d (PyTorch's default CPU path, oneDNN when built in),
 * F.group_norm + F.silu, F.layer_norm, chunk + F.gelu.
 */
import path from 'node:path';

import { Tensor } from 'diffusion-attention';

import { measure } from '../measure.js';
import { torchBaseline } from '../torch.js';
import type { Row, Suite, SuiteContext } from '../types.js';

// runOp, the internal op entry (native/napi/ops_binding.h), is not part of the public API: it is
// reached through the package's own compiled loader, the one `Tensor` uses, as the CLI reaches
// lib/bench.
interface OpsBinding {
  runOp(name: string, inputs: unknown[], params: object): Promise<{ dispose(): void }>;
}
const { loadNative } = require(path.join(path.dirname(require.resolve('diffusion-attention/package.json')), 'lib', 'native', 'load.js')) as {
  loadNative(): { binding: OpsBinding };
};

type Case =
  | { kind: 'linear'; what: string; M: number; K: number; N: number }
  | { kind: 'conv2d'; what: string; N: number; C: number; H: number; O: number; k: number; stride: number }
  | { kind: 'group_norm'; what: string; shape: number[]; groups: number }
  | { kind: 'layer_norm'; what: string; rows: number; D: number }
  | { kind: 'geglu'; what: string; rows: number; h: number };

/** The shapes of one UNet call at a latent side of `s` (64 at 512x512, 32 at 256x256). */
function unetCases(s: number, quick: boolean): Case[] {
  const t = 2 * s * s;  // tokens of the guidance batch at level 0
  const res = `${8 * s}x${8 * s}`;
  const all: Case[] = [
    { kind: 'linear', what: `${res} attn to_q/k/v/out`, M: t, K: 320, N: 320 },
    { kind: 'linear', what: `${res} ff GEGLU proj`, M: t, K: 320, N: 2560 },
    { kind: 'linear', what: `${res} ff out`, M: t, K: 1280, N: 320 },
    { kind: 'linear', what: `${res} level 1 ff GEGLU proj`, M: t / 4, K: 640, N: 5120 },
    { kind: 'linear', what: `${res} level 2 ff GEGLU proj`, M: t / 16, K: 1280, N: 10240 },
    { kind: 'linear', what: 'attn2 to_k/v (text)', M: 154, K: 768, N: 320 },
    { kind: 'conv2d', what: `${res} resnet conv 3x3`, N: 2, C: 320, H: s, O: 320, k: 3, stride: 1 },
    { kind: 'conv2d', what: `${res} level 1 resnet conv 3x3`, N: 2, C: 640, H: s / 2, O: 640, k: 3, stride: 1 },
    { kind: 'conv2d', what: `${res} level 2 resnet conv 3x3`, N: 2, C: 1280, H: s / 4, O: 1280, k: 3, stride: 1 },
    { kind: 'conv2d', what: `${res} level 3 resnet conv 3x3`, N: 2, C: 1280, H: s / 8, O: 1280, k: 3, stride: 1 },
    { kind: 'conv2d', what: `${res} downsample 3x3 s2`, N: 2, C: 320, H: s, O: 320, k: 3, stride: 2 },
    { kind: 'conv2d', what: `${res} up-block shortcut 1x1`, N: 2, C: 640, H: s, O: 320, k: 1, stride: 1 },
    { kind: 'conv2d', what: `${res} conv_in 3x3`, N: 2, C: 4, H: s, O: 320, k: 3, stride: 1 },
    { kind: 'group_norm', what: `${res} resnet norm + SiLU`, shape: [2, 320, s, s], groups: 32 },
    { kind: 'layer_norm', what: `${res} transformer norm`, rows: t, D: 320 },
    { kind: 'geglu', what: `${res} GEGLU`, rows: t, h: 1280 },
  ];
  if (!quick) return all;
  return all.filter((c) => c.kind === 'linear' ? c.N === 320 && c.K === 320 : c.kind === 'conv2d' ? c.C === 320 && c.k === 3 && c.stride === 1 : c.kind === 'group_norm');
}

function cases(quick: boolean): Case[] {
  const small = unetCases(32, quick).filter((c) => !c.what.startsWith('attn2'));
  return quick ? small : [...unetCases(64, false), ...small];
}

function random(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

interface Prepared {
  name: string;
  params: object;
  inputs: number[][];  // shapes
  shape: string;
  flops?: number;
  bytes?: number;
}

function prepare(c: Case): Prepared {
  switch (c.kind) {
    case 'linear':
      return { name: 'linear', params: {}, inputs: [[c.M, c.K], [c.N, c.K], [c.N]], shape: `[${c.M}, ${c.K}] x [${c.N}, ${c.K}]^T`, flops: 2 * c.M * c.N * c.K };
    case 'conv2d': {
      const ho = Math.floor((c.H + 2 * (c.k >> 1) - c.k) / c.stride) + 1;
      return {
        name: 'conv2d', params: { stride: c.stride, padding: c.k >> 1 }, inputs: [[c.N, c.C, c.H, c.H], [c.O, c.C, c.k, c.k], [c.O]],
        shape: `[${c.N}, ${c.C}, ${c.H}, ${c.H}] -> ${c.O}, ${c.k}x${c.k} s${c.stride}`, flops: 2 * c.N * c.O * ho * ho * c.C * c.k * c.k,
      };
    }
    case 'group_norm': {
      const n = c.shape.reduce((a, b) => a * b, 1);
      return { name: 'group_norm', params: { numGroups: c.groups, silu: true }, inputs: [c.shape, [c.shape[1]!], [c.shape[1]!]], shape: `[${c.shape.join(', ')}] G=${c.groups}`, bytes: 8 * n };
    }
    case 'layer_norm':
      return { name: 'layer_norm', params: {}, inputs: [[c.rows, c.D], [c.D], [c.D]], shape: `[${c.rows}, ${c.D}]`, bytes: 8 * c.rows * c.D };
    case 'geglu':
      return { name: 'geglu', params: {}, inputs: [[c.rows, 2 * c.h]], shape: `[${c.rows}, ${2 * c.h}]`, bytes: 12 * c.rows * c.h };
  }
}

async function ours(c: Case, ctx: SuiteContext): Promise<Row> {
  const p = prepare(c);
  const { binding } = loadNative();
  // Two input sets, alternated, so repeated runs are not served from a warm cache of one set.
  const sets = [0, 1].map(() => p.inputs.map((shape) => Tensor.from(random(shape.reduce((a, b) => a * b, 1)), shape)));
  const timing = await measure(async (i) => {
    (await binding.runOp(p.name, sets[i % 2]!.map((t) => t.native), p.params)).dispose();
  }, ctx);
  sets.flat().forEach((t) => t.dispose());
  ctx.log(`ops ${p.name} ${p.shape}: ${timing.median.toFixed(2)} ms`);
  return { suite: 'ops', name: `${p.name} (${c.what})`, shape: p.shape, ours: timing, flops: p.flops, bytes: p.bytes };
}

export const opsSuite: Suite = {
  name: 'ops',
  description: 'linear, conv2d, norms and GEGLU at SD1.5 UNet shapes (CPU backend)',
  async run(ctx) {
    const list = cases(ctx.quick);
    const rows: Row[] = [];
    for (const c of list) rows.push(await ours(c, ctx));
    if (ctx.baseline) {
      const torch = torchBaseline({ op: 'ops', cases: list, warmup: ctx.warmup, repeats: ctx.repeats }, ctx.log);
      torch?.timings.forEach((t, i) => {
        const row = rows[i]!;
        row.baseline = { name: `PyTorch ${torch.torch} (${torch.threads} threads)`, timing: t, ratio: row.ours.median / t.median };
      });
    }
    return rows;
  },
};
