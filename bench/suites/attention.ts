/**
 * `attention`: the attention family at the shapes of every UNet level of SD1.5 and SD2 at 512x512,
 * guidance batch 1 and 2. FLOPs per call = 4 * B * heads * N * T * d (Q K^T and P V, one multiply
 * and one add each); the AFM band split and the softmax are not counted, so AFM's GFLOP/s is the
 * rate of the attention it replaces. Baselines (PyTorch, same shapes, same run): materialised
 * matmul-softmax-matmul for plain attention, and the unfused torch.fft logit-domain edit for AFM.
 *
 * With the CUDA backend (ctx.cuda) the same shapes run a second time on the GPU in float16, against
 * PyTorch's F.scaled_dot_product_attention (its fused kernels) and the unfused torch.fft AFM on the
 * same device and dtype. attention() resolves after the device finished (the native job
 * synchronises its stream), and the PyTorch side synchronises around every timed call.
 */
import { AttentionCache, Tensor, attention, type AttentionOptions, type Device, type DType } from 'diffusion-attention';
import { measure } from '../measure.js';
import { torchBaseline } from '../torch.js';
import type { Row, Suite, SuiteContext } from '../types.js';

interface Level {
  model: 'SD1.5' | 'SD2';
  grid: number;  // latent grid side at 512x512
  heads: number;
  d: number;
}

const LEVELS: Level[] = [
  { model: 'SD1.5', grid: 64, heads: 8, d: 40 },
  { model: 'SD1.5', grid: 32, heads: 8, d: 80 },
  { model: 'SD1.5', grid: 16, heads: 8, d: 160 },
  { model: 'SD1.5', grid: 8, heads: 8, d: 160 },
  { model: 'SD2', grid: 64, heads: 5, d: 64 },
  { model: 'SD2', grid: 32, heads: 10, d: 64 },
  { model: 'SD2', grid: 16, heads: 20, d: 64 },
  { model: 'SD2', grid: 8, heads: 20, d: 64 },
];

type Variant = 'self' | 'cross' | 'cross+afm' | 'cross+afm-gate' | 'cross+afm-reference' | 'cross+gag' | 'cross+nag' | 'cross+record';
const AFM = { gainLow: 1.2, gainHigh: 1.0, cutoff: 0.25, width: 0.05 };

interface Case {
  level: Level;
  B: number;
  variant: Variant;
  device: Device;
  dtype: DType;
}

