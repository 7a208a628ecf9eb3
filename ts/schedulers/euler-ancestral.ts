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
import type { EulerSettings } from './config.js';
import { eulerSchedule, eulerX0 } from './euler.js';
import {
  type NoiseSource, type Samples, type Scheduler, checkSamples, checkStepIndex, invalid, like, scaled,
} from './scheduler.js';
import { DiffusionAttentionError } from '../errors.js';

export class EulerAncestralScheduler implements Scheduler {
  readonly kind = 'euler-ancestral' as const;
  readonly karras: boolean;
  readonly predictionType: EulerSettings['predictionType'];
  readonly steps: number;
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma: number;

  constructor(settings: EulerSettings, steps: number, karras: boolean) {
    const schedule = eulerSchedule(settings, steps, karras);
    this.karras = karras;
    this.predictionType = settings.predictionType;
    this.steps = steps;
    this.timesteps = Object.freeze(schedule.timesteps);
    this.sigmas = Object.freeze(schedule.sigmas);
    this.initNoiseSigma = schedule.initNoiseSigma;
  }

  inputScale(stepIndex: number): number {
    checkStepIndex(stepIndex, this.steps);
    const sigma = this.sigmas[stepIndex]!;
    return 1 / Math.sqrt(sigma * sigma + 1);
  }

  scaleModelInput<T extends Samples>(sample: T, stepIndex: number): T {
    return scaled(sample, this.inputScale(stepIndex));
  }

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

  reset(): void {}
}
