/**
 * Euler sampling of the probability-flow ODE in the variance-exploding form x = x0 + sigma * eps
 * (Karras et al. 2022, https://arxiv.org/abs/2206.00364, Algorithm 1 without churn), semantics of
 * diffusers' EulerDiscreteScheduler (src/diffusers/schedulers/scheduling_euler_discrete.py):
 * - sigmas: the training sigmas interpolated linearly at the spaced timesteps, then a final 0 (or
 *   the smallest training sigma with final_sigmas_type "sigma_min");
 * - Karras: n Karras sigmas between the first and last of those interpolated sigmas (or the file's
 *   sigma_max / sigma_min), and the timesteps given to the model recomputed from them by
 *   log-sigma interpolation (fractional, kept as float32 values as diffusers does);
 * - initial noise sigma: the largest sigma for "linspace" and "trailing" spacing, and
 *   sqrt(sigma_max^2 + 1) for "leading" (a diffusers convention kept for identical results);
 * - the model input is x / sqrt(sigma^2 + 1); x0 is x - sigma * eps for epsilon models, and
 *   x / (sigma^2 + 1) - v * sigma / sqrt(sigma^2 + 1) for v-prediction;
 * - the step: d = (x - x0) / sigma, x_next = x + d * (sigma_next - sigma). diffusers' optional
 *   churn (s_churn, default 0) is not offered.
 */
import type { EulerSettings } from './config.js';
import {
  eulerTimesteps, karrasSigmas, sigmaAt, sigmaToT, trainSigmas, trainingAlphasCumprod,
} from './noise-schedule.js';
import {
  type NoiseSource, type Samples, type Scheduler, checkSamples, checkStepIndex, checkSteps, like, scaled,
} from './scheduler.js';

/** Timesteps, sigmas and initial noise sigma of the Euler family. */
export interface SigmaSchedule {
  timesteps: number[];
  /** steps + 1 values, the last one final. */
  sigmas: number[];
  initNoiseSigma: number;
}

/**
 * The Euler schedule (EulerDiscreteScheduler.set_timesteps and init_noise_sigma); Euler ancestral
 * uses the same (EulerAncestralDiscreteScheduler.set_timesteps is the non-Karras case of it).
 */
export function eulerSchedule(s: EulerSettings, steps: number, karras: boolean): SigmaSchedule {
  checkSteps(steps, s.numTrainTimesteps);
  const train = trainSigmas(trainingAlphasCumprod(s, true));
  let timesteps = eulerTimesteps({ spacing: s.timestepSpacing, numTrainTimesteps: s.numTrainTimesteps, stepsOffset: s.stepsOffset }, steps);
  let sigmas = timesteps.map((t) => sigmaAt(t, train));
  if (karras) {
    const k = karrasSigmas(s.sigmaMin ?? sigmas[sigmas.length - 1]!, s.sigmaMax ?? sigmas[0]!, steps);
    const logSigmas = train.map(Math.log);
    sigmas = Array.from(k);
    timesteps = sigmas.map((sigma) => Math.fround(sigmaToT(sigma, logSigmas)));
  }
  sigmas.push(s.finalSigmasType === 'sigma_min' ? train[0]! : 0);
  const max = Math.max(...sigmas);
  const initNoiseSigma = s.timestepSpacing === 'leading' ? Math.sqrt(max * max + 1) : max;
  return { timesteps, sigmas, initNoiseSigma };
}

/** Predicted x0 from the model output at noise level sigma (VE form), as both Euler schedulers do. */
export function eulerX0(v: boolean, sigma: number): (x: number, m: number) => number {
  if (!v) return (x, m) => x - sigma * m;
  const cOut = -sigma / Math.sqrt(sigma * sigma + 1);
  const cSkip = 1 / (sigma * sigma + 1);
  return (x, m) => m * cOut + x * cSkip;
}

/**
 * What the two Euler samplers share (diffusers' EulerDiscreteScheduler and
 * EulerAncestralDiscreteScheduler compute the same schedule and input scaling): the sigma
 * schedule and the model-input scaling 1/sqrt(sigma^2 + 1). Subclasses supply the step.
 */
export abstract class EulerFamilyScheduler implements Scheduler {
  abstract readonly kind: 'euler' | 'euler-ancestral';
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

  abstract step<T extends Samples>(modelOutput: Samples, stepIndex: number, sample: T, noise?: NoiseSource): T;

  /** Nothing to reset: Euler steps keep no state between calls. */
  reset(): void {}
}

export class EulerScheduler extends EulerFamilyScheduler {
  readonly kind = 'euler' as const;

  step<T extends Samples>(modelOutput: Samples, stepIndex: number, sample: T, _noise?: NoiseSource): T {
    checkStepIndex(stepIndex, this.steps);
    checkSamples(modelOutput, sample);
    const sigma = this.sigmas[stepIndex]!;
    const dt = this.sigmas[stepIndex + 1]! - sigma;
    const x0 = eulerX0(this.predictionType === 'v_prediction', sigma);
    const out = like(sample);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i]!;
      const d = (x - x0(x, modelOutput[i]!)) / sigma;
      out[i] = x + d * dt;
    }
    return out;
  }

}