function random(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

function cpuCases(quick: boolean): Case[] {
  const out: Case[] = [];
  const cross: Variant[] = ['cross', 'cross+afm', 'cross+afm-gate', 'cross+afm-reference', 'cross+gag', 'cross+nag', 'cross+record'];
  const at = { device: 'cpu', dtype: 'float32' } as const;
  for (const level of LEVELS) {
    for (const B of quick ? [2] : [1, 2]) {
      if (quick && !(level.model === 'SD1.5' && level.grid <= 32)) continue;
      // Self-attention at 64x64 is the slowest row by far: once per batch size is enough.
      out.push({ level, B, variant: 'self', ...at });
      for (const variant of quick ? (['cross', 'cross+afm', 'cross+gag'] as Variant[]) : cross) {
        if (variant === 'cross+afm-reference' && level.grid === 64 && B === 1) continue;
        out.push({ level, B, variant, ...at });
      }
    }
  }
  return out;
}

/** Every level and both guidance batches on the GPU, float16 (the dtype SD runs in there). */
function cudaCases(quick: boolean): Case[] {
  const variants: Variant[] = quick ? ['self', 'cross', 'cross+afm'] : ['self', 'cross', 'cross+afm', 'cross+afm-gate', 'cross+gag', 'cross+nag', 'cross+record'];
  return LEVELS.filter((level) => !quick || level.model === 'SD1.5').flatMap((level) => (quick ? [2] : [1, 2]).flatMap((B) =>
    variants.map((variant): Case => ({ level, B, variant, device: 'cuda', dtype: 'float16' }))));
}

async function ours(c: Case, ctx: SuiteContext): Promise<Row> {
  const { level, B, variant, device, dtype } = c;
  const N = level.grid * level.grid;
  const T = variant === 'self' ? N : 77;
  const shapeQ = [B, level.heads, N, level.d];
  const shapeK = [B, level.heads, T, level.d];
  // Two input sets, alternated, so repeated runs are not served from a warm cache of one set.
  const make = async (n: number, shape: number[]) => {
    const host = Tensor.from(random(n), shape);
    if (device === 'cpu' && dtype === 'float32') return host;
    const moved = await host.to({ device, dtype });
    host.dispose();
    return moved;
  };
  const sets = await Promise.all([0, 1].map(async () => ({
    q: await make(B * level.heads * N * level.d, shapeQ),
    k: await make(B * level.heads * T * level.d, shapeK),
    v: await make(B * level.heads * T * level.d, shapeK),
  })));
  const grid: [number, number] = [level.grid, level.grid];
  const opts = (i: number): AttentionOptions => {
    switch (variant) {
      case 'cross+afm': return { afm: { grid, ...AFM } };
      case 'cross+afm-gate': return { afm: { grid, entropyGate: { strength: 0.2, wLow: 1, wHigh: 0 } } };
      case 'cross+afm-reference': return { afm: { grid, ...AFM, mode: 'reference' } };
      case 'cross+gag': return { guidance: { kind: 'gag' } };
      case 'cross+nag': return { guidance: { kind: 'nag', kNeg: sets[(i + 1) % 2]!.k, vNeg: sets[(i + 1) % 2]!.v } };
      case 'cross+record': return B % 2 === 0 ? { cache: { handle: new AttentionCache(), mode: 'record' } } : {};
      default: return {};
    }
  };
  const heavy = variant === 'self' && level.grid === 64 && device === 'cpu';
  const timing = await measure(async (i) => {
    const s = sets[i % 2]!;
    (await attention(s.q, s.k, s.v, opts(i))).dispose();
  }, { warmup: heavy ? 1 : ctx.warmup, repeats: heavy ? Math.min(ctx.repeats, 5) : ctx.repeats });
  for (const s of sets) for (const t of Object.values(s)) t.dispose();
  const name = device === 'cpu' ? `${level.model} ${variant}` : `${level.model} ${variant} (${device} ${dtype})`;
  ctx.log(`attention ${name} B=${B} ${level.grid}x${level.grid}: ${timing.median.toFixed(2)} ms`);
  return {
    suite: 'attention',
    name,
    shape: `B=${B} h=${level.heads} N=${N} T=${T} d=${level.d}`,
    ours: timing,
    flops: 4 * B * level.heads * N * T * level.d,
  };
}

/** The PyTorch counterpart of a row, if there is one. */
function torchCase(c: Case): Record<string, unknown> | null {
  const N = c.level.grid * c.level.grid;
  const base = { B: c.B, H: c.level.heads, N, d: c.level.d, device: c.device, dtype: c.dtype };
  // On the GPU the baseline is PyTorch's fused SDPA, what a PyTorch SD pipeline runs there.
  const plain = c.device === 'cpu' ? 'plain' : 'sdpa';
  if (c.variant === 'self') return { ...base, T: N, variant: plain };
  if (c.variant === 'cross') return { ...base, T: 77, variant: plain };
  if (c.variant === 'cross+afm' || c.variant === 'cross+afm-reference') {
    return { ...base, T: 77, variant: 'afm', grid: [c.level.grid, c.level.grid], ...AFM };
  }
  return null;
}

export const attentionSuite: Suite = {
  name: 'attention',
  description: 'the attention family at SD1.5 and SD2 UNet shapes (CPU backend; CUDA float16 when a GPU is in use)',
  async run(ctx) {
    const rows: Row[] = [];
    for (const [list, repeats] of [[cpuCases(ctx.quick), Math.min(ctx.repeats, 5)], [ctx.cuda ? cudaCases(ctx.quick) : [], ctx.repeats]] as const) {
      const first = rows.length;
      for (const c of list) rows.push(await ours(c, ctx));
      if (!ctx.baseline || !list.length) continue;
      const withTorch = list.map((c, i) => ({ i: first + i, job: torchCase(c) })).filter((x) => x.job !== null);
      const torch = torchBaseline({ op: 'attention', cases: withTorch.map((x) => x.job), warmup: 1, repeats }, ctx.log);
      torch?.timings.forEach((t, k) => {
        const row = rows[withTorch[k]!.i]!;
        const variant = (withTorch[k]!.job as { variant: string }).variant;
        const what = { afm: 'unfused AFM (torch.fft)', plain: 'matmul-softmax-matmul', sdpa: 'F.scaled_dot_product_attention' }[variant];
        row.baseline = { name: `PyTorch ${torch.torch} ${what}`, timing: t, ratio: row.ours.median / t.median };
      });
    }
    return rows;
  },
};
