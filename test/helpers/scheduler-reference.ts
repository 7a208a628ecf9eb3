/**
 * Float64 references of the sampler formulas, written plainly and separately from ts/schedulers
 * (nothing is imported from there), for test/schedulers.test.ts.
 *
 * Sources: the schedule and spacing rules as diffusers defines them (scheduling_ddim.py,
 * scheduling_euler_discrete.py, scheduling_dpmsolver_multistep.py; numpy's linspace is
 * `start + i * step` and numpy rounds halves to even); the update rules from the papers in
 * k-diffusion's variance-exploding form x = x0 + sigma * eps:
 * - DDIM (Song et al. 2020, eq. 12, eta = 0), in alpha_bar terms;
 * - Euler (Karras et al. 2022, Algorithm 1 without churn) and Euler ancestral
 *   (k-diffusion's get_ancestral_step);
 * - DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2) as k-diffusion's sample_dpmpp_2m writes it:
 *   t = -log sigma, r = h_last / h, D = (1 + 1/(2r)) x0 - 1/(2r) x0_prev,
 *   x_next = (sigma_next / sigma) x - expm1(-h) D. diffusers' DPM++ keeps the sample in the
 *   variance-preserving form (x_vp = x / sqrt(sigma^2 + 1)); `dpmStepVp` converts at the edges.
 * - v-prediction (Salimans & Ho 2022): with a = sqrt(alpha_bar), b = sqrt(1 - alpha_bar) and the VP
 *   sample z = a x0 + b eps, v = a eps - b x0, so x0 = a z - b v and eps = a v + b z.
 */

// ---------------------------------------------------------------------------------------------
// Training schedule

/** Betas for N training steps: linear or scaled_linear (square of linear in sqrt(beta)). */
export function refBetas(kind: 'linear' | 'scaled_linear', start: number, end: number, N: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    const frac = i / (N - 1);
    if (kind === 'linear') out.push(start + frac * (end - start));
    else {
      const r = Math.sqrt(start) + frac * (Math.sqrt(end) - Math.sqrt(start));
      out.push(r * r);
    }
  }
  return out;
}

/** alpha_bar_t: running product of (1 - beta). */
export function refAlphaBar(betas: number[]): number[] {
  const out: number[] = [];
  let prod = 1;
  for (const b of betas) {
    prod = prod * (1 - b);
    out.push(prod);
  }
  return out;
}

/** sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t). */
export function refSigmas(alphaBar: number[]): number[] {
  return alphaBar.map((a) => Math.sqrt(1 / a - 1));
}

/** SD 1.x/2.x: scaled_linear 0.00085..0.012 over 1000 steps. */
export function sdAlphaBar(): number[] {
  return refAlphaBar(refBetas('scaled_linear', 0.00085, 0.012, 1000));
}

/**
 * Zero terminal SNR (Lin et al. 2024, Algorithm 1), the way diffusers does it: shift and scale
 * sqrt(alpha_bar) so the last is 0 and the first unchanged, turn that back into betas
 * (beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}) and take the running product again. With
 * `terminal`, the last alpha_bar is then replaced by it (diffusers' Euler and DPM-Solver use 2^-24).
 */
