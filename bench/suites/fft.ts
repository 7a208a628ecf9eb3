/**
 * `fft`: the fused AFM path's band split alone (reference/afm.md §12): the low band of q over the
 * H x W query grid, Q_low = IDFT2(M_low . DFT2(q)) per (batch, head, channel), at the SD1.5 down
 * levels AFM edits (64x64, 32x32, 16x16 at 512x512; heads of width 40, 80, 160; guidance batch 2).
 * Ours: a pruned, Hermitian-halved DFT as four GEMM stages over only the bins the low mask keeps.
 * Baseline: torch.fft.fft2 / ifft2 over the grid with the mask, the way an unfused implementation
 * gets the same band. GB/s counts one read of q and one write of the band.
 */
import path from 'node:path';

import { Tensor } from 'diffusion-attention';

import { measure } from '../measure.js';
import { torchBaseline } from '../torch.js';
import type { Row, Suite } from '../types.js';

// The internal op entry, reached as the ops suite reaches it.
interface OpsBinding {
  runOp(name: string, inputs: unknown[], params: object): Promise<{ dispose(): void }>;
}
const { loadNative } = require(path.join(path.dirname(require.resolve('diffusion-attention/package.json')), 'lib', 'native', 'load.js')) as {
  loadNative(): { binding: OpsBinding };
};

interface Case { B: number; H: number; h: number; w: number; d: number; cutoff: number; width: number }

function cases(quick: boolean): Case[] {
  const at = (side: number, d: number): Case => ({ B: 2, H: 8, h: side, w: side, d, cutoff: 0.25, width: 0.05 });
  return quick ? [at(32, 40), at(16, 80)] : [at(64, 40), at(32, 80), at(16, 160), at(32, 40), at(16, 80), at(8, 160)];
}

export const fftSuite: Suite = {
  name: 'fft',
  description: 'AFM band split alone (CPU backend) vs torch.fft',
  async run(ctx) {
    const list = cases(ctx.quick);
    const { binding } = loadNative();
    const rows: Row[] = [];
    for (const c of list) {
      const shape = [c.B, c.H, c.h * c.w, c.d];
      const n = shape.reduce((a, b) => a * b, 1);
      const sets = [0, 1].map(() => Tensor.from(Float32Array.from({ length: n }, () => Math.random() * 2 - 1), shape));
      const params = { gridH: c.h, gridW: c.w, cutoff: c.cutoff, width: c.width };
      const timing = await measure(async (i) => (await binding.runOp('afm_low_band', [sets[i % 2]!.native], params)).dispose(), ctx);
      sets.forEach((t) => t.dispose());
      ctx.log(`fft [${shape.join(', ')}] grid ${c.h}x${c.w}: ${timing.median.toFixed(2)} ms`);
      rows.push({ suite: 'fft', name: `band split, grid ${c.h}x${c.w}`, shape: `[${shape.join(', ')}]`, ours: timing, bytes: 8 * n });
    }
    if (ctx.baseline) {
      const torch = torchBaseline({ op: 'fft', cases: list, warmup: ctx.warmup, repeats: ctx.repeats }, ctx.log);
      torch?.timings.forEach((t, i) => {
        const row = rows[i]!;
        row.baseline = { name: `PyTorch ${torch.torch} torch.fft (${torch.threads} threads)`, timing: t, ratio: row.ours.median / t.median };
      });
    }
    return rows;
  },
};
