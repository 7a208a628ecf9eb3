/**
 * The generate() part of the soak: one pipeline on the embedded default model, many 4-step calls
 * at its own size (32x32) cycling through the methods (plain, AFM, T-GATE, GAG, NAG, PAG, capture)
 * and seeds, each image encoded to PNG as a caller would.
 */
import { loadPipeline, type GenerateOptions } from '../../ts/index.js';
import type { RssSampler } from './rss.js';

export async function soakGenerate(calls: number, sampler: RssSampler, every: number): Promise<void> {
  const pipe = await loadPipeline();
  const base: GenerateOptions = { prompt: 'a red circle on the left', steps: 4 };
  const variants: GenerateOptions[] = [
    base,
    { ...base, afm: { strength: 0.5, entropyGate: true } },
    { ...base, tgate: { gateStep: 2 } },
    { ...base, attentionGuidance: { kind: 'gag' } },
    { ...base, attentionGuidance: { kind: 'nag' } },
    { ...base, attentionGuidance: { kind: 'pag', layers: 'all' } },
    { ...base, capture: { topK: 4 } },
  ];
  for (let i = 0; i < calls; i++) {
    if (i % every === 0) sampler.sample(i);
    const result = await pipe.generate({ ...variants[i % variants.length]!, seed: i });
    await result.images[0]!.png();
  }
  sampler.sample(calls);
  await pipe.close();
}
