/**
 * Float64 reference implementations of the attention family (plain, AFM, GAG, NAG, PAG, T-GATE mean,
 * capture), written straight from reference/afm.md and reference/guidance.md. The kernel tests compare
 * every kernel against these. Clarity over speed: explicit loops, explicit DFT by the definition.
 *
 * Layout: row-major, q `[B, H, N, d]`, k and v `[B, H, T, d]`, logits and probabilities
 * `[B, H, N, T]`, output `[B, H, N, d]`. A mask is a `Uint8Array` of length `B * T`, nonzero = attend
 * (undefined = all attend). When AFM or capture is used, the N queries form a row-major grid `[Hg, Wg]`.
 * Inputs are read as plain numbers, so float32 kernel inputs are read exactly.
 */

/** Sizes: B batch, H heads, N queries, T keys, d head dim. */
export interface Dims {
  B: number;
  H: number;
  N: number;
  T: number;
  d: number;
}

/** A numeric input: Float32Array, Float64Array or number[]. */
export type Numbers = ArrayLike<number>;

// ---------------------------------------------------------------------------------------------
// Small utilities

/** A Float64Array copy of a float32 array (exact). */
export function toFloat64(a: Float32Array): Float64Array {
  return Float64Array.from(a);
}

/** ||got - want||_2 / ||want||_2, or ||got - want||_2 when want is all zeros. */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length mismatch: ${got.length} vs ${want.length}`);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < want.length; i++) {
    diff += (got[i] - want[i]) ** 2;
    norm += want[i] ** 2;
  }
  return norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
}

/** `[n]` float32 values, roughly standard normal (sum of four uniforms, unit variance), times `scale`. */
export function randomArray(n: number, next: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = next() + next() + next() + next() - 2; // variance 4/12 = 1/3
    out[i] = s * Math.sqrt(3) * scale;
  }
  return out;
}

/** True when key j of batch element b may be attended to. */
function attends(mask: Uint8Array | undefined, b: number, T: number, j: number): boolean {
  return mask === undefined || mask[b * T + j] !== 0;
}

/** Number of unmasked keys of batch element b. */
function unmaskedCount(mask: Uint8Array | undefined, b: number, T: number): number {
  let n = 0;
  for (let j = 0; j < T; j++) if (attends(mask, b, T, j)) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Plain attention

/** Logits `[B, H, N, T]` = scale * q·k, from q `[B, H, N, d]` and k `[B, H, T, d]`. */
export function logits(q: Numbers, k: Numbers, dims: Dims, scale: number): Float64Array {
  const { B, H, N, T, d } = dims;
  const L = new Float64Array(B * H * N * T);
  for (let bh = 0; bh < B * H; bh++) {
    for (let x = 0; x < N; x++) {
      for (let j = 0; j < T; j++) {
        let dot = 0;
        for (let c = 0; c < d; c++) dot += q[(bh * N + x) * d + c] * k[(bh * T + j) * d + c];
        L[(bh * N + x) * T + j] = scale * dot;
      }
    }
  }
  return L;
}

/**
 * Probabilities `[B, H, N, T]`: per (b, h, x) the softmax of L `[B, H, N, T]` over the unmasked keys of
 * batch element b (row max subtracted first); masked entries are exactly 0.
 */
export function softmaxRows(L: Numbers, dims: Dims, mask?: Uint8Array): Float64Array {
  const { B, H, N, T } = dims;
  const P = new Float64Array(B * H * N * T);
  for (let b = 0; b < B; b++) {
    if (unmaskedCount(mask, b, T) === 0) throw new Error(`batch element ${b} attends to no key`);
    for (let h = 0; h < H; h++) {
      for (let x = 0; x < N; x++) {
        const row = ((b * H + h) * N + x) * T;
        let max = -Infinity;
        for (let j = 0; j < T; j++) if (attends(mask, b, T, j)) max = Math.max(max, L[row + j]);
        let sum = 0;
        for (let j = 0; j < T; j++) {
          if (attends(mask, b, T, j)) {
            P[row + j] = Math.exp(L[row + j] - max);
            sum += P[row + j];
          }
        }
        for (let j = 0; j < T; j++) P[row + j] /= sum;
      }
    }
  }
  return P;
}

/** Output `[B, H, N, d]` = P v, from P `[B, H, N, T]` and v `[B, H, T, d]`. */
export function applyProbs(P: Numbers, v: Numbers, dims: Dims): Float64Array {
  const { B, H, N, T, d } = dims;
  const out = new Float64Array(B * H * N * d);
  for (let bh = 0; bh < B * H; bh++) {
    for (let x = 0; x < N; x++) {
      for (let j = 0; j < T; j++) {
        const p = P[(bh * N + x) * T + j];
        if (p === 0) continue;
        for (let c = 0; c < d; c++) out[(bh * N + x) * d + c] += p * v[(bh * T + j) * d + c];
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// AFM: frequencies, band mask, DFT, logit edit, entropy gate

/** numpy.fft.fftfreq(n): `[n]` frequencies in cycles per sample, DFT bin order. */
export function fftfreq(n: number): number[] {
  const out: number[] = [];
  const positive = Math.floor((n - 1) / 2); // highest positive bin
  for (let i = 0; i < n; i++) out.push((i <= positive ? i : i - n) / n);
  return out;
}

/** Corner-normalised radius r `[Hg * Wg]` of each DFT bin [ky * Wg + kx]: r = |f| / sqrt(0.5). */
function binRadius(Hg: number, Wg: number): Float64Array {
  const fy = fftfreq(Hg);
  const fx = fftfreq(Wg);
  const r = new Float64Array(Hg * Wg);
  for (let ky = 0; ky < Hg; ky++) {
    for (let kx = 0; kx < Wg; kx++) r[ky * Wg + kx] = Math.sqrt(fx[kx] ** 2 + fy[ky] ** 2) / Math.sqrt(0.5);
  }
  return r;
}

/**
 * M_low `[Hg * Wg]` in DFT bin order [ky * Wg + kx] (afm.md §5): 1 below cutoff - width/2, 0 above
 * cutoff + width/2, raised cosine between; width 0 is the hard edge r <= cutoff.
 */
export function lowBandMask(Hg: number, Wg: number, cutoff: number, width: number): Float64Array {
  const r = binRadius(Hg, Wg);
  const m = new Float64Array(Hg * Wg);
  for (let i = 0; i < m.length; i++) {
    if (width === 0) m[i] = r[i] <= cutoff ? 1 : 0;
    else if (r[i] <= cutoff - width / 2) m[i] = 1;
    else if (r[i] >= cutoff + width / 2) m[i] = 0;
    else m[i] = 0.5 * (1 + Math.cos((Math.PI * (r[i] - cutoff + width / 2)) / width));
  }
  return m;
}

/**
 * 2-D DFT of one `[Hg, Wg]` complex map by the definition. Forward: unnormalised,
 * e^{-2 pi i (ky m / Hg + kx n / Wg)}; inverse: e^{+...} and 1 / (Hg * Wg).
 */
export function dft2(re: Numbers, im: Numbers, Hg: number, Wg: number, inverse: boolean): {
  re: Float64Array;
  im: Float64Array;
} {
  const outRe = new Float64Array(Hg * Wg);
  const outIm = new Float64Array(Hg * Wg);
  const sign = inverse ? 1 : -1;
  const norm = inverse ? 1 / (Hg * Wg) : 1;
  for (let ky = 0; ky < Hg; ky++) {
    for (let kx = 0; kx < Wg; kx++) {
      let sRe = 0;
      let sIm = 0;
      for (let m = 0; m < Hg; m++) {
        for (let n = 0; n < Wg; n++) {
          // Reduce the integer products first so the angle stays in [0, 4 pi): accurate for any size.
          const turns = ((ky * m) % Hg) / Hg + ((kx * n) % Wg) / Wg;
          const angle = sign * 2 * Math.PI * turns;
          const c = Math.cos(angle);
          const s = Math.sin(angle);
          const a = re[m * Wg + n];
          const b = im[m * Wg + n];
          sRe += a * c - b * s;
          sIm += a * s + b * c;
        }
      }
      outRe[ky * Wg + kx] = sRe * norm;
      outIm[ky * Wg + kx] = sIm * norm;
    }
  }
  return { re: outRe, im: outIm };
}

/** AFM band parameters with the gains already resolved. */
export interface AfmEdit {
  grid: [number, number];
  gainLow: number;
  gainHigh: number;
  cutoff: number;
  width: number;
  preserveDC: boolean;
}

/** The AFM filter G `[Hg * Wg]` in DFT bin order: gainLow M_low + gainHigh (1 - M_low), G(0) = 1 if preserveDC. */
export function afmGain(afm: AfmEdit): Float64Array {
  const [Hg, Wg] = afm.grid;
  const low = lowBandMask(Hg, Wg, afm.cutoff, afm.width);
  const G = new Float64Array(Hg * Wg);
  for (let i = 0; i < G.length; i++) G[i] = afm.gainLow * low[i] + afm.gainHigh * (1 - low[i]);
  if (afm.preserveDC) G[0] = 1;
  return G;
}

/** Circularly filters one real `[Hg, Wg]` map with G (DFT bin order): Re ifft2(G * fft2(map)). */
export function filterMap(map: Numbers, G: Numbers, Hg: number, Wg: number): Float64Array {
  const zero = new Float64Array(Hg * Wg);
  const spec = dft2(map, zero, Hg, Wg, false);
  for (let i = 0; i < Hg * Wg; i++) {
    spec.re[i] *= G[i];
    spec.im[i] *= G[i];
  }
  return dft2(spec.re, spec.im, Hg, Wg, true).re;
}

/**
 * AFM logit edit (afm.md §4): edited L `[B, H, N, T]`. Every token column L[b, h, :, j] (masked ones
 * too), reshaped to the `[Hg, Wg]` grid, is filtered by G; the real part is kept.
 */
export function afmEditLogits(L: Numbers, dims: Dims, afm: AfmEdit): Float64Array {
  const { B, H, N, T } = dims;
  const [Hg, Wg] = afm.grid;
  if (Hg * Wg !== N) throw new Error(`grid ${Hg}x${Wg} does not hold N = ${N} queries`);
  const G = afmGain(afm);
  const out = new Float64Array(B * H * N * T);
  const column = new Float64Array(N);
  for (let bh = 0; bh < B * H; bh++) {
    for (let j = 0; j < T; j++) {
      for (let x = 0; x < N; x++) column[x] = L[(bh * N + x) * T + j];
      const edited = filterMap(column, G, Hg, Wg);
      for (let x = 0; x < N; x++) out[(bh * N + x) * T + j] = edited[x];
    }
  }
  return out;
}

/**
 * Mean normalised token entropy (afm.md §7) of P `[B, H, N, T]`: mean over b, h, x of
 * (-sum_j p log p) / log(n_b), n_b = unmasked keys of batch b; a row counts 0 when n_b = 1.
 */
export function tokenEntropy(P: Numbers, dims: Dims, mask?: Uint8Array): number {
  const { B, H, N, T } = dims;
  let total = 0;
  for (let b = 0; b < B; b++) {
    const n = unmaskedCount(mask, b, T);
    for (let h = 0; h < H; h++) {
      for (let x = 0; x < N; x++) {
        if (n <= 1) continue;
        const row = ((b * H + h) * N + x) * T;
        let e = 0;
        for (let j = 0; j < T; j++) {
          const p = P[row + j];
          if (p > 0) e -= p * Math.log(p);
        }
        total += e / Math.log(n);
      }
    }
  }
  return total / (B * H * N);
}

/** Entropy-gate parameters (afm.md §7); beta defaults to 20, gamma to 4. */
export interface EntropyGate {
  strength: number;
  wLow: number;
  wHigh: number;
  beta?: number;
  gamma?: number;
}

/** Gated AFM gains from the normalised entropy H: a_lf = 1 + s wLow (1 + beta H), a_hf = 1 + s wHigh (1 + gamma (1 - H)). */
export function gateGains(H: number, gate: EntropyGate): { gainLow: number; gainHigh: number } {
  const beta = gate.beta ?? 20;
  const gamma = gate.gamma ?? 4;
  return {
    gainLow: 1 + gate.strength * gate.wLow * (1 + beta * H),
    gainHigh: 1 + gate.strength * gate.wHigh * (1 + gamma * (1 - H)),
  };
}

// ---------------------------------------------------------------------------------------------
// Entmax and GAG

/** Sparsemax `[n]` of the values z `[n]` (guidance.md §1, alpha = 2), exact sort-based threshold. */
function sparsemax(z: number[]): number[] {
  const sorted = [...z].sort((a, b) => b - a);
  const c: number[] = []; // c_k = sum_{i<=k} z_(i) - 1, stored at index k - 1
  let cumsum = 0;
  let m = 0; // m = #{k : k z_(k) > c_k}
  for (let k = 1; k <= sorted.length; k++) {
    cumsum += sorted[k - 1];
    c.push(cumsum - 1);
    if (k * sorted[k - 1] > c[k - 1]) m++;
  }
  const tau = c[m - 1] / m;
  return z.map((zi) => Math.max(zi - tau, 0));
}

/** 1.5-entmax `[n]` of the values z `[n]` (guidance.md §1), exact sort-based threshold. */
function entmax15(z: number[]): number[] {
  const max = Math.max(...z);
  const zs = z.map((zi) => (zi - max) / 2);
  const sorted = [...zs].sort((a, b) => b - a);
  const taus: number[] = []; // tau_k at index k - 1
  let sum = 0;
  let sumSq = 0;
  let m = 0; // m = #{k : tau_k <= z'_(k)}
  for (let k = 1; k <= sorted.length; k++) {
    sum += sorted[k - 1];
    sumSq += sorted[k - 1] ** 2;
    const mu = sum / k;
    const s = sumSq / k;
    const delta = (1 - k * (s - mu * mu)) / k;
    taus.push(mu - Math.sqrt(Math.max(delta, 0)));
    if (taus[k - 1] <= sorted[k - 1]) m++;
  }
  const tau = taus[m - 1];
  return zs.map((zi) => Math.max(zi - tau, 0) ** 2);
}

/**
 * alpha-entmax `[n]` of z `[n]` over the allowed entries only (the others get exactly 0); alpha 2 is
 * sparsemax, alpha 1.5 entmax15, both with exact sort-based thresholds.
 */
export function entmax(z: ArrayLike<number>, alpha: 1.5 | 2, allowed?: ArrayLike<boolean>): Float64Array {
  const index: number[] = [];
  for (let j = 0; j < z.length; j++) if (allowed === undefined || allowed[j]) index.push(j);
  if (index.length === 0) throw new Error('entmax over no allowed entry');
  const values = index.map((j) => z[j]);
  const p = alpha === 2 ? sparsemax(values) : entmax15(values);
  const out = new Float64Array(z.length);
  index.forEach((j, i) => {
    out[j] = p[i];
  });
  return out;
}

/** GAG parameters (guidance.md §2). */
export interface GagParams {
  scale: number;
  eta: number;
  zeta: number;
}

/**
 * GAG combination for one query and head, S and D `[d]`: r = S - D split along S, g = r_par + zeta r_orth,
 * clipped to norm eta; returns `[d]` S + scale g.
 */
export function gagCombine(S: Numbers, D: Numbers, p: GagParams): Float64Array {
  const d = S.length;
  let rs = 0;
  let ss = 0;
  for (let c = 0; c < d; c++) {
    rs += (S[c] - D[c]) * S[c];
    ss += S[c] * S[c];
  }
  const along = rs / Math.max(ss, 1e-12);
  const g = new Float64Array(d);
  for (let c = 0; c < d; c++) {
    const r = S[c] - D[c];
    const par = along * S[c];
    g[c] = par + p.zeta * (r - par);
  }
  let norm = 0;
  for (let c = 0; c < d; c++) norm += g[c] * g[c];
  norm = Math.sqrt(norm);
  const clip = norm > p.eta ? p.eta / norm : 1;
  const out = new Float64Array(d);
  for (let c = 0; c < d; c++) out[c] = S[c] + p.scale * g[c] * clip;
  return out;
}

/**
 * GAG attention `[B, H, N, d]` from logits L `[B, H, N, T]` and v `[B, H, T, d]`: per row
 * D = softmax(L)ᵀ v, S = entmax_alpha(L)ᵀ v (both over the unmasked keys), out = gagCombine(S, D).
 */
export function gagAttention(
  L: Numbers, v: Numbers, dims: Dims, mask: Uint8Array | undefined,
  p: GagParams & { alpha: 1.5 | 2 },
): Float64Array {
  const { B, H, N, T, d } = dims;
  const dense = applyProbs(softmaxRows(L, dims, mask), v, dims);
  const out = new Float64Array(B * H * N * d);
  for (let b = 0; b < B; b++) {
    const allowed: boolean[] = [];
    for (let j = 0; j < T; j++) allowed.push(attends(mask, b, T, j));
    for (let h = 0; h < H; h++) {
      for (let x = 0; x < N; x++) {
        const row = (b * H + h) * N + x;
        const probs = entmax(Array.from({ length: T }, (_, j) => L[row * T + j]), p.alpha, allowed);
        const S = new Float64Array(d);
        for (let j = 0; j < T; j++) {
          for (let c = 0; c < d; c++) S[c] += probs[j] * v[((b * H + h) * T + j) * d + c];
        }
        const D = dense.subarray(row * d, (row + 1) * d);
        out.set(gagCombine(S, D, p), row * d);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// NAG, PAG, T-GATE

/** NAG parameters (guidance.md §4). */
export interface NagParams {
  scale: number;
  tau: number;
  alpha: number;
}

/**
 * NAG combination `[B, H, N, d]` of Zp and Zn `[B, H, N, d]`: per (b, x), over all heads and channels
 * together, Zt = scale Zp - (scale - 1) Zn, L1 ratio capped at tau, blended alpha Zhat + (1 - alpha) Zp.
 */
export function nagCombine(Zp: Numbers, Zn: Numbers, dims: Dims, p: NagParams): Float64Array {
  const { B, H, N, d } = dims;
  const out = new Float64Array(B * H * N * d);
  const at = (b: number, h: number, x: number, c: number): number => ((b * H + h) * N + x) * d + c;
  for (let b = 0; b < B; b++) {
    for (let x = 0; x < N; x++) {
      let a = 0;
      let pos = 0;
      for (let h = 0; h < H; h++) {
        for (let c = 0; c < d; c++) {
          const i = at(b, h, x, c);
          a += Math.abs(p.scale * Zp[i] - (p.scale - 1) * Zn[i]);
          pos += Math.abs(Zp[i]);
        }
      }
      const factor = a <= p.tau * pos ? 1 : (p.tau * pos) / a;
      for (let h = 0; h < H; h++) {
        for (let c = 0; c < d; c++) {
          const i = at(b, h, x, c);
          const zHat = (p.scale * Zp[i] - (p.scale - 1) * Zn[i]) * factor;
          out[i] = p.alpha * zHat + (1 - p.alpha) * Zp[i];
        }
      }
    }
  }
  return out;
}

/** PAG output `[B, H, N, d]`: batch rows [begin, end) are v `[B, H, T, d]` (needs N == T), the rest plainOut. */
export function pagRows(plainOut: Numbers, v: Numbers, dims: Dims, begin: number, end: number): Float64Array {
  const { B, H, N, T, d } = dims;
  if (N !== T) throw new Error(`PAG needs N == T (got N = ${N}, T = ${T})`);
  if (begin < 0 || end > B || begin > end) throw new Error(`PAG rows [${begin}, ${end}) outside batch ${B}`);
  const out = Float64Array.from(plainOut);
  const perBatch = H * N * d;
  for (let b = begin; b < end; b++) {
    for (let i = 0; i < perBatch; i++) out[b * perBatch + i] = v[b * perBatch + i];
  }
  return out;
}

/** T-GATE mean `[B/2, H, N, d]` of out `[B, H, N, d]`: (out[b] + out[b + B/2]) / 2. */
export function tgateMean(out: Numbers, dims: Dims): Float64Array {
  const { B, H, N, d } = dims;
  if (B % 2 !== 0) throw new Error(`T-GATE needs an even batch (got ${B})`);
  const half = B / 2;
  const perBatch = H * N * d;
  const mean = new Float64Array(half * perBatch);
  for (let b = 0; b < half; b++) {
    for (let i = 0; i < perBatch; i++) {
      mean[b * perBatch + i] = (out[b * perBatch + i] + out[(b + half) * perBatch + i]) / 2;
    }
  }
  return mean;
}

// ---------------------------------------------------------------------------------------------
// Capture: concentration map and radial spectrum

/**
 * Concentration map `[B, N]` (afm.md §2) from P `[B, H, N, T]`: per (b, h, x) the mean of the K largest
 * probabilities (K = min(topK, T), masked zeros included), then the mean over heads.
 */
export function concentration(P: Numbers, dims: Dims, topK: number): Float64Array {
  const { B, H, N, T } = dims;
  const K = Math.min(topK, T);
  const c = new Float64Array(B * N);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let x = 0; x < N; x++) {
        const row = ((b * H + h) * N + x) * T;
        const sorted = Array.from({ length: T }, (_, j) => P[row + j]).sort((u, w) => w - u);
        let top = 0;
        for (let i = 0; i < K; i++) top += sorted[i];
        c[b * N + x] += top / K / H;
      }
    }
  }
  return c;
}

/**
 * Radially binned power spectrum `[B, bins]` (afm.md §3) of the maps c `[B, Hg * Wg]`: mean removed,
 * power |DFT|^2 normalised to sum 1, bin min(floor(r * bins), bins - 1). A row is all 0 when the map is
 * exactly constant (checked before the mean is removed, so rounding in the mean cannot leave noise) or
 * its total power is 0.
 */
export function radialSpectrum(c: Numbers, B: number, grid: [number, number], bins: number): Float64Array {
  const [Hg, Wg] = grid;
  const N = Hg * Wg;
  const r = binRadius(Hg, Wg);
  const out = new Float64Array(B * bins);
  for (let b = 0; b < B; b++) {
    let min = Infinity;
    let max = -Infinity;
    for (let x = 0; x < N; x++) {
      min = Math.min(min, c[b * N + x]);
      max = Math.max(max, c[b * N + x]);
    }
    // A constant map is flat by definition; rounding in the mean must not turn it into noise.
    if (min === max) continue;
    let mean = 0;
    for (let x = 0; x < N; x++) mean += c[b * N + x];
    mean /= N;
    const centred = new Float64Array(N);
    for (let x = 0; x < N; x++) centred[x] = c[b * N + x] - mean;
    const spec = dft2(centred, new Float64Array(N), Hg, Wg, false);
    const power = new Float64Array(N);
    let total = 0;
    for (let i = 0; i < N; i++) {
      power[i] = spec.re[i] ** 2 + spec.im[i] ** 2;
      total += power[i];
    }
    if (total === 0) continue;
    for (let i = 0; i < N; i++) {
      const bin = Math.min(Math.floor(r[i] * bins), bins - 1);
      out[b * bins + bin] += power[i] / total;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The whole op

/** Options of {@link referenceAttention}; mirrors AttentionOptions with plain arrays. */
export interface ReferenceOptions {
  /** Default 1 / sqrt(d). */
  scale?: number;
  /** `[B * T]`, nonzero = attend. */
  mask?: Uint8Array;
  afm?: {
    grid: [number, number];
    gainLow?: number;
    gainHigh?: number;
    cutoff?: number;
    width?: number;
    preserveDC?: boolean;
    entropyGate?: EntropyGate;
  };
  guidance?:
    | { kind: 'gag'; scale?: number; alpha?: 1.5 | 2; eta?: number; zeta?: number }
    | {
      kind: 'nag';
      /** `[B, H, Tneg, d]` */
      kNeg: Numbers;
      /** `[B, H, Tneg, d]` */
      vNeg: Numbers;
      Tneg: number;
      /** `[B * Tneg]` */
      maskNeg?: Uint8Array;
      scale?: number;
      tau?: number;
      alpha?: number;
    }
    | { kind: 'pag'; batch?: [number, number] };
  capture?: { topK?: number; bins?: number; grid?: [number, number] };
}

export interface ReferenceResult {
  /** `[B, H, N, d]` */
  output: Float64Array;
  /** The gate's normalised entropy, NaN without a gate. */
  entropy: number;
  gainLow: number;
  gainHigh: number;
  /** `[B, N]` when capture was asked for. */
  concentration?: Float64Array;
  /** `[B, bins]` when capture was asked for. */
  spectrum?: Float64Array;
}

/** The capture grid: capture.grid, else afm.grid, else the square grid when N is a square. */
function captureGrid(opts: ReferenceOptions, N: number): [number, number] {
  const grid = opts.capture?.grid ?? opts.afm?.grid;
  if (grid !== undefined) return grid;
  const side = Math.round(Math.sqrt(N));
  if (side * side === N) return [side, side];
  throw new Error(`capture needs a grid for N = ${N}`);
}

/**
 * The full attention op in float64, q `[B, H, N, d]`, k and v `[B, H, T, d]` → output `[B, H, N, d]`.
 * Order: logits; AFM gains (fixed, or gated by the entropy of the unedited softmax); AFM edit; softmax;
 * P v; guidance (GAG on the edited logits, NAG with the negative logits edited the same way, PAG row
 * replacement); capture from the (edited) positive probabilities P.
 */
export function referenceAttention(
  q: Numbers, k: Numbers, v: Numbers, dims: Dims, opts: ReferenceOptions = {},
): ReferenceResult {
  const { B, N, d } = dims;
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  const mask = opts.mask;
  let L = logits(q, k, dims, scale);

  let entropy = NaN;
  let gainLow = 1;
  let gainHigh = 1;
  let edit: AfmEdit | undefined;
  if (opts.afm !== undefined) {
    const afm = opts.afm;
    if (afm.entropyGate !== undefined) {
      entropy = tokenEntropy(softmaxRows(L, dims, mask), dims, mask);
      ({ gainLow, gainHigh } = gateGains(entropy, afm.entropyGate));
    } else {
      gainLow = afm.gainLow ?? 1;
      gainHigh = afm.gainHigh ?? 1;
    }
    edit = {
      grid: afm.grid,
      gainLow,
      gainHigh,
      cutoff: afm.cutoff ?? 0.25,
      width: afm.width ?? 0.05,
      preserveDC: afm.preserveDC ?? true,
    };
    L = afmEditLogits(L, dims, edit);
  }

  const P = softmaxRows(L, dims, mask);
  let output = applyProbs(P, v, dims);

  const g = opts.guidance;
  if (g?.kind === 'gag') {
    output = gagAttention(L, v, dims, mask, {
      alpha: g.alpha ?? 1.5, scale: g.scale ?? 5, eta: g.eta ?? 15, zeta: g.zeta ?? 0,
    });
  } else if (g?.kind === 'nag') {
    const negDims: Dims = { ...dims, T: g.Tneg };
    let Ln = logits(q, g.kNeg, negDims, scale);
    if (edit !== undefined) Ln = afmEditLogits(Ln, negDims, edit);
    const Zn = applyProbs(softmaxRows(Ln, negDims, g.maskNeg), g.vNeg, negDims);
    output = nagCombine(output, Zn, dims, { scale: g.scale ?? 5, tau: g.tau ?? 2.5, alpha: g.alpha ?? 0.5 });
  } else if (g?.kind === 'pag') {
    const [begin, end] = g.batch ?? [0, B];
    output = pagRows(output, v, dims, begin, end);
  }

  const result: ReferenceResult = { output, entropy, gainLow, gainHigh };
  if (opts.capture !== undefined) {
    const grid = captureGrid(opts, N);
    if (grid[0] * grid[1] !== N) throw new Error(`capture grid ${grid[0]}x${grid[1]} does not hold N = ${N}`);
    result.concentration = concentration(P, dims, opts.capture.topK ?? 8);
    result.spectrum = radialSpectrum(result.concentration, B, grid, opts.capture.bins ?? 16);
  }
  return result;
}
