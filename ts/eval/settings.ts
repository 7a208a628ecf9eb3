/**
 * What an evaluation runs: the generation settings compared (plain classifier-free guidance, AFM,
 * T-GATE, GAG/NAG/PAG) and how many prompts and seeds each sees, for the full and the quick run.
 * Every setting runs at the same defaults (25 steps, the model's scheduler, generate()'s default
 * guidance scale); only the method's own options differ.
 */
import type { GenerateOptions } from '../pipeline/options.js';

/**
 * Which prompts a setting runs on, as a prefix of the balanced prompt order (see runner.ts):
 * `all` every evaluated prompt (the plain run, whose alignment is the headline), `methods` the
 * prefix every method is compared on, `spectral` the shorter prefix whose attention spectra are
 * captured for the HF-ratio curves and fingerprints.
 */
export type Scope = 'all' | 'methods' | 'spectral';

export interface Setting {
  /** Short stable name, used for files: `plain`, `afm`, `tgate-10`, `gag-5`, ... */
  id: string;
  /** What the report calls it. */
  label: string;
  family: 'plain' | 'afm' | 'tgate' | 'guidance';
  /** Added to the common generate() options. */
  options: Partial<GenerateOptions>;
  scope: Scope;
  /**
   * Capture the encoder cross-attention spectra (afm.md §2: the paper's analysis layers). Capture
   * only reads the attention, so the pictures are those of the same setting without it; it costs
   * time, so the timed comparisons (T-GATE) never capture.
   */
  capture?: boolean;
}

/** AFM at its defaults (strength 0.2, curve schedule, cutoff 0.25, down blocks; afm.md §10). */
const AFM: Setting = { id: 'afm', label: 'AFM (strength 0.2, curve)', family: 'afm', options: { afm: {} }, scope: 'methods', capture: true };
const AFM_GATED: Setting = {
  id: 'afm-gated', label: 'AFM entropy-gated (strength 0.2, beta 20, gamma 4)', family: 'afm', options: { afm: { entropyGate: true } }, scope: 'methods', capture: true,
};

function tgate(gateStep: number): Setting {
  return { id: `tgate-${gateStep}`, label: `T-GATE gate ${gateStep}`, family: 'tgate', options: { tgate: { gateStep } }, scope: 'methods' };
}

/**
 * GAG, NAG or PAG at `scale` on their default layers. NAG steers away from the empty prompt: the
 * package's fallback negative ("low resolution, blurry") is outside the embedded model's
 * vocabulary and would reach it as unknown tokens, while the empty prompt is the unconditional
 * prompt it was trained with (10% caption dropout).
 */
function guidance(kind: 'gag' | 'nag' | 'pag', scale: number): Setting {
  const extra = kind === 'pag' ? ', mid self-attention' : kind === 'gag' ? ', up/down cross-attention' : ', empty negative prompt';
  const options: Partial<GenerateOptions> = { attentionGuidance: kind === 'nag' ? { kind, scale, negativePrompt: '' } : { kind, scale } };
  return { id: `${kind}-${scale}`, label: `${kind.toUpperCase()} scale ${scale}${extra}`, family: 'guidance', options, scope: 'methods' };
}

const PLAIN: Setting = { id: 'plain', label: 'plain CFG', family: 'plain', options: {}, scope: 'all' };
/** The plain run again with capture, for the baseline HF-ratio curve and fingerprint. */
const PLAIN_CAPTURE: Setting = { id: 'plain-capture', label: 'plain CFG (capture)', family: 'plain', options: {}, scope: 'spectral', capture: true };

/** Sizes of a run: prompts per group (x4 groups) for each scope, seeds per prompt. */
export interface RunSize {
  perGroup: number;
  methodsPerGroup: number;
  spectralPerGroup: number;
  seeds: number;
}

/**
 * The full run (about 20 minutes on 2 cores): the plain run on 32 prompts per group x 4 seeds (512
 * pictures), every method on the first 12 per group x 4 seeds (192 pictures, paired with the plain
 * run's), T-GATE at gate 5, 10 and 15 of 25 (tgate.md §5: 10 is the SD default), each guidance at
 * half and at its default scale; spectra of the first 2 per group (32 pictures).
 */
export const FULL: { size: RunSize; settings: Setting[] } = {
  size: { perGroup: 32, methodsPerGroup: 12, spectralPerGroup: 2, seeds: 4 },
  settings: [PLAIN, PLAIN_CAPTURE, AFM, AFM_GATED, tgate(5), tgate(10), tgate(15), guidance('gag', 2.5), guidance('gag', 5), guidance('nag', 2.5), guidance('nag', 5), guidance('pag', 1.5), guidance('pag', 3)],
};

/**
 * The quick run (about 1.5 minutes on 2 cores): 4 prompts per group x 2 seeds (32 pictures) for
 * every setting, each method at its default only. A smoke test of the model and the methods; its
 * intervals are too wide for conclusions.
 */
export const QUICK: { size: RunSize; settings: Setting[] } = {
  size: { perGroup: 4, methodsPerGroup: 4, spectralPerGroup: 1, seeds: 2 },
  settings: [PLAIN, PLAIN_CAPTURE, AFM, AFM_GATED, tgate(10), guidance('gag', 5), guidance('nag', 5), guidance('pag', 3)],
};
