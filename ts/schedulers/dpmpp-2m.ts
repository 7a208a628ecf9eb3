/**
 * DPM-Solver++(2M) (Lu et al. 2022, https://arxiv.org/abs/2211.01095, Algorithm 2), semantics of
 * diffusers' DPMSolverMultistepScheduler (src/diffusers/schedulers/scheduling_dpmsolver_multistep.py)
 * configured as algorithm_type "dpmsolver++", solver_order 2, solver_type "midpoint":
 * - the sample lives in the variance-preserving form x = alpha x0 + sigma_vp eps with
 *   alpha = 1 / sqrt(sigma^2 + 1) and sigma_vp = sigma * alpha: no input scaling and initial noise
 *   sigma 1; the model output is turned into a data prediction x0 (epsilon: (x - sigma_vp eps) /
 *   alpha; v: alpha x - sigma_vp v);
 * - lambda = log(alpha) - log(sigma_vp), h = lambda_next - lambda;
 *   first order (the first step, and the last one when lower-order-final applies):
 *     x_next = (sigma_vp_next / sigma_vp) x - alpha_next (e^-h - 1) x0;
 *   second order (midpoint), with the previous step's prediction x0_prev and r = h_prev / h:
 *     x_next = (sigma_vp_next / sigma_vp) x - alpha_next (e^-h - 1) (x0 + (x0 - x0_prev) / (2 r));
 * - the last step is first order when euler_at_final, or lower_order_final with fewer than 15 steps,
 *   or the final sigma is 0 (final_sigmas_type "zero", the default: the second-order update is
 *   undefined there);
 * - timesteps: the DPM-Solver spacing (noise-schedule.ts `dpmTimesteps`), sigmas interpolated there;
 *   with Karras sigmas, n Karras sigmas over the whole training range (or the file's sigma_min /
 *   sigma_max) and integer timesteps rounded from them; the update uses the Karras sigmas
 *   themselves, not those of the rounded timesteps.
 */
import type { DpmSettings } from './config.js';
import {
  clippedLastTimestep, dpmTimesteps, karrasSigmas, roundHalfEven, sigmaAt, sigmaToT, trainSigmas, trainingAlphasCumprod,
} from './noise-schedule.js';
import {
  type NoiseSource, type Samples, type Scheduler, checkSamples, checkStepIndex, checkSteps, invalid, like,
} from './scheduler.js';

/** alpha and sigma_vp of a VE noise level. */
function vp(sigma: number): { alpha: number; sigmaVp: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const sigmaVp = sigma * alpha;
  return { alpha, sigmaVp, lambda: Math.log(alpha) - Math.log(sigmaVp) };
}

export class DpmSolverPlusPlus2MScheduler implements Scheduler {
  readonly kind = 'dpmpp-2m' as const;
  readonly karras: boolean;
  readonly predictionType: DpmSettings['predictionType'];
  readonly steps: number;
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma = 1;
  readonly #settings: DpmSettings;
  /** The data prediction of the previous step, and the step it belongs to. */
  #previous: Float64Array | null = null;
  #nextIndex = 0;

