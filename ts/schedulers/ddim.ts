/**
 * DDIM (Song et al. 2020, https://arxiv.org/abs/2010.02502) with eta = 0: the deterministic update
 * x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev) eps, semantics of diffusers' DDIMScheduler
 * (src/diffusers/schedulers/scheduling_ddim.py):
 * - the previous timestep is always t - floor(N / n), whatever the spacing (so with "linspace" or
 *   "trailing" it need not be the next entry of `timesteps`; diffusers does exactly this);
 * - below t = 0 the previous alpha_bar is `final_alpha_cumprod`: 1 with set_alpha_to_one, else
 *   alpha_bar_0 (SD's files say false);
 * - clip_sample clamps the predicted x0 to +-clip_sample_range (eps is not recomputed from it);
 * - no input scaling, initial noise sigma 1;
 * - with rescale_betas_zero_snr alpha_bar at t = N-1 is exactly 0 (its sigma is Infinity): a v model's
 *   x0 there is -v; an epsilon model's cannot be recovered, and diffusers would divide by zero, so
 *   that combination is refused when the schedule reaches N-1.
 * Karras sigmas do not apply to DDIM (diffusers' DDIMScheduler has no such option).
 */
import { DiffusionAttentionError } from '../errors.js';
import type { DdimSettings } from './config.js';
import { ddimTimesteps, trainingAlphasCumprod } from './noise-schedule.js';
import { type NoiseSource, type Samples, type Scheduler, checkSamples, checkStepIndex, checkSteps, invalid, like } from './scheduler.js';

export class DdimScheduler implements Scheduler {
  readonly kind = 'ddim' as const;
  readonly karras = false;
  readonly predictionType: DdimSettings['predictionType'];
  readonly steps: number;
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma = 1;
  readonly #settings: DdimSettings;
  readonly #acp: Float64Array;
  readonly #finalAcp: number;
  readonly #stride: number;

  constructor(settings: DdimSettings, steps: number) {
    checkSteps(steps, settings.numTrainTimesteps);
    this.#settings = settings;
    this.predictionType = settings.predictionType;
    this.steps = steps;
    this.#acp = trainingAlphasCumprod(settings, false);
    this.#finalAcp = settings.setAlphaToOne ? 1 : this.#acp[0]!;
    this.#stride = Math.floor(settings.numTrainTimesteps / steps);
    const ts = ddimTimesteps({ spacing: settings.timestepSpacing, numTrainTimesteps: settings.numTrainTimesteps, stepsOffset: settings.stepsOffset }, steps);
    const bad = ts.find((t) => t >= settings.numTrainTimesteps);
    if (bad !== undefined) {
      throw invalid(`steps_offset ${settings.stepsOffset} with ${steps} steps gives timestep ${bad}, past num_train_timesteps ${settings.numTrainTimesteps}`);
    }
    if (this.#acp[ts[0]!] === 0 && this.predictionType === 'epsilon') {
      throw new DiffusionAttentionError('E_MODEL_FORMAT', `rescale_betas_zero_snr makes timestep ${ts[0]} pure noise, where an epsilon `
        + 'model cannot predict the picture (x0 = (x - eps) / 0); zero terminal SNR needs prediction_type "v_prediction"');
    }
    this.timesteps = Object.freeze(ts);
    const sigma = (a: number) => Math.sqrt((1 - a) / a);
    this.sigmas = Object.freeze([...ts.map((t) => sigma(this.#acp[t]!)), sigma(this.#finalAcp)]);
  }

  inputScale(stepIndex: number): number {
    checkStepIndex(stepIndex, this.steps);
    return 1;
  }

  scaleModelInput<T extends Samples>(sample: T, stepIndex: number): T {
    checkStepIndex(stepIndex, this.steps);
    return sample;
  }

  step<T extends Samples>(modelOutput: Samples, stepIndex: number, sample: T, _noise?: NoiseSource): T {
    checkStepIndex(stepIndex, this.steps);
    checkSamples(modelOutput, sample);
    const t = this.timesteps[stepIndex]!;
    const prev = t - this.#stride;
    const a = this.#acp[t]!;
    const aPrev = prev >= 0 ? this.#acp[prev]! : this.#finalAcp;
    const sa = Math.sqrt(a);
    const sb = Math.sqrt(1 - a);
    const saPrev = Math.sqrt(aPrev);
    const direction = Math.sqrt(1 - aPrev); // eta = 0: no variance term
    const { clipSample, clipSampleRange: r } = this.#settings;
    const v = this.predictionType === 'v_prediction';
    const out = like(sample);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i]!;
      const m = modelOutput[i]!;
      let x0 = v ? sa * x - sb * m : (x - sb * m) / sa;
      const eps = v ? sa * m + sb * x : m;
      if (clipSample) x0 = Math.min(Math.max(x0, -r), r);
      out[i] = saPrev * x0 + direction * eps;
    }
    return out;
  }

  reset(): void {}
}
