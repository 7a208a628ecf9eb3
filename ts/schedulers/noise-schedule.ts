/**
 * The discrete-time noise schedule shared by the samplers: betas, cumulative alphas, the noise levels
 * sigma = sqrt((1 - alpha_bar) / alpha_bar), the timesteps of n inference steps for each spacing,
 * Karras sigmas, and the sigma <-> t conversions.
 *
 * Semantics follow diffusers (src/diffusers/schedulers/scheduling_ddim.py,
 * scheduling_euler_discrete.py, scheduling_euler_ancestral_discrete.py,
 * scheduling_dpmsolver_multistep.py). diffusers builds these arrays with numpy, and which integer a
 * spaced timestep rounds to can depend on numpy's exact floating-point steps (an exact half rounds
 * to even, and `i * step` may land a hair either side of it): `npLinspace` and `npArange` below
 * reproduce numpy's arithmetic so that the timesteps are the integers diffusers gets.
 *
 * Precision: everything here is float64. diffusers computes betas and alpha_bar in float32 torch
 * tensors and stores sigmas as float32, so its values differ from ours by float32 rounding (relative
 * ~1e-7); the formulas are the same.
 */

/** Round half to even, as numpy's `round` / `np.round` (banker's rounding). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // rounds halves up (towards +inf)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * `numpy.linspace(start, stop, num)` with numpy's arithmetic: `start + i * ((stop - start) / (num - 1))`,
 * the last value set to `stop` exactly; one value gives `[start]`.
 */
export function npLinspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

/**
 * `numpy.arange(start, stop, step)` for floats with numpy's arithmetic: the length is
 * `ceil((stop - start) / step)`, and the values are `start + i * delta` where `delta` is
 * `(start + step) - start` as numpy computes it (not `step` itself).
 */
export function npArange(start: number, stop: number, step: number): Float64Array {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const out = new Float64Array(length);
  if (length === 0) return out;
  out[0] = start;
  if (length > 1) out[1] = start + step;
  const delta = out[1]! - start;
  for (let i = 2; i < length; i++) out[i] = start + i * delta;
  return out;
}

/** The supported `beta_schedule` values (scheduler_config.json). */
export type BetaSchedule = 'linear' | 'scaled_linear';
/** The supported `timestep_spacing` values (scheduler_config.json). */
export type TimestepSpacing = 'leading' | 'linspace' | 'trailing';

/**
 * Betas of the training schedule: `linear` is N values evenly from beta_start to beta_end;
 * `scaled_linear` (the latent-diffusion schedule of SD 1.x/2.x) is the square of N values evenly from
 * sqrt(beta_start) to sqrt(beta_end). As every diffusers scheduler's `__init__`.
 */
export function betas(schedule: BetaSchedule, betaStart: number, betaEnd: number, numTrainTimesteps: number): Float64Array {
  if (schedule === 'linear') return npLinspace(betaStart, betaEnd, numTrainTimesteps);
  const roots = npLinspace(Math.sqrt(betaStart), Math.sqrt(betaEnd), numTrainTimesteps);
  return roots.map((r) => r * r);
}

/** alpha_bar_t = prod_{s <= t} (1 - beta_s). */
export function alphasCumprod(b: Float64Array): Float64Array {
  const out = new Float64Array(b.length);
  let p = 1;
  for (let i = 0; i < b.length; i++) {
    p *= 1 - b[i]!;
    out[i] = p;
  }
  return out;
}

/**
 * alpha_bar rescaled to zero terminal SNR (Lin et al. 2024, "Common Diffusion Noise Schedules and
 * Sample Steps are Flawed", https://arxiv.org/abs/2305.08891, Algorithm 1; diffusers'
 * `rescale_zero_terminal_snr`, enabled by `rescale_betas_zero_snr`): sqrt(alpha_bar) is shifted so its
 * last value is 0, the last timestep pure noise, and scaled so its first value is unchanged. diffusers
 * rewrites the betas and takes their cumulative product again; that product is this array (to
 * float64 rounding).
 */