  constructor(settings: DpmSettings, steps: number, karras: boolean) {
    checkSteps(steps, settings.numTrainTimesteps);
    this.#settings = settings;
    this.karras = karras;
    this.predictionType = settings.predictionType;
    const acp = trainingAlphasCumprod(settings, true);
    const train = trainSigmas(acp);
    const last = clippedLastTimestep(acp, settings.lambdaMinClipped);
    let timesteps = dpmTimesteps({ spacing: settings.timestepSpacing, numTrainTimesteps: settings.numTrainTimesteps, stepsOffset: settings.stepsOffset }, steps, last);
    let sigmas: number[];
    if (karras) {
      const k = karrasSigmas(settings.sigmaMin ?? train[0]!, settings.sigmaMax ?? train[train.length - 1]!, steps);
      const logSigmas = train.map(Math.log);
      sigmas = Array.from(k);
      timesteps = sigmas.map((s) => roundHalfEven(sigmaToT(s, logSigmas)));
    } else {
      sigmas = timesteps.map((t) => sigmaAt(t, train));
    }
    if (timesteps.length === 0) throw invalid(`lambda_min_clipped ${settings.lambdaMinClipped} leaves no timesteps`);
    sigmas.push(settings.finalSigmasType === 'sigma_min' ? train[0]! : 0);
    // Near num_train_timesteps steps the spacing repeats timesteps; a zero step in lambda makes the
    // second-order update 0/0 (diffusers returns NaN there).
    for (let i = 0; i + 1 < sigmas.length; i++) {
      if (!(sigmas[i + 1]! < sigmas[i]!)) throw invalid(`${steps} steps repeat timestep ${timesteps[i]} with ${settings.timestepSpacing} spacing; use fewer steps`);
    }
    // diffusers sets num_inference_steps = len(timesteps): fewer than asked when lambda_min_clipped
    // shortens a trailing schedule.
    this.steps = timesteps.length;
    this.timesteps = Object.freeze(timesteps);
    this.sigmas = Object.freeze(sigmas);
  }

  inputScale(stepIndex: number): number {
    checkStepIndex(stepIndex, this.steps);
    return 1;
  }

  scaleModelInput<T extends Samples>(sample: T, stepIndex: number): T {
    checkStepIndex(stepIndex, this.steps);
    return sample;
  }

  /** Whether step `i` uses the first-order update. */
  #firstOrder(i: number): boolean {
    if (i === 0 || this.#previous === null) return true;
    const s = this.#settings;
    return i === this.steps - 1 && (s.eulerAtFinal || (s.lowerOrderFinal && this.steps < 15) || s.finalSigmasType === 'zero');
  }

  step<T extends Samples>(modelOutput: Samples, stepIndex: number, sample: T, _noise?: NoiseSource): T {
    checkStepIndex(stepIndex, this.steps);
    checkSamples(modelOutput, sample);
    if (stepIndex === 0) this.reset();
    else if (stepIndex !== this.#nextIndex) {
      throw invalid(`dpmpp-2m steps must run in order from 0: expected step ${this.#nextIndex}, got ${stepIndex}`);
    }
    const n = sample.length;
    if (this.#previous !== null && this.#previous.length !== n) {
      throw invalid(`the sample changed length between steps (${this.#previous.length} -> ${n})`);
    }
    const s = vp(this.sigmas[stepIndex]!);
    const t = vp(this.sigmas[stepIndex + 1]!);

    // The data prediction x0 (convert_model_output).
    const x0 = new Float64Array(n);
    const v = this.predictionType === 'v_prediction';
    for (let i = 0; i < n; i++) {
      const x = sample[i]!;
      const m = modelOutput[i]!;
      x0[i] = v ? s.alpha * x - s.sigmaVp * m : (x - s.sigmaVp * m) / s.alpha;
    }

    const h = t.lambda - s.lambda;
    const ratio = t.sigmaVp / s.sigmaVp;
    const c = t.alpha * (Math.exp(-h) - 1);
    const out = like(sample);
    if (this.#firstOrder(stepIndex)) {
      for (let i = 0; i < n; i++) out[i] = ratio * sample[i]! - c * x0[i]!;
    } else {
      const prev = this.#previous!;
      const r0 = (s.lambda - vp(this.sigmas[stepIndex - 1]!).lambda) / h;
      for (let i = 0; i < n; i++) {
        const d1 = (1 / r0) * (x0[i]! - prev[i]!);
        out[i] = ratio * sample[i]! - c * x0[i]! - 0.5 * c * d1;
      }
    }
    this.#previous = x0;
    this.#nextIndex = stepIndex + 1;
    return out;
  }

  reset(): void {
    this.#previous = null;
    this.#nextIndex = 0;
  }
}
