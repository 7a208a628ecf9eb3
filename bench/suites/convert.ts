/**
 * `convert`: dtype conversion (float32 <-> float16/bfloat16) of host tensors, a memory-bound op:
 * bytes moved = n * (input size + output size); GB/s against the baseline's.
 */
import { Tensor, type DType } from 'diffusion-attention';
import { measure } from '../measure.js';
import { torchBaseline } from '../torch.js';
import type { Row, Suite } from '../types.js';

const PAIRS: Array<[DType, DType]> = [['float32', 'float16'], ['float16', 'float32'], ['float32', 'bfloat16'], ['bfloat16', 'float32']];
const SIZE: Record<DType, number> = { float32: 4, float16: 2, bfloat16: 2 };

export const convertSuite: Suite = {
  name: 'convert',
  description: 'dtype conversion on the CPU (memory-bound)',
  async run(ctx) {
    const sizes = ctx.quick ? [1 << 20] : [1 << 16, 1 << 20, 1 << 24];
    const cases = sizes.flatMap((n) => PAIRS.map(([from, to]) => ({ n, from, to })));
    const rows: Row[] = [];
    for (const c of cases) {
      // Four input sets, rotated, so that small sizes are not all served from one warm cache.
      const inputs = await Promise.all(Array.from({ length: 4 }, () => {
        const data = new Float32Array(c.n).map(() => Math.random());
        return Tensor.from(data, [c.n], { dtype: c.from });
      }));
      const ours = await measure(async (i) => (await inputs[i % 4]!.to({ dtype: c.to })).dispose(), ctx);
      inputs.forEach((t) => t.dispose());
      rows.push({ suite: 'convert', name: `${c.from} -> ${c.to}`, shape: `[${c.n}]`, ours, bytes: c.n * (SIZE[c.from] + SIZE[c.to]) });
      ctx.log(`convert ${c.from} -> ${c.to} n=${c.n}: ${ours.median.toFixed(3)} ms`);
    }
    if (ctx.baseline) {
      const torch = torchBaseline({ op: 'convert', cases, warmup: ctx.warmup, repeats: ctx.repeats }, ctx.log);
      torch?.timings.forEach((t, i) => {
        rows[i]!.baseline = { name: `PyTorch ${torch.torch} (${torch.threads} threads)`, timing: t, ratio: rows[i]!.ours.median / t.median };
      });
    }
    return rows;
  },
};