export function rescaleZeroTerminalSnr(acp: Float64Array): Float64Array {
  const first = Math.sqrt(acp[0]!);
  const last = Math.sqrt(acp[acp.length - 1]!);
  const scale = first / (first - last);
  return acp.map((a) => ((Math.sqrt(a) - last) * scale) ** 2);
}

/** What the sigma-parameterised samplers put in place of a zero terminal alpha_bar. */
export const ZERO_SNR_TERMINAL_ALPHA_BAR = 2 ** -24;

/** The training schedule's settings (scheduler_config.json's fields, defaults resolved). */
export interface TrainingSchedule {
  betaSchedule: BetaSchedule;
  betaStart: number;
  betaEnd: number;
  numTrainTimesteps: number;
  rescaleBetasZeroSnr: boolean;
}

/**
 * alpha_bar of every training timestep: `betas` and `alphasCumprod`, rescaled to zero terminal SNR when
 * the config asks. With `finiteTerminal` a zero last value becomes 2^-24, as diffusers' Euler, Euler
 * ancestral and DPM-Solver schedulers do so that sigma_max = sqrt((1 - a) / a) = 4096 stays finite;
 * DDIM keeps the exact 0 (x0 = -v there, which needs no division).
 */
export function trainingAlphasCumprod(s: TrainingSchedule, finiteTerminal: boolean): Float64Array {
  const acp = alphasCumprod(betas(s.betaSchedule, s.betaStart, s.betaEnd, s.numTrainTimesteps));
  if (!s.rescaleBetasZeroSnr) return acp;
  const rescaled = rescaleZeroTerminalSnr(acp);
  if (finiteTerminal) rescaled[rescaled.length - 1] = ZERO_SNR_TERMINAL_ALPHA_BAR;
  return rescaled;
}

/** The noise level of each training timestep, sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t), increasing in t. */
export function trainSigmas(acp: Float64Array): Float64Array {
  return acp.map((a) => Math.sqrt((1 - a) / a));
}

/** The spacing inputs every family needs. */
export interface SpacingConfig {
  spacing: TimestepSpacing;
  numTrainTimesteps: number;
  stepsOffset: number;
}

/**
 * numpy's trailing `arange(first, 0, -ratio)` has one element too many for some step counts (61,
 * 103, 121, ... of 1..1000: `(0 - 1000) / -(1000 / 61)` rounds above 61), whose value is ~1e-13 and
 * gives the timestep -1 in diffusers. We drop spaced values that round to t < 0, which keeps exactly
 * n steps; for every other count the result is diffusers'.
 */
function trailing(first: number, ratio: number): number[] {
  const out: number[] = [];
  for (const v of npArange(first, 0, -ratio)) {
    const t = roundHalfEven(v) - 1;
    if (t >= 0) out.push(t);
  }
  return out;
}

/**
 * Integer timesteps of DDIMScheduler.set_timesteps (scheduling_ddim.py), descending:
 * - leading: k * floor(N / n) + steps_offset for k = n-1 ... 0 (SD, 50 steps: 981, 961, ..., 1);
 * - linspace: n values evenly from 0 to N-1, rounded (half to even), reversed;
 * - trailing: round(N - k * N / n) - 1 for k = 0 ... n-1.
 */
export function ddimTimesteps(c: SpacingConfig, n: number): number[] {
  const N = c.numTrainTimesteps;
  if (c.spacing === 'linspace') return Array.from(npLinspace(0, N - 1, n), roundHalfEven).reverse();
  if (c.spacing === 'leading') {
    const ratio = Math.floor(N / n);
    const out: number[] = [];
    for (let k = n - 1; k >= 0; k--) out.push(k * ratio + c.stepsOffset);
    return out;
  }
  return trailing(N, N / n);
}

/**
 * Timesteps of EulerDiscreteScheduler / EulerAncestralDiscreteScheduler.set_timesteps
 * (scheduling_euler_discrete.py, scheduling_euler_ancestral_discrete.py), descending. As DDIM's,
 * except that linspace is not rounded: diffusers keeps the float32 values of linspace(0, N-1, n),
 * which we reproduce with Math.fround (25 steps: 999, 957.375, 915.75, ...).
 */
