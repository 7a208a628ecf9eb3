/**
 * The interface every sampler implements, and the checks they share.
 *
 * The sampler loop, as the pipeline runs it (one model call per step for every kind here):
 * ```
 * const s = createScheduler('dpmpp-2m', schedulerConfig, 25, { karras: true });
 * let x = noise(latentSize).map((v) => v * s.initNoiseSigma);       // Float32Array
 * for (let i = 0; i < s.steps; i++) {
 *   const out = unet(s.scaleModelInput(x, i), s.timesteps[i]);        // eps or v, per prediction_type
 *   x = s.step(out, i, x, (n) => rng.normals(n));                     // noise: ancestral only
 * }
 * ```
 *
 * Arrays: samples and model outputs are flat arrays of any length (all updates are element-wise, so a
 * batch is just a longer array). The pipeline passes Float32Array; a Float64Array sample gives a
 * Float64Array result with no float32 rounding anywhere (the tests use this). All coefficients and
 * every element-wise update are computed in float64; a Float32Array result is rounded once, at the
 * end of the step, as diffusers casts its float32 upcast back to the model's dtype.
 */
import { DiffusionAttentionError } from '../errors.js';
import type { PredictionType, SchedulerKind } from './config.js';

/** A sample or model output. */
export type Samples = Float32Array | Float64Array;

/**
 * Fresh standard-normal noise for one step: `length` values (the sample's length). Ancestral
 * sampling calls it exactly once per step (also on the last step, where the noise is multiplied by
 * 0, as diffusers draws it there too); the other samplers never call it.
 */
export type NoiseSource = (length: number) => Samples;

export interface Scheduler {
  readonly kind: SchedulerKind;
  /** Whether the noise levels follow Karras et al.'s schedule. */
  readonly karras: boolean;
  readonly predictionType: PredictionType;
  /** Number of steps, = number of model calls. */
  readonly steps: number;
  /**
   * The timestep t given to the model at each step, descending (`steps` values). Integers for DDIM
   * and DPM++ 2M; Euler's may be fractional (linspace spacing, Karras sigmas): the float32 values
   * diffusers gives the UNet.
   */
  readonly timesteps: readonly number[];
  /**
   * The noise level sigma = sqrt((1 - alpha_bar) / alpha_bar) at each step, then the final one
   * (`steps + 1` values; the last is 0 unless final_sigmas_type is "sigma_min"). For DDIM these are
   * the levels of its timesteps, then that of `final_alpha_cumprod`.
   */
  readonly sigmas: readonly number[];
  /** Standard deviation of the initial noise: start from `initNoiseSigma * N(0, I)`. */
  readonly initNoiseSigma: number;
  /** The factor `scaleModelInput` multiplies by at `stepIndex` (1 for DDIM and DPM++). */
  inputScale(stepIndex: number): number;
  /**
   * The model's input at `stepIndex`: `sample * inputScale(stepIndex)` in a new array of the same
   * type, or `sample` itself when the factor is 1. The sample is never modified.
   */
  scaleModelInput<T extends Samples>(sample: T, stepIndex: number): T;
  /**
   * One step: from the sample at `stepIndex` and the model's output there (the guided prediction),
   * the sample at `stepIndex + 1`, in a new array of the sample's type. Steps must run in order from
   * 0 (DPM++ 2M keeps the previous step's prediction); calling step 0 again starts a new run.
   */
  step<T extends Samples>(modelOutput: Samples, stepIndex: number, sample: T, noise?: NoiseSource): T;
  /** Forgets the state of a run (DPM++ 2M's history); step 0 does this too. */
  reset(): void;
}

export function invalid(message: string): DiffusionAttentionError {
  return new DiffusionAttentionError('E_INVALID_ARGUMENT', message);
}

/** Throws unless `stepIndex` is an integer in [0, steps). */
export function checkStepIndex(stepIndex: number, steps: number): void {
  if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= steps) {
    throw invalid(`stepIndex must be an integer from 0 to ${steps - 1}, got ${stepIndex}`);
  }
}

/** Throws unless both are Float32Array/Float64Array of the same length. */
export function checkSamples(modelOutput: Samples, sample: Samples): void {
  for (const [name, a] of [['modelOutput', modelOutput], ['sample', sample]] as const) {
    if (!(a instanceof Float32Array || a instanceof Float64Array)) throw invalid(`${name} must be a Float32Array or Float64Array`);
  }
  if (modelOutput.length !== sample.length) {
    throw new DiffusionAttentionError('E_SHAPE', `modelOutput has ${modelOutput.length} values but sample has ${sample.length}`);
  }
}

/** A new zeroed array of the same type and length as `a`. */
export function like<T extends Samples>(a: T): T {
  return (a instanceof Float32Array ? new Float32Array(a.length) : new Float64Array(a.length)) as T;
}

/** `sample * factor` in a new array of the same type, or `sample` itself when the factor is 1. */
export function scaled<T extends Samples>(sample: T, factor: number): T {
  if (factor === 1) return sample;
  const out = like(sample);
  for (let i = 0; i < sample.length; i++) out[i] = sample[i]! * factor;
  return out;
}

/** Validates the number of inference steps against the training steps. */
export function checkSteps(steps: number, numTrainTimesteps: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > numTrainTimesteps) {
    throw invalid(`steps must be an integer from 1 to num_train_timesteps (${numTrainTimesteps}), got ${steps}`);
  }
}
