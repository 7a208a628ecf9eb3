/**
 * Euler ancestral sampling (k-diffusion's sample_euler_ancestral, eta 1), semantics of diffusers'
 * EulerAncestralDiscreteScheduler (src/diffusers/schedulers/scheduling_euler_ancestral_discrete.py):
 * the schedule, input scaling, initial noise sigma and x0 prediction are Euler's (see euler.ts); the
 * step goes down to sigma_down with the Euler update and adds fresh noise of size sigma_up, where
 *   sigma_up = sqrt(sigma_next^2 (sigma^2 - sigma_next^2) / sigma^2),
 *   sigma_down = sqrt(sigma_next^2 - sigma_up^2).
 * Noise is drawn on every step, the last included (where sigma_up = 0), as diffusers does.
 *
 * Karras sigmas: diffusers' EulerAncestralDiscreteScheduler has no Karras option. With `karras`
 * this sampler takes EulerDiscreteScheduler's Karras schedule (sigmas and timesteps) and the
 * ancestral step above, which is what k-diffusion and the popular web UIs call "Euler a Karras".
 */
import { EulerFamilyScheduler, eulerX0 } from './euler.js';
import { type NoiseSource, type Samples, checkSamples, checkStepIndex, invalid, like } from './scheduler.js';
import { DiffusionAttentionError } from '../errors.js';

export class EulerAncestralScheduler extends EulerFamilyScheduler {
  readonly kind = 'euler-ancestral' as const;

  step<T extends Samples>(modelOutput: Samples, stepIndex: number, sample: T, noise?: NoiseSource): T {
    checkStepIndex(stepIndex, this.steps);
    checkSamples(modelOutput, sample);
    if (typeof noise !== 'function') throw invalid('euler-ancestral needs a noise source (step\'s fourth argument)');
    const z = noise(sample.length);
    if (!(z instanceof Float32Array || z instanceof Float64Array) || z.length !== sample.length) {
      throw new DiffusionAttentionError('E_SHAPE', `the noise source must return a Float32Array or Float64Array of ${sample.length} values`);
    }
    const sigma = this.sigmas[stepIndex]!;
    const next = this.sigmas[stepIndex + 1]!;
    const up = Math.sqrt((next * next * (sigma * sigma - next * next)) / (sigma * sigma));
    const down = Math.sqrt(next * next - up * up);
    const dt = down - sigma;
    const x0 = eulerX0(this.predictionType === 'v_prediction', sigma);
    const out = like(sample);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i]!;
      const d = (x - x0(x, modelOutput[i]!)) / sigma;
      out[i] = x + d * dt + z[i]! * up;
    }
    return out;
  }

}
