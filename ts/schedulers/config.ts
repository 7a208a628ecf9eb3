/**
 * `scheduler/scheduler_config.json` of a diffusers model folder.
 *
 * The file's `_class_name` only names the model's default sampler; any of our samplers can run from
 * it, the way diffusers users swap samplers with `OtherScheduler.from_config(pipe.scheduler.config)`.
 * diffusers' rule for that swap (configuration_utils.py, `extract_init_dict` and
 * `_use_default_values`): a field present in the file is used as written; a field absent from the
 * file takes the default of the scheduler class that runs, not of the class the file names. So SD
 * 1.5's file (no `timestep_spacing`) samples with "leading" spacing under DDIM and "linspace" under
 * Euler and DPM++, exactly as in diffusers. `resolveSchedulerSettings` applies these per-class
 * defaults.
 *
 * Every field diffusers writes for the scheduler classes SD 1.x/2.x checkpoints ship with is known
 * here. An unknown field, or a value we do not implement (a cosine beta schedule, "sample" prediction, dynamic thresholding, exponential/beta sigmas, ...), is an
 * `E_MODEL_FORMAT` error naming the field, never a silently different sampler.
 */
import { z } from 'zod';

import { DiffusionAttentionError } from '../errors.js';
import { parseConfig } from '../models/config.js';
import type { BetaSchedule, TimestepSpacing } from './noise-schedule.js';

/** The samplers this package implements. */
export const SCHEDULER_KINDS = ['ddim', 'euler', 'euler-ancestral', 'dpmpp-2m'] as const;
export type SchedulerKind = (typeof SCHEDULER_KINDS)[number];

/** What the model's output means (`prediction_type`). */
export type PredictionType = 'epsilon' | 'v_prediction';

/** Scheduler classes whose configs we accept (SD 1.x/2.x checkpoints ship one of these). */
export const SCHEDULER_CLASSES = [
  'PNDMScheduler', 'DDIMScheduler', 'DDPMScheduler', 'LMSDiscreteScheduler', 'EulerDiscreteScheduler',
  'EulerAncestralDiscreteScheduler', 'DPMSolverMultistepScheduler', 'DPMSolverSinglestepScheduler',
  'DPMSolverSDEScheduler', 'UniPCMultistepScheduler', 'HeunDiscreteScheduler', 'KDPM2DiscreteScheduler',
  'KDPM2AncestralDiscreteScheduler', 'DEISMultistepScheduler', 'LCMScheduler', 'TCDScheduler',
] as const;

const unit = z.number().gt(0).lt(1);
/** An optional field: absent stays undefined, so the running class's default can apply. */
const opt = <T extends z.ZodType>(s: T) => s.optional();

/**
 * The fields, by the classes that define them. Fields that matter to our samplers are validated to
 * the values we implement; fields only another class reads (PNDM's `skip_prk_steps`, UniPC's
 * `predict_x0`, ...) are accepted with their diffusers types and otherwise ignored, as diffusers
 * ignores them when it swaps the class.
 */
