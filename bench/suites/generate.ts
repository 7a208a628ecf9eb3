/**
 * `generate`: end-to-end `pipe.generate()` on the embedded default model (text encoding, 25 model
 * calls, decoding), one image per prompt, plain classifier-free guidance against each method at
 * its default settings. The baseline of every row is the plain run measured in the same run, so
 * the ratio is the method's cost (T-GATE: its speed-up, below 1).
 */
import { loadPipeline, type GenerateOptions } from 'diffusion-attention';

import { measure } from '../measure.js';
import type { Row, Suite } from '../types.js';

const SETTINGS: Array<{ name: string; options: Partial<GenerateOptions> }> = [
  { name: 'plain CFG', options: {} },
  { name: 'AFM (strength 0.2, curve, down blocks)', options: { afm: {} } },
  { name: 'AFM entropy-gated', options: { afm: { entropyGate: true } } },
  { name: 'T-GATE (gate 10 of 25)', options: { tgate: { gateStep: 10 } } },
  { name: 'GAG (scale 5)', options: { attentionGuidance: { kind: 'gag' } } },
  { name: 'NAG (scale 5)', options: { attentionGuidance: { kind: 'nag' } } },
  { name: 'PAG (scale 3, mid)', options: { attentionGuidance: { kind: 'pag' } } },
  { name: 'capture (all cross-attention)', options: { capture: {} } },
];

export const generateSuite: Suite = {
  name: 'generate',
  description: 'end-to-end generate() on the embedded model, 25 steps, one image (CPU backend)',
  async run(ctx) {
    let pipe;
    try {
      pipe = await loadPipeline();
    } catch (err) {
      ctx.log(`generate: skipped (${(err as Error).message})`);
      return [];
    }
    const settings = ctx.quick ? SETTINGS.slice(0, 4) : SETTINGS;
    const size = `${pipe.unet.config.sample_size ?? 64}px, 25 steps`;
    const rows: Row[] = [];
    let plain: Row | undefined;
    for (const s of settings) {
      const timing = await measure(async (i) => {
        await pipe.generate({ prompt: 'a blue square above a yellow triangle', seed: i, steps: 25, ...s.options });
      }, { warmup: 1, repeats: ctx.quick ? 3 : 7 });
      const row: Row = { suite: 'generate', name: s.name, shape: size, ours: timing };
      if (plain) row.baseline = { name: 'plain CFG generate() in the same run', timing: plain.ours, ratio: timing.median / plain.ours.median };
      plain ??= row;
      ctx.log(`generate ${s.name}: ${timing.median.toFixed(1)} ms`);
      rows.push(row);
    }
    return rows;
  },
};
