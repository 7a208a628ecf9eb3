/**
 * The options of `pipe.generate()`: types with their documentation, and the zod schema that
 * validates them at the boundary (`E_INVALID_ARGUMENT` naming the field).
 */
import { z } from 'zod';

import { DiffusionAttentionError } from '../errors.js';
import { SCHEDULER_KINDS, type SchedulerKind } from '../schedulers/index.js';

/** Which attention layers a method acts on: a preset, or diffusers module names. */
export type LayerSelection = 'down' | 'mid' | 'up' | 'all' | readonly string[];

/**
 * AFM, attention frequency modulation (Oh & Park, arXiv 2603.28114; reference/afm.md): the
 * cross-attention logits of the selected layers are reweighted in a low and a high spatial-frequency
 * band before the token softmax, with gains that follow the denoising progress u = s / (S - 1) of
 * model call s out of S: `a_lf = 1 + strength * w_lf(u)`, `a_hf = 1 + strength * w_hf(u)`.
 */
export interface AfmGenerateOptions {
  /** s_AFM; default 0.2. 0 leaves the run bit-identical to a plain one. Negative attenuates. */
  strength?: number;
  /** w_lf / w_hf: `curve` (1 - u, u; default), `constant` (1, 1), `lf-only` (1, 0), `hf-only` (0, 1). */
  schedule?: 'curve' | 'constant' | 'lf-only' | 'hf-only';
  /** Band edge on the corner-normalised radius, default 0.25. */
  cutoff?: number;
  /** Raised-cosine edge width, default 0.05. */
  width?: number;
  /** Keep each token's spatial-mean logit, default true. */
  preserveDC?: boolean;
  /**
   * Scale the gains by the normalised token-allocation entropy H of the unedited attention, per
   * layer and call (afm.md §7): `a_lf = 1 + s w_lf (1 + beta H)`, `a_hf = 1 + s w_hf (1 + gamma (1 - H))`.
   * `true` uses beta 20, gamma 4.
   */
  entropyGate?: boolean | { beta?: number; gamma?: number };
  /** Default `down`: the down blocks' cross-attention, where the paper applies it (afm.md §9). */
  layers?: LayerSelection;
}

/**
 * T-GATE (arXiv 2404.02747; reference/tgate.md §3, the V2 rule): cross-attention is computed with
 * classifier-free guidance up to the gate, cached at call `gateStep - 1` as the mean of the two
 * guidance halves, and replayed afterwards at half the batch with guidance dropped; self-attention
 * is recomputed every `spInterval` calls before the gate and every `fiInterval` after it (replayed
 * in between), from call `warmUp` on. Calls are counted by model call, so any sampler works.
 */
export interface TGateOptions {
  /** Default 10. `gateStep >= steps` gives a plain run. */
  gateStep?: number;
  /** Default 0. */
  warmUp?: number;
  /** Default 1 (always recompute). */
  spInterval?: number;
  /** Default 1. */
  fiInterval?: number;
}

/** GAG (arXiv 2603.02531; reference/guidance.md §2) on the selected cross-attention layers, in every model call. */
export interface GagGenerateOptions {
  kind: 'gag';
  /** w, default 5. */
  scale?: number;
  /** Entmax order 1.5 (default) or 2. */
  alpha?: number;
  /** Norm cap, default 15. */
  eta?: number;
  /** Orthogonal weight, default 0. */
  zeta?: number;
  /** Default: the up and down blocks' cross-attention (PLADIS's set, mid excluded). */
  layers?: LayerSelection;
}

/**
 * NAG (arXiv 2505.21179; guidance.md §4): every cross-attention layer of the conditional branch
 * is pushed away from the attention to a negative prompt, in the same model call.
 */
export interface NagGenerateOptions {
  kind: 'nag';
  /** s, default 5. */
  scale?: number;
  /** tau, default 2.5. */
  tau?: number;
  /** alpha, default 0.5 (the SD-family pipelines' value). */
  alpha?: number;
  /** The negative prompt NAG steers from; default the generation's `negativePrompt`, else "low resolution, blurry". */
  negativePrompt?: string;
}

/**
 * PAG (arXiv 2403.17377; guidance.md §5): an extra branch whose selected self-attention layers use
 * the identity map; `F = F_cfg + scale (F_c - F_perturbed)`.
 */
export interface PagGenerateOptions {
  kind: 'pag';
  /** s, default 3. */
  scale?: number;
  /** Default `mid` (diffusers' default layer set). */
  layers?: LayerSelection;
}

export type AttentionGuidanceOptions = GagGenerateOptions | NagGenerateOptions | PagGenerateOptions;

/** Collect concentration-map spectra per model call and layer (afm.md §2-3). */
export interface CaptureOptions {
  /** Default `all` cross-attention layers. */
  layers?: LayerSelection;
  /** K of the top-K concentration map, default 8. */
  topK?: number;
  /** Radial bins, default 16. */
  bins?: number;
}

