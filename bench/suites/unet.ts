/**
 * `unet`: one UNet2DConditionModel forward on the CPU against the repository's plain PyTorch
 * reference model (tools/sd_reference, diffusers' semantics, float32) with the same weights, in the
 * same run: the embedded default model (its own weights, 32x32 pixels), the two tiny fixture
 * architectures (sd1-tiny, sd2-tiny; 8x8 latents) and an SD1.5-sized UNet with random weights at
 * 256x256 and 512x512 images (32x32 and 64x64 latents; timing does not depend on weight values),
 * each at the guidance batch 2 with 77 context tokens (the embedded model: its own context length).
 * The PyTorch side writes the random weights once as a diffusers folder under the OS temp dir; our
 * side maps them. The SD1.5 rows also record this process's peak resident memory against the weight
 * bytes (weights are mapped, not copied). With the CUDA backend, SD1.5-sized rows on the GPU in
 * float16 follow (see cudaCases).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { DEFAULT_MODEL, loadPipeline, Tensor } from 'diffusion-attention';

import { measure } from '../measure.js';
import { torchBaseline } from '../torch.js';
import type { Row, Suite } from '../types.js';

interface Case {
  model: 'folder' | 'sd1-tiny' | 'sd2-tiny' | 'sd15';
  what: string;
  batch: number;
  size: number;
  tokens: number;
  folder: string;
  device?: 'cuda';
  dtype?: 'float16';
  cudaGraphs?: boolean;
}

function cases(quick: boolean): Case[] {
  const dir = path.join(os.tmpdir(), 'diffusion-attention-bench');
  const all: Case[] = [
    { model: 'folder', what: 'embedded default model (32x32 pixels)', batch: 2, size: 32, tokens: 0, folder: DEFAULT_MODEL },
    { model: 'sd1-tiny', what: 'sd1-tiny (2 levels, conv proj)', batch: 2, size: 8, tokens: 77, folder: path.join(dir, 'sd1-tiny') },
    { model: 'sd2-tiny', what: 'sd2-tiny (2 levels, linear proj)', batch: 2, size: 8, tokens: 77, folder: path.join(dir, 'sd2-tiny') },
    { model: 'sd15', what: 'SD1.5-sized, 256x256 image', batch: 2, size: 32, tokens: 77, folder: path.join(dir, 'sd15') },
    { model: 'sd15', what: 'SD1.5-sized, 512x512 image', batch: 2, size: 64, tokens: 77, folder: path.join(dir, 'sd15') },
  ];
  const present = all.filter((c) => c.model !== 'folder' || fs.existsSync(path.join(c.folder, 'unet', 'config.json')));
  return quick ? present.filter((c) => c.model !== 'sd15') : present;
}

/**
 * The GPU rows (CUDA issue, "Performance"): the SD1.5-sized UNet at 512x512 (64x64 latents),
 * guidance batch 2, float16, weights uploaded once; each timed call uploads nothing (the inputs are
 * placed on the device first) and ends with the output read back, which waits for the GPU, as
 * PyTorch's side ends with torch.cuda.synchronize(). Each size runs with the UNet's CUDA graphs
 * (the default: a step replays one recorded graph) and without (every kernel launched from the host).
 */
function cudaCases(quick: boolean): Case[] {
  const dir = path.join(os.tmpdir(), 'diffusion-attention-bench');
  const sizes = quick ? [32] : [32, 64];
  return sizes.flatMap((size) => [true, false].map((cudaGraphs) => ({
    model: 'sd15' as const, what: `SD1.5-sized, ${size * 8}x${size * 8} image, CUDA float16, ${cudaGraphs ? 'CUDA graph' : 'no CUDA graph'}`,
    batch: 2, size, tokens: 77, folder: path.join(dir, 'sd15'), device: 'cuda' as const, dtype: 'float16' as const, cudaGraphs,
  })));
}

/** This process's peak resident set (VmHWM) in bytes, or undefined off Linux. */
function peakRss(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export const unetSuite: Suite = {
  name: 'unet',
  description: 'UNet2DConditionModel forward, guidance batch 2 (CPU backend; SD1.5-sized on CUDA in float16 where it runs) vs the PyTorch reference model',
  async run(ctx) {
    const list = [...cases(ctx.quick), ...(ctx.cuda ? cudaCases(ctx.quick) : [])];
    const rows: Row[] = [];
    // The reference writes the weights, so it runs first, case by case (one model in memory at a time).
    // Two warm-up calls on CUDA: a shape's first call runs directly and its second records the graph.
    const warmupOf = (c: Case) => (c.device ? 2 : 1);
    const repeats = ctx.quick ? 3 : 5;
    // The embedded model conditions on its own text encoder's width and length.
    for (const c of list.filter((x) => x.model === 'folder')) {
      const te = JSON.parse(fs.readFileSync(path.join(c.folder, 'text_encoder', 'config.json'), 'utf8')) as { max_position_embeddings: number };
      c.tokens = te.max_position_embeddings;
    }
    const timings = list.map((c) => torchBaseline({ op: 'unet', cases: [c], warmup: warmupOf(c), repeats }, ctx.log));
    for (const [i, c] of list.entries()) {
      const torch = timings[i];
      const weights = path.join(c.folder, 'unet', 'diffusion_pytorch_model.safetensors');
      if (!fs.existsSync(weights)) {
        ctx.log(`unet ${c.model}: skipped (its weights are written by the PyTorch reference, which did not run)`);
        continue;
      }
      const pipe = await loadPipeline(c.folder, c.device ? { device: c.device, dtype: c.dtype } : {});
      const { unet } = pipe;
      if (c.cudaGraphs !== undefined) unet.cudaGraphs = c.cudaGraphs;
      const cfg = unet.config;
      const rand = (n: number) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
      const place = (data: Float32Array, shape: number[]) => Tensor.from(data, shape).to(unet.placement);
      const sets = await Promise.all([0, 1].map(async () => [
        await place(rand(c.batch * cfg.in_channels * c.size * c.size), [c.batch, cfg.in_channels, c.size, c.size]),
        await place(rand(c.batch * c.tokens * cfg.cross_attention_dim), [c.batch, c.tokens, cfg.cross_attention_dim]),
      ] as const));
      const timing = await measure(async (r) => {
        const out = await unet.predict(sets[r % 2]![0], 500, sets[r % 2]![1]);
        await out.toArray();
        out.dispose();
      }, { warmup: warmupOf(c), repeats });
      sets.flat().forEach((t) => t.dispose());
      await pipe.close();
      const weightBytes = fs.statSync(weights).size;
      const row: Row = {
        suite: 'unet', name: c.what, shape: `sample [${c.batch}, ${cfg.in_channels}, ${c.size}, ${c.size}], context [${c.batch}, ${c.tokens}, ${cfg.cross_attention_dim}]`,
        ours: timing,
      };
      if (c.model === 'sd15' && !c.device) row.memory = { peakRssBytes: peakRss(), weightBytes };
      const where = c.device ? 'eager, float16 on the same GPU' : `${torch?.threads} threads`;
      if (torch) row.baseline = { name: `PyTorch ${torch.torch} reference model (${where})`, timing: torch.timings[0]!, ratio: timing.median / torch.timings[0]!.median };
      ctx.log(`unet ${c.model}: ${timing.median.toFixed(1)} ms${row.baseline ? `, ratio ${row.baseline.ratio.toFixed(2)}` : ''}`);
      rows.push(row);
    }
    return rows;
  },
};
