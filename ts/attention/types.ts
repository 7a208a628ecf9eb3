/**
 * Options and results of {@link attention}: the fused attention family (plain, AFM, GAG/NAG/PAG,
 * T-GATE record/replay, capture). Layout as PyTorch SDPA: q `[B, heads, N, d]`, k and v
 * `[B, heads, T, d]`, output `[B, heads, N, d]`. For a UNet layer the N queries are an `H x W`
 * grid in row-major order.
 */
import type { Tensor } from '../tensor.js';
import type { AttentionCache } from './cache.js';

/**
 * AFM, attention frequency modulation (Oh & Park, arXiv 2603.28114; reference/afm.md §4-8): each
 * token's logit map over the `grid` is filtered by `G = a_lf M_low + a_hf M_high` before the token
 * softmax. `M_low` is 1 below `cutoff - width/2` and 0 above `cutoff + width/2` with a raised-cosine
 * edge between, on the radius `r = sqrt(fx^2 + fy^2) / sqrt(0.5)` (fx, fy in cycles per sample, so
 * the grid corner is r = 1); `M_high = 1 - M_low`; the DC bin keeps gain 1 when `preserveDC`.
 *
 * Give either fixed gains (`gainLow` = a_lf, `gainHigh` = a_hf) or `entropyGate`, never both.
 */
export interface AfmOptions {
  /** `[H, W]` with `H * W = N`. Any size, not only powers of two. */
  grid: [number, number];
  /** a_lf, the low-band gain (default 1). */
  gainLow?: number;
  /** a_hf, the high-band gain (default 1). */
  gainHigh?: number;
  /** Band edge r_c on the corner-normalised radius, in (0, 1]. Default 0.25. */
  cutoff?: number;
  /** Width of the raised-cosine edge, in [0, 1). Default 0.05 (0 = hard edge). */
  width?: number;
  /** Keep each token's spatial-mean logit (the DC bin) unchanged. Default true. */
  preserveDC?: boolean;
  /**
   * Gains from the mean normalised token entropy H of the unedited attention (mean over batch,
   * heads and positions of the softmax entropy divided by log of the unmasked token count),
   * computed in the same call: `a_lf = 1 + strength*wLow*(1 + beta*H)`,
   * `a_hf = 1 + strength*wHigh*(1 + gamma*(1 - H))` (afm.md §7).
   */
  entropyGate?: { strength: number; wLow: number; wHigh: number; beta?: number; gamma?: number };
  /** 'fused' (default): band-split Q, reweight on load. 'reference': materialised logits, 2-D DFT per token map. */
  mode?: 'fused' | 'reference';
}

/**
 * GAG, geometry-aware attention guidance (Kim, arXiv 2603.02531; reference/guidance.md §2): from one
 * pass over the keys, the softmax output D and the alpha-entmax output S;
 * `out = S + scale * clip_eta(r_par + zeta * r_orth)` with `r = S - D` split into its component
 * along S and the rest, per query and head; `clip_eta(g) = g * min(1, eta / |g|)`.
 */
export interface GagOptions {
  kind: 'gag';
  /** w, default 5. */
  scale?: number;
  /** Entmax order: 1.5 (default) or 2 (sparsemax), both with exact thresholds. */
  alpha?: number;
  /** Norm cap, default 15 (Infinity disables it). */
  eta?: number;
  /** Weight of the orthogonal part, default 0. */
  zeta?: number;
}

/**
 * NAG, normalized attention guidance (arXiv 2505.21179; reference/guidance.md §4), against the
 * negative prompt's keys and values: `Z~ = scale Z+ - (scale - 1) Z-`, `rho = |Z~|_1 / |Z+|_1` over
 * the whole query feature (all heads), `Z^ = Z~ min(rho, tau) / rho`, `out = alpha Z^ + (1 - alpha) Z+`.
 */
export interface NagOptions {
  kind: 'nag';
  /** Negative keys `[B, heads, T-, d]`, same dtype and device as k. */
  kNeg: Tensor;
  /** Negative values `[B, heads, T-, d]`. */
  vNeg: Tensor;
  /** Key-padding mask of the negative keys, `[B, T-]` (nonzero = attend). */
  maskNeg?: MaskInput;
  /** Default 5. */
  scale?: number;
  /** Default 2.5. */
  tau?: number;
  /** Default 0.5. */
  alpha?: number;
}

/**
 * PAG, perturbed-attention guidance (arXiv 2403.17377; reference/guidance.md §5): the identity
 * attention map (output = v, so N must equal T) for the perturbed batch rows `[begin, end)`
 * (default: the whole batch); the other rows get plain attention.
 */
export interface PagOptions {
  kind: 'pag';
  batch?: [number, number];
}

export type GuidanceOptions = GagOptions | NagOptions | PagOptions;

/** A key-padding mask `[B, T]`, nonzero = attend: bytes, booleans, or a float32 tensor. */
export type MaskInput = Uint8Array | readonly boolean[] | Tensor;

export interface AttentionOptions {
  /** Key-padding mask `[B, T]`, nonzero = attend. Every batch row must attend to at least one key. */
  mask?: MaskInput;
  /** Logit scale; default `1 / sqrt(d)`. */
  scale?: number;
  /**
   * Causal attention: query i attends keys j <= i only (PyTorch SDPA's `is_causal`, as a text
   * encoder uses). CPU backend; not combinable with afm, guidance, cache or capture.
   */
  causal?: boolean;
  afm?: AfmOptions;
  guidance?: GuidanceOptions;
  /**
   * T-GATE (arXiv 2404.02747; reference/tgate.md): `record` computes as usual and also stores the
   * mean of the two guidance halves of the output (first B/2 unconditional, second B/2
   * conditional) in `handle`; `replay` returns the stored `[B/2, heads, N, d]` output without
   * computing (q must then have batch B/2).
   */
  cache?: { handle: AttentionCache; mode: 'record' | 'replay' };
  /**
   * Also return the concentration map (mean of the top-K token probabilities per position,
   * averaged over heads) and its radially binned power spectrum (reference/afm.md §2-3).
   */
  capture?: { topK?: number; bins?: number; grid?: [number, number] };
  /** Also return the AFM gains (and entropy) that were used. */
  returnStats?: boolean;
}

export interface AttentionStats {
  /** The normalised token entropy H the gate used, or null without a gate. */
  entropy: number | null;
  gainLow: number;
  gainHigh: number;
}

export interface AttentionCapture {
  /** `[B, N]` row-major: c(x) per batch element and position. */
  concentration: Float32Array;
  /** `[B, bins]`: the share of spectral power in each radial bin (each row sums to 1, or 0 for a flat map). */
  spectrum: Float32Array;
  grid: [number, number];
  bins: number;
}

export interface AttentionResult {
  output: Tensor;
  stats?: AttentionStats;
  capture?: AttentionCapture;
}