export interface GenerateProgress {
  /** Model calls done (0 while encoding the prompt, `steps` while decoding). */
  step: number;
  steps: number;
  phase: 'encode' | 'denoise' | 'decode';
  elapsedMs: number;
  /** Estimated time to the end of the denoising loop, from the mean time per call so far. */
  etaMs: number;
}

export interface GenerateOptions {
  /** One prompt, or one per image group. */
  prompt: string | readonly string[];
  /** The unconditional branch's prompt (one, or one per prompt); default "". */
  negativePrompt?: string | readonly string[];
  /** Image size in pixels: multiples of the model's size step; default the model's native size. */
  width?: number;
  height?: number;
  /** Model calls; default the model's `generation_config.json` value, else 25. */
  steps?: number;
  /**
   * Classifier-free guidance scale w; default the model's `generation_config.json` value, else
   * 7.5 as for SD. w <= 1 runs without the unconditional branch.
   */
  guidanceScale?: number;
  /**
   * Rescaled guidance phi in [0, 1] (Lin et al. 2024, section 3.4; diffusers' `guidance_rescale`):
   * the guided output is scaled towards the conditional output's standard deviation, per image,
   * which keeps a high guidance scale from over-exposing (0.7 in the paper). Default the model's
   * `generation_config.json` value, else 0 (plain CFG). Acts only while CFG runs (guidanceScale > 1).
   */
  guidanceRescale?: number;
  /** Image i of the batch uses seed + i; default a random seed (reported in the result). */
  seed?: number;
  /** Images per prompt, default 1. */
  batchSize?: number;
  /** Default: the model's scheduler_config.json class when implemented, else `dpmpp-2m`. */
  scheduler?: SchedulerKind;
  /** Karras sigmas (euler, euler-ancestral, dpmpp-2m). */
  karras?: boolean;
  afm?: AfmGenerateOptions;
  tgate?: TGateOptions;
  attentionGuidance?: AttentionGuidanceOptions;
  capture?: CaptureOptions;
  /** Called after the prompt encoding, after every model call and before decoding. */
  onProgress?: (progress: GenerateProgress) => void;
  /**
   * Aborting stops at the next model call; generate() then rejects with the signal's reason: an
   * AbortError (DOMException) from `AbortController.abort()`, a TimeoutError from `AbortSignal.timeout()`.
   */
  signal?: AbortSignal;
}

const layers = z.union([z.enum(['down', 'mid', 'up', 'all']), z.array(z.string()).min(1)]);
const positiveInt = z.number().int().positive();
const text = z.union([z.string(), z.array(z.string()).min(1)]);

export const generateSchema = z.strictObject({
  prompt: text,
  negativePrompt: text.optional(),
  width: positiveInt.optional(),
  height: positiveInt.optional(),
  steps: positiveInt.max(1000).optional(),
  guidanceScale: z.number().min(0).max(100).optional(),
  guidanceRescale: z.number().min(0).max(1).optional(),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  batchSize: positiveInt.max(64).optional(),
  scheduler: z.enum(SCHEDULER_KINDS).optional(),
  karras: z.boolean().optional(),
  afm: z.strictObject({
    strength: z.number().min(-1).max(4).optional(),
    schedule: z.enum(['curve', 'constant', 'lf-only', 'hf-only']).optional(),
    cutoff: z.number().gt(0).lte(1).optional(),
    width: z.number().gte(0).lt(1).optional(),
    preserveDC: z.boolean().optional(),
    entropyGate: z.union([z.boolean(), z.strictObject({ beta: z.number().optional(), gamma: z.number().optional() })]).optional(),
    layers: layers.optional(),
  }).optional(),
  tgate: z.strictObject({
    gateStep: positiveInt.optional(),
    warmUp: z.number().int().nonnegative().optional(),
    spInterval: positiveInt.optional(),
    fiInterval: positiveInt.optional(),
  }).optional(),
  attentionGuidance: z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('gag'),
      scale: z.number().optional(),
      alpha: z.union([z.literal(1.5), z.literal(2)]).optional(),
      eta: z.union([z.number().positive(), z.literal(Infinity)]).optional(),
      zeta: z.number().optional(),
      layers: layers.optional(),
    }),
    z.strictObject({
      kind: z.literal('nag'),
      scale: z.number().optional(),
      tau: z.number().positive().optional(),
      alpha: z.number().min(0).max(1).optional(),
      negativePrompt: z.string().optional(),
    }),
    z.strictObject({ kind: z.literal('pag'), scale: z.number().optional(), layers: layers.optional() }),
  ]).optional(),
  capture: z.strictObject({ layers: layers.optional(), topK: positiveInt.optional(), bins: positiveInt.max(4096).optional() }).optional(),
  onProgress: z.custom<(p: GenerateProgress) => void>((v) => typeof v === 'function', 'must be a function').optional(),
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, 'must be an AbortSignal').optional(),
});

export type ParsedGenerateOptions = z.output<typeof generateSchema>;

/** Validates `options`; `E_INVALID_ARGUMENT` naming the field. */
export function parseGenerateOptions(options: unknown): ParsedGenerateOptions {
  const r = generateSchema.safeParse(options);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
  throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `generate options${field ? `.${field}` : ''}: ${issue.message}`);
}
