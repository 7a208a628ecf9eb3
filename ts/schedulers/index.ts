/**
 * The samplers: DDIM, Euler, Euler ancestral and DPM++ 2M, each optionally with Karras sigmas
 * (not DDIM), with diffusers' semantics, in float64 TypeScript. `createScheduler` builds one from a
 * model's scheduler_config.json; see scheduler.ts for the loop and the array conventions.
 */
import {
  SCHEDULER_KINDS, type SchedulerConfig, type SchedulerKind, parseSchedulerConfig, resolveSchedulerSettings,
} from './config.js';
import { DdimScheduler } from './ddim.js';
import { DpmSolverPlusPlus2MScheduler } from './dpmpp-2m.js';
import { EulerAncestralScheduler } from './euler-ancestral.js';
import { EulerScheduler } from './euler.js';
import { type Scheduler, invalid } from './scheduler.js';

export interface CreateSchedulerOptions {
  /**
   * Karras sigmas (euler, euler-ancestral, dpmpp-2m; an error for ddim). Default: the file's
   * `use_karras_sigmas` for euler and dpmpp-2m (as diffusers reads it), false for euler-ancestral
   * and ddim (their diffusers classes do not read it).
   */
  karras?: boolean;
}

/**
 * A sampler of `kind` for `steps` steps with the model's `scheduler/scheduler_config.json`
 * (parsed JSON, validated here: `E_MODEL_FORMAT` naming the field when it is not supported).
 * Bad arguments are `E_INVALID_ARGUMENT`.
 */
export function createScheduler(kind: SchedulerKind, schedulerConfig: unknown, steps: number, options: CreateSchedulerOptions = {}): Scheduler {
  if (!(SCHEDULER_KINDS as readonly string[]).includes(kind)) {
    throw invalid(`unknown scheduler ${JSON.stringify(kind)}; expected one of ${SCHEDULER_KINDS.join(', ')}`);
  }
  if (options === null || typeof options !== 'object') throw invalid('options must be an object');
  const { karras } = options;
  if (karras !== undefined && typeof karras !== 'boolean') throw invalid(`karras must be a boolean, got ${String(karras)}`);
  if (kind === 'ddim' && karras === true) throw invalid('Karras sigmas are not available with ddim (use euler, euler-ancestral or dpmpp-2m)');
  if (typeof steps !== 'number') throw invalid(`steps must be a number, got ${typeof steps}`);
  const config: SchedulerConfig = parseSchedulerConfig(schedulerConfig);
  switch (kind) {
    case 'ddim':
      return new DdimScheduler(resolveSchedulerSettings('ddim', config), steps);
    case 'euler': {
      const s = resolveSchedulerSettings('euler', config);
      return new EulerScheduler(s, steps, karras ?? s.useKarrasSigmas);
    }
    case 'euler-ancestral': {
      const s = resolveSchedulerSettings('euler-ancestral', config);
      return new EulerAncestralScheduler(s, steps, karras ?? s.useKarrasSigmas);
    }
    case 'dpmpp-2m': {
      const s = resolveSchedulerSettings('dpmpp-2m', config);
      return new DpmSolverPlusPlus2MScheduler(s, steps, karras ?? s.useKarrasSigmas);
    }
  }
}

export {
  SCHEDULER_CLASSES, SCHEDULER_KINDS, defaultScheduler, parsePythonJson, parseSchedulerConfig, resolveSchedulerSettings,
  schedulerConfigSchema,
} from './config.js';
export type {
  DdimSettings, DpmSettings, EulerSettings, NoiseSettings, PredictionType, SchedulerConfig, SchedulerKind,
} from './config.js';
export type { NoiseSource, Samples, Scheduler } from './scheduler.js';
export { GaussianRandom, type Seed } from './random.js';
export { DdimScheduler } from './ddim.js';
export { EulerScheduler } from './euler.js';
export { EulerAncestralScheduler } from './euler-ancestral.js';
export { DpmSolverPlusPlus2MScheduler } from './dpmpp-2m.js';