export const schedulerConfigSchema = z.strictObject({
  _class_name: opt(z.enum(SCHEDULER_CLASSES)),
  _diffusers_version: opt(z.string()),
  _name_or_path: opt(z.string()),
  // every class
  // Every SD model trains 1000 steps; the cap keeps a hostile file from sizing the schedule tables.
  num_train_timesteps: opt(z.number().int().min(2).max(100000)),
  beta_start: opt(unit),
  beta_end: opt(unit),
  beta_schedule: opt(z.enum(['linear', 'scaled_linear'])),
  trained_betas: opt(z.null()),
  prediction_type: opt(z.enum(['epsilon', 'v_prediction'])),
  timestep_spacing: opt(z.enum(['leading', 'linspace', 'trailing'])),
  steps_offset: opt(z.number().int().nonnegative()),
  rescale_betas_zero_snr: opt(z.boolean()),
  // PNDM, DDIM, DDPM, LCM, TCD, Heun
  skip_prk_steps: opt(z.boolean()),
  set_alpha_to_one: opt(z.boolean()),
  clip_sample: opt(z.boolean()),
  clip_sample_range: opt(z.number().positive()),
  thresholding: opt(z.literal(false)),
  dynamic_thresholding_ratio: opt(z.number()),
  sample_max_value: opt(z.number()),
  // DDPM ("fixed_*"), DPM-Solver (null); learned variances need a model with twice the channels
  variance_type: opt(z.enum(['fixed_small', 'fixed_small_log', 'fixed_large', 'fixed_large_log']).nullable()),
  // Euler, LMS, Heun, KDPM2, DPM-Solver, UniPC, DEIS
  use_karras_sigmas: opt(z.boolean().nullable()),
  use_exponential_sigmas: opt(z.literal(false).nullable()),
  use_beta_sigmas: opt(z.literal(false).nullable()),
  interpolation_type: opt(z.literal('linear')),
  sigma_min: opt(z.number().positive().nullable()),
  sigma_max: opt(z.number().positive().nullable()),
  timestep_type: opt(z.literal('discrete')),
  final_sigmas_type: opt(z.enum(['zero', 'sigma_min'])),
  // DPM-Solver, UniPC, DEIS
  solver_order: opt(z.number().int().min(1).max(3)),
  algorithm_type: opt(z.enum(['dpmsolver', 'dpmsolver++', 'sde-dpmsolver', 'sde-dpmsolver++', 'deis'])),
  solver_type: opt(z.enum(['midpoint', 'heun', 'logrho', 'bh1', 'bh2'])),
  lower_order_final: opt(z.boolean()),
  euler_at_final: opt(z.boolean()),
  use_lu_lambdas: opt(z.literal(false)),
  use_flow_sigmas: opt(z.literal(false)),
  flow_shift: opt(z.number()),
  use_dynamic_shifting: opt(z.literal(false)),
  time_shift_type: opt(z.literal('exponential')),
  lambda_min_clipped: opt(z.union([z.number(), z.literal(-Infinity)])),
  // UniPC
  predict_x0: opt(z.boolean()),
  disable_corrector: opt(z.array(z.number().int())),
  solver_p: opt(z.null()),
  shift_terminal: opt(z.number().nullable()),
  // DPMSolverSDE
  noise_sampler_seed: opt(z.number().int().nullable()),
  // LCM, TCD
  original_inference_steps: opt(z.number().int().positive()),
  timestep_scaling: opt(z.number()),
});

/** A validated scheduler_config.json: fields absent from the file stay `undefined`. */
export type SchedulerConfig = z.output<typeof schedulerConfigSchema>;

/**
 * Validates a parsed scheduler_config.json (an already validated config passes unchanged).
 * Failures are `E_MODEL_FORMAT` errors naming `file` and the field.
 */
export function parseSchedulerConfig(json: unknown, file = 'scheduler_config.json'): SchedulerConfig {
  return parseConfig(schedulerConfigSchema, json, file);
}

/**
 * `JSON.parse` that also reads the bare `NaN`, `Infinity` and `-Infinity` Python's `json.dumps`
 * writes: a DPMSolverMultistepScheduler config saved by diffusers holds
 * `"lambda_min_clipped": -Infinity`, which plain JSON.parse rejects. Tokens inside strings are left
 * alone. A syntax error is `E_MODEL_FORMAT` naming `file`.
 */