export function refZeroSnrAlphaBar(alphaBar: number[], terminal?: number): number[] {
  const roots = alphaBar.map(Math.sqrt);
  const first = roots[0]!;
  const last = roots[roots.length - 1]!;
  const shifted = roots.map((r) => ((r - last) * first) / (first - last));
  const squared = shifted.map((r) => r * r);
  const betas = squared.map((a, t) => 1 - (t === 0 ? a : a / squared[t - 1]!));
  const out = refAlphaBar(betas);
  if (terminal !== undefined) out[out.length - 1] = terminal;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Spacing

/** numpy's round: to nearest, halves to the even neighbour. */
export function refRound(x: number): number {
  const f = Math.floor(x);
  const rest = x - f;
  if (rest > 0.5) return f + 1;
  if (rest < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** numpy.linspace(0, stop, count) values: i * (stop / (count - 1)), the last exactly stop. */
function linspaceFromZero(stop: number, count: number): number[] {
  if (count === 1) return [0];
  const step = stop / (count - 1);
  const out: number[] = [];
  for (let i = 0; i < count - 1; i++) out.push(i * step);
  out.push(stop);
  return out;
}

export type Spacing = 'leading' | 'linspace' | 'trailing';
export type Family = 'ddim' | 'euler' | 'dpm';

/**
 * Descending timesteps of `n` steps over N training steps with steps_offset `offset`.
 * ddim: leading k*floor(N/n)+offset; linspace rounded; trailing round(N - k*N/n) - 1.
 * euler: as ddim, but linspace unrounded (float32 values).
 * dpm: n+1 points, the last (t = 0 end) dropped; leading uses floor(N/(n+1)).
 */
export function refTimesteps(family: Family, spacing: Spacing, n: number, N = 1000, offset = 1): number[] {
  const out: number[] = [];
  if (spacing === 'leading') {
    const ratio = family === 'dpm' ? Math.floor(N / (n + 1)) : Math.floor(N / n);
    const top = family === 'dpm' ? n : n - 1;
    for (let k = top; k >= (family === 'dpm' ? 1 : 0); k--) out.push(k * ratio + offset);
    return out;
  }
  if (spacing === 'trailing') {
    // numpy arange(N, 0, -N/n): N + k * ((N - N/n) - N); every value rounded then minus one.
    const delta = (N - N / n) - N;
    for (let k = 0; k < n; k++) out.push(refRound(k === 0 ? N : N + k * delta) - 1);
    return out;
  }
  if (family === 'dpm') {
    const pts = linspaceFromZero(N - 1, n + 1).map(refRound);
    for (let k = n; k >= 1; k--) out.push(pts[k]!);
    return out;
  }
  const pts = linspaceFromZero(N - 1, n);
  for (let k = n - 1; k >= 0; k--) out.push(family === 'ddim' ? refRound(pts[k]!) : Math.fround(pts[k]!));
  return out;
}

// ---------------------------------------------------------------------------------------------
// sigma <-> t, Karras

/** sigma at fractional t: linear interpolation between the integer neighbours, clamped to [0, N-1]. */
export function refSigmaAt(t: number, sigmas: number[]): number {
  if (t <= 0) return sigmas[0]!;
  if (t >= sigmas.length - 1) return sigmas[sigmas.length - 1]!;
  const lo = Math.floor(t);
  const frac = t - lo;
  return sigmas[lo]! + frac * (sigmas[lo + 1]! - sigmas[lo]!);
}

/** t of a noise level: linear in log sigma between the training steps around it, clamped. */
export function refTAtSigma(sigma: number, sigmas: number[]): number {
  const target = Math.log(sigma);
  const logs = sigmas.map(Math.log);
  if (target <= logs[0]!) return 0;
  if (target >= logs[logs.length - 1]!) return logs.length - 1;
  let i = 0;
  while (logs[i + 1]! < target) i++;
  // logs[i] < target <= logs[i + 1]
  return i + (target - logs[i]!) / (logs[i + 1]! - logs[i]!);
}

/** Karras et al. eq. 5 with rho = 7: n levels from sigmaMax down to sigmaMin. */
export function refKarras(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = n === 1 ? 0 : i / (n - 1);
    const a = Math.pow(sigmaMax, 1 / 7);
    const b = Math.pow(sigmaMin, 1 / 7);
    out.push(Math.pow(a * (1 - u) + b * u, 7));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Updates (one element at a time)

export type Prediction = 'epsilon' | 'v_prediction';

/** x0 from a VE sample x at level sigma and the model's output (eps or v). */
export function refDenoised(x: number, out: number, sigma: number, pred: Prediction): number {
  if (pred === 'epsilon') return x - sigma * out;
  // VP sample z = x / sqrt(1 + sigma^2) = a x0 + b eps with a = 1/sqrt(1+sigma^2), b = sigma a.
  const a = 1 / Math.sqrt(1 + sigma * sigma);
  const b = sigma * a;
  const z = x * a;
  return a * z - b * out;
}

/** DDIM (eta 0) from alpha_bar at t and at the previous timestep; `clip` clamps x0 to +-clip. */
export function refDdim(x: number, out: number, aT: number, aPrev: number, pred: Prediction, clip?: number): number {
  const a = Math.sqrt(aT);
  const b = Math.sqrt(1 - aT);
  let x0: number;
  let eps: number;
  if (pred === 'epsilon') {
    eps = out;
    x0 = (x - b * eps) / a;
  } else {
    x0 = a * x - b * out;
    eps = a * out + b * x;
  }
  if (clip !== undefined) x0 = Math.max(-clip, Math.min(clip, x0));
  return Math.sqrt(aPrev) * x0 + Math.sqrt(1 - aPrev) * eps;
}

/** One Euler step from sigma to sigmaNext. */
export function refEuler(x: number, out: number, sigma: number, sigmaNext: number, pred: Prediction): number {
  const d = (x - refDenoised(x, out, sigma, pred)) / sigma;
  return x + (sigmaNext - sigma) * d;
}

/** One Euler ancestral step with standard-normal `z`. */
export function refEulerAncestral(x: number, out: number, sigma: number, sigmaNext: number, pred: Prediction, z: number): number {
  const up = Math.min(sigmaNext, Math.sqrt((sigmaNext ** 2) * (sigma ** 2 - sigmaNext ** 2) / sigma ** 2));
  const down = Math.sqrt(sigmaNext ** 2 - up ** 2);
  const d = (x - refDenoised(x, out, sigma, pred)) / sigma;
  return x + (down - sigma) * d + up * z;
}

/**
 * One DPM++ 2M step in the VE form (k-diffusion): `x0Prev`/`sigmaPrev` of the previous step give the
 * second-order correction; undefined for a first-order step.
 */
export function refDpmpp2m(x: number, x0: number, sigma: number, sigmaNext: number, x0Prev?: number, sigmaPrev?: number): number {
  const t = -Math.log(sigma);
  const tNext = -Math.log(sigmaNext);
  const h = tNext - t;
  let d = x0;
  if (x0Prev !== undefined && sigmaPrev !== undefined) {
    const r = (t - -Math.log(sigmaPrev)) / h;
    d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * x0Prev;
  }
  return (sigmaNext / sigma) * x - Math.expm1(-h) * d;
}

// ---------------------------------------------------------------------------------------------
// Whole sampling loops

export interface RefPlan {
  timesteps: number[];
  /** steps + 1 levels (VE). */
  sigmas: number[];
  initNoiseSigma: number;
}

/**
 * The plan each sampler follows on a 1000-step training schedule (SD's unless `alphaBar` is given),
 * diffusers' rules written from their description.
 */
export function refPlan(
  kind: 'ddim' | 'euler' | 'euler-ancestral' | 'dpmpp-2m', spacing: Spacing, n: number, karras: boolean, alphaBar = sdAlphaBar(),
): RefPlan {
  const sig = refSigmas(alphaBar);
  if (kind === 'ddim') {
    const ts = refTimesteps('ddim', spacing, n);
    return { timesteps: ts, sigmas: [...ts.map((t) => sig[t]!), sig[0]!], initNoiseSigma: 1 };
  }
  if (kind === 'dpmpp-2m') {
    if (karras) {
      const levels = refKarras(sig[0]!, sig[999]!, n);
      return { timesteps: levels.map((s) => refRound(refTAtSigma(s, sig))), sigmas: [...levels, 0], initNoiseSigma: 1 };
    }
    const ts = refTimesteps('dpm', spacing, n);
    return { timesteps: ts, sigmas: [...ts.map((t) => refSigmaAt(t, sig)), 0], initNoiseSigma: 1 };
  }
  let ts = refTimesteps('euler', spacing, n);
  let levels = ts.map((t) => refSigmaAt(t, sig));
  if (karras) {
    levels = refKarras(levels[levels.length - 1]!, levels[0]!, n);
    ts = levels.map((s) => Math.fround(refTAtSigma(s, sig)));
  }
  const max = levels[0]!;
  return { timesteps: ts, sigmas: [...levels, 0], initNoiseSigma: spacing === 'leading' ? Math.sqrt(max * max + 1) : max };
}

/** A toy "model": gets the model input and t, returns its prediction. */
export type ToyModel = (input: number[], t: number) => number[];

/**
 * Runs the whole loop for a 1000-step training schedule (SD's unless `alphaBar` is given) from the
 * initial noise `noise0` (standard normal; scaled by the initial sigma here), with `stepNoise(i)` the
 * ancestral noise of step i. Returns the final sample. All in VE form internally; the sample the
 * model sees is the sampler's model input.
 */
export function refLoop(
  kind: 'ddim' | 'euler' | 'euler-ancestral' | 'dpmpp-2m', spacing: Spacing, n: number, karras: boolean, pred: Prediction,
  model: ToyModel, noise0: number[], stepNoise: (i: number) => number[], alphaBar = sdAlphaBar(),
): number[] {
  const plan = refPlan(kind, spacing, n, karras, alphaBar);
  let x = noise0.map((z) => z * plan.initNoiseSigma);
  let x0Prev: number[] | undefined;
  for (let i = 0; i < n; i++) {
    const s = plan.sigmas[i]!;
    const sn = plan.sigmas[i + 1]!;
    const t = plan.timesteps[i]!;
    if (kind === 'ddim') {
      const out = model(x, t);
      const prevT = t - Math.floor(1000 / n);
      const aPrev = prevT >= 0 ? alphaBar[prevT]! : alphaBar[0]!; // set_alpha_to_one false (SD)
      x = x.map((xi, j) => refDdim(xi, out[j]!, alphaBar[t]!, aPrev, pred));
    } else if (kind === 'euler' || kind === 'euler-ancestral') {
      const c = 1 / Math.sqrt(s * s + 1);
      const out = model(x.map((xi) => xi * c), t);
      if (kind === 'euler') x = x.map((xi, j) => refEuler(xi, out[j]!, s, sn, pred));
      else {
        const z = stepNoise(i);
        x = x.map((xi, j) => refEulerAncestral(xi, out[j]!, s, sn, pred, z[j]!));
      }
    } else {
      // the sample is kept in VP form, as diffusers does; the model sees it directly
      const out = model(x, t);
      const toVe = Math.sqrt(s * s + 1);
      const xVe = x.map((xi) => xi * toVe);
      const x0 = xVe.map((xi, j) => refDenoised(xi, out[j]!, s, pred));
      const second = i > 0 && sn !== 0;
      const next = xVe.map((xi, j) => refDpmpp2m(xi, x0[j]!, s, sn, second ? x0Prev![j] : undefined, second ? plan.sigmas[i - 1] : undefined));
      x = next.map((xi) => xi / Math.sqrt(sn * sn + 1));
      x0Prev = x0;
    }
  }
  return x;
}

/** ||got - want|| / ||want|| (L2). */
export function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length mismatch: ${got.length} vs ${want.length}`);
  let d = 0;
  let w = 0;
  for (let i = 0; i < want.length; i++) {
    d += (got[i]! - want[i]!) ** 2;
    w += want[i]! ** 2;
  }
  return w === 0 ? Math.sqrt(d) : Math.sqrt(d / w);
}