export function eulerTimesteps(c: SpacingConfig, n: number): number[] {
  if (c.spacing === 'linspace') return Array.from(npLinspace(0, c.numTrainTimesteps - 1, n), Math.fround).reverse();
  return ddimTimesteps(c, n);
}

/**
 * Integer timesteps of DPMSolverMultistepScheduler.set_timesteps (scheduling_dpmsolver_multistep.py),
 * descending. The spacings divide into n + 1 intervals and drop the final 0:
 * - linspace: linspace(0, last - 1, n + 1) rounded, reversed, without its last value (0);
 * - leading: k * floor(last / (n + 1)) + steps_offset for k = n ... 1;
 * - trailing: as DDIM's, starting from `last`.
 * `last` is N unless `lambda_min_clipped` clips the end of the schedule (see `clippedLastTimestep`).
 */
export function dpmTimesteps(c: SpacingConfig, n: number, last = c.numTrainTimesteps): number[] {
  if (c.spacing === 'linspace') return Array.from(npLinspace(0, last - 1, n + 1), roundHalfEven).reverse().slice(0, n);
  if (c.spacing === 'leading') {
    const ratio = Math.floor(last / (n + 1));
    const out: number[] = [];
    for (let k = n; k >= 1; k--) out.push(k * ratio + c.stepsOffset);
    return out;
  }
  return trailing(last, c.numTrainTimesteps / n);
}

/**
 * DPMSolverMultistepScheduler's `last_timestep`: N minus the number of timesteps whose
 * lambda = log(alpha_t) - log(sigma_t) (VP convention) is below `lambda_min_clipped`
 * (`searchsorted` over the flipped, increasing lambdas). With the default -inf this is N.
 */
export function clippedLastTimestep(acp: Float64Array, lambdaMinClipped: number): number {
  let below = 0;
  for (let j = acp.length - 1; j >= 0; j--) {
    const a = acp[j]!;
    const lambda = Math.log(Math.sqrt(a)) - Math.log(Math.sqrt(1 - a));
    if (lambda < lambdaMinClipped) below++;
    else break;
  }
  return acp.length - below;
}

/**
 * sigma at a (possibly fractional) timestep: `numpy.interp(t, arange(N), sigmas)`, linear in sigma
 * between the neighbouring integers and clamped at both ends (EulerDiscreteScheduler.set_timesteps).
 */
export function sigmaAt(t: number, sigmas: Float64Array): number {
  const last = sigmas.length - 1;
  if (!(t > 0)) return sigmas[0]!;
  if (t >= last) return sigmas[last]!;
  const j = Math.floor(t);
  if (j === t) return sigmas[j]!;
  return (sigmas[j + 1]! - sigmas[j]!) * (t - j) + sigmas[j]!;
}

/**
 * The (fractional) timestep of a noise level: linear interpolation of log sigma between the two
 * training timesteps around it, clamped to [0, N-1] (EulerDiscreteScheduler._sigma_to_t, also used
 * by DPMSolverMultistepScheduler). `logSigmas` is log of the increasing training sigmas.
 */
export function sigmaToT(sigma: number, logSigmas: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // The last training step whose log sigma is <= logSigma (0 when there is none), at most N-2.
  let low = 0;
  for (let j = 0; j < logSigmas.length; j++) if (logSigma - logSigmas[j]! >= 0) low = j;
  low = Math.min(low, logSigmas.length - 2);
  const lo = logSigmas[low]!;
  const hi = logSigmas[low + 1]!;
  const w = Math.min(Math.max((lo - logSigma) / (lo - hi), 0), 1);
  return (1 - w) * low + w * (low + 1);
}

/**
 * Karras et al. (2022, https://arxiv.org/abs/2206.00364, eq. 5) noise levels, rho = 7: n values
 * (sigma_max^(1/rho) + i/(n-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, from sigma_max down
 * to sigma_min (`_convert_to_karras` in scheduling_euler_discrete.py; one step gives [sigma_max]).
 */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number, rho = 7): Float64Array {
  const ramp = npLinspace(0, 1, n);
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  return ramp.map((r) => (maxInv + r * (minInv - maxInv)) ** rho);
}