export function parsePythonJson(text: string, file = 'scheduler_config.json'): unknown {
  const marks: Record<string, number> = { '\u0000NaN': NaN, '\u0000Infinity': Infinity, '\u0000-Infinity': -Infinity };
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const token = /^(-?Infinity|NaN)/.exec(text.slice(i, i + 9));
    if (token) {
      out += JSON.stringify(`\u0000${token[1]}`);
      i += token[1]!.length;
      continue;
    }
    out += ch;
    i++;
  }
  try {
    return JSON.parse(out, (_key, value: unknown) => (typeof value === 'string' && value in marks ? marks[value] : value));
  } catch (err) {
    throw new DiffusionAttentionError('E_MODEL_FORMAT', `${file} is not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

/** The settings every sampler reads, defaults resolved. */
export interface NoiseSettings {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  predictionType: PredictionType;
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
  /** `rescale_betas_zero_snr`: the last training timestep is pure noise (noise-schedule.ts). */
  rescaleBetasZeroSnr: boolean;
}

/** DDIMScheduler's settings (scheduling_ddim.py). */
export interface DdimSettings extends NoiseSettings {
  clipSample: boolean;
  clipSampleRange: number;
  setAlphaToOne: boolean;
}

/** EulerDiscreteScheduler's settings (scheduling_euler_discrete.py); Euler ancestral reads the same. */
export interface EulerSettings extends NoiseSettings {
  useKarrasSigmas: boolean;
  sigmaMin: number | null;
  sigmaMax: number | null;
  finalSigmasType: 'zero' | 'sigma_min';
}

/**
 * DPMSolverMultistepScheduler's settings (scheduling_dpmsolver_multistep.py). The sampler kind
 * 'dpmpp-2m' fixes algorithm_type "dpmsolver++", solver_order 2 and solver_type "midpoint", whatever
 * the file says (a DPM-Solver file with other values names another default sampler).
 */
export interface DpmSettings extends NoiseSettings {
  useKarrasSigmas: boolean;
  sigmaMin: number | null;
  sigmaMax: number | null;
  finalSigmasType: 'zero' | 'sigma_min';
  lowerOrderFinal: boolean;
  eulerAtFinal: boolean;
  lambdaMinClipped: number;
}

export interface SettingsByKind {
  'ddim': DdimSettings;
  'euler': EulerSettings;
  'euler-ancestral': EulerSettings;
  'dpmpp-2m': DpmSettings;
}

/**
 * The settings `kind` runs with: each field from the file when present, else the default of the
 * diffusers class that implements `kind` (DDIMScheduler, EulerDiscreteScheduler,
 * EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler: linear betas 0.0001..0.02 over 1000
 * steps, epsilon, steps_offset 0; spacing "leading" for DDIM and "linspace" for the others; DDIM
 * clip_sample true and set_alpha_to_one true). EulerAncestralDiscreteScheduler has no Karras option
 * in diffusers, so for 'euler-ancestral' the file's `use_karras_sigmas` and `final_sigmas_type` are
 * ignored as diffusers ignores them; Karras sigmas must be asked for (`createScheduler`'s `karras`),
 * and then use `sigma_min`/`sigma_max` as EulerDiscreteScheduler does.
 */
export function resolveSchedulerSettings<K extends SchedulerKind>(kind: K, config: SchedulerConfig): SettingsByKind[K] {
  const c = config;
  const noise: NoiseSettings = {
    numTrainTimesteps: c.num_train_timesteps ?? 1000,
    betaStart: c.beta_start ?? 0.0001,
    betaEnd: c.beta_end ?? 0.02,
    betaSchedule: c.beta_schedule ?? 'linear',
    predictionType: c.prediction_type ?? 'epsilon',
    timestepSpacing: c.timestep_spacing ?? (kind === 'ddim' ? 'leading' : 'linspace'),
    stepsOffset: c.steps_offset ?? 0,
    rescaleBetasZeroSnr: c.rescale_betas_zero_snr ?? false,
  };
  const sigmas = {
    useKarrasSigmas: c.use_karras_sigmas ?? false,
    sigmaMin: c.sigma_min ?? null,
    sigmaMax: c.sigma_max ?? null,
    finalSigmasType: c.final_sigmas_type ?? 'zero',
  };
  let out: DdimSettings | EulerSettings | DpmSettings;
  switch (kind) {
    case 'ddim':
      out = { ...noise, clipSample: c.clip_sample ?? true, clipSampleRange: c.clip_sample_range ?? 1, setAlphaToOne: c.set_alpha_to_one ?? true };
      break;
    case 'euler':
      out = { ...noise, ...sigmas };
      break;
    case 'euler-ancestral':
      // EulerAncestralDiscreteScheduler reads none of the sigma fields: no Karras unless asked for,
      // and always a final sigma of 0. With the Karras option, sigma_min/sigma_max apply as in Euler.
      out = { ...noise, ...sigmas, useKarrasSigmas: false, finalSigmasType: 'zero' };
      break;
    case 'dpmpp-2m':
      out = {
        ...noise, ...sigmas, lowerOrderFinal: c.lower_order_final ?? true, eulerAtFinal: c.euler_at_final ?? false,
        lambdaMinClipped: c.lambda_min_clipped ?? -Infinity,
      };
      break;
    default:
      throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `unknown scheduler ${JSON.stringify(kind)}; expected one of ${SCHEDULER_KINDS.join(', ')}`);
  }
  return out as SettingsByKind[K];
}

/**
 * The sampler the file names as the model's default, when it is one of ours: DDIMScheduler,
 * EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, or a DPMSolverMultistepScheduler of
 * order 2 with algorithm "dpmsolver++" and "midpoint" solver (each field as written or its class
 * default); with `karras` from `use_karras_sigmas`. Otherwise (PNDM, LMS, UniPC, ...) null.
 */
export function defaultScheduler(config: SchedulerConfig): { kind: SchedulerKind; karras: boolean } | null {
  const karras = config.use_karras_sigmas ?? false;
  switch (config._class_name) {
    case 'DDIMScheduler':
      return { kind: 'ddim', karras: false };
    case 'EulerDiscreteScheduler':
      return { kind: 'euler', karras };
    case 'EulerAncestralDiscreteScheduler':
      return { kind: 'euler-ancestral', karras: false };
    case 'DPMSolverMultistepScheduler':
      if ((config.algorithm_type ?? 'dpmsolver++') === 'dpmsolver++' && (config.solver_order ?? 2) === 2
        && (config.solver_type ?? 'midpoint') === 'midpoint') return { kind: 'dpmpp-2m', karras };
      return null;
    default:
      return null;
  }
}
