/**
 * `loadPipeline()`: opens a model (the embedded default, a diffusers folder or a single-file
 * checkpoint) and builds its native components, in diffusers' conventions.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

import { z } from 'zod';

import { DiffusionAttentionError } from '../errors.js';
import { parseConfig } from '../models/config.js';
import { openModel, type ModelSource, type OpenOptions } from '../models/layout.js';
import { TextEncoder } from '../models/text-encoder.js';
import { PromptTokenizer } from '../models/tokenizer.js';
import { UNet } from '../models/unet.js';
import { Vae } from '../models/vae.js';
import { generate, type GenerateResult } from './generate.js';
import type { GenerateOptions } from './options.js';

/** The embedded default model's folder (models/ at the package root; DESIGN.md "Weights and models"). */
export const DEFAULT_MODEL = path.join(__dirname, '..', '..', 'models', 'shapes-32');

export interface LoadOptions extends OpenOptions {
  /** Where the model runs. The model ops run on the CPU so far: `auto` (default) and `cpu` pick it. */
  device?: 'auto' | 'cpu';
  /** Compute dtype; weights in other dtypes are converted on load. float32 so far. */
  dtype?: 'float32';
  /**
   * Activation memory a `generate()` may use, in bytes (default: no limit; the environment variable
   * `DIFFUSION_ATTENTION_MEMORY_BUDGET` sets one too). A request whose estimate exceeds it fails with
   * `E_RESOURCE` and the estimate before any work. Weights are mapped and not counted.
   */
  memoryBudget?: number;
}

/**
 * A loaded text-to-image model: its components as diffusers names them, and `generate()`.
 * Components that `model_index.json` marks null (or that the model lacks, like the VAE of a
 * pixel-space model) are null.
 *
 * One pipeline runs one `generate()` at a time: calls made while one runs wait in a queue (in call
 * order) rather than competing for the same cores; use two pipelines to run side by side. The
 * native work runs off the main thread, so the event loop stays responsive throughout.
 */
export class Pipeline {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  /** @internal */
  constructor(
    /** CLIPTextModel with the model's tokenizer; null for an unconditional model. */
    readonly textEncoder: TextEncoder | null,
    readonly unet: UNet,
    /** AutoencoderKL; null for a pixel-space model (the UNet then works on images in [-1, 1]). */
    readonly vae: Vae | null,
    readonly tokenizer: PromptTokenizer | null,
    /** `scheduler/scheduler_config.json` as written, or null (the sampler validates it). */
    readonly schedulerConfig: Readonly<Record<string, unknown>> | null,
    /** Where the model came from. */
    readonly source: { kind: ModelSource['kind']; path: string },
    /** The activation budget of `generate()` in bytes (see {@link LoadOptions.memoryBudget}), or null. */
    readonly memoryBudget: number | null = null,
    /** The model's own generation defaults (`generation_config.json`), where it ships one. */
    readonly defaults: GenerationDefaults = {},
  ) {}

  /**
   * Generates images from text (see {@link GenerateOptions} for every option, its default and the
   * paper it implements). The same seed and options give bit-identical images on the same backend.
   * A failed or aborted call leaves the pipeline usable and writes nothing.
   *
   * @throws DiffusionAttentionError `E_INVALID_ARGUMENT` (options, before any model work),
   *   `E_MODEL_FORMAT` (a model without text encoder or scheduler config), `E_RESOURCE` (over the
   *   memory budget), `E_DISPOSED` (after close()); the signal's reason when aborted (an AbortError
   *   `DOMException` from `AbortController.abort()`, a TimeoutError from `AbortSignal.timeout()`).
   */
  generate(options: GenerateOptions): Promise<GenerateResult> {
    if (this.closed) return Promise.reject(new DiffusionAttentionError('E_DISPOSED', 'the pipeline has been closed'));
    const run = this.queue.then(() => generate(this, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Waits for queued `generate()` calls, then releases the native models and their weights. Later
   * calls fail with `E_DISPOSED`. Closing twice is harmless.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    this.textEncoder?.dispose();
    this.unet.dispose();
    this.vae?.dispose();
  }
}

/**
 * A model's preferred settings, from an optional `generation_config.json` beside `model_index.json`
 * (`{ "guidance_scale": 3, "guidance_rescale": 0.7, "num_inference_steps": 25 }`; diffusers ignores
 * the file). A small model may call for another guidance scale than SD's 7.5, and a zero-terminal-SNR
 * model for rescaled guidance.
 */
export interface GenerationDefaults {
  guidanceScale?: number;
  guidanceRescale?: number;
  steps?: number;
}

const generationConfigSchema = z.strictObject({
  guidance_scale: z.number().min(0).max(100).optional(),
  guidance_rescale: z.number().min(0).max(1).optional(),
  num_inference_steps: z.number().int().min(1).max(1000).optional(),
});

async function readDefaults(folder: string): Promise<GenerationDefaults> {
  const file = path.join(folder, 'generation_config.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return {};
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DiffusionAttentionError('E_MODEL_FORMAT', `${file} is not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const c = parseConfig(generationConfigSchema, json, file);
  return {
    ...(c.guidance_scale === undefined ? {} : { guidanceScale: c.guidance_scale }),
    ...(c.guidance_rescale === undefined ? {} : { guidanceRescale: c.guidance_rescale }),
    ...(c.num_inference_steps === undefined ? {} : { steps: c.num_inference_steps }),
  };
}

/**
 * Loads a model for generation: with no `location`, the embedded default model; otherwise a
 * diffusers folder (`model_index.json`, `unet/`, `text_encoder/`, `tokenizer/`, `vae/`,
 * `scheduler/`) or a single-file `.safetensors` checkpoint (see {@link OpenOptions}).
 * Weights are mapped, not copied, when the file holds the compute dtype.
 *
 * @throws DiffusionAttentionError `E_MODEL_FORMAT` (missing or malformed files, configs, weights),
 *   `E_INVALID_ARGUMENT` (options)
 */
export async function loadPipeline(location?: string, options: LoadOptions = {}): Promise<Pipeline> {
  if (options === null || typeof options !== 'object') {
    throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const { device = 'auto', dtype = 'float32', memoryBudget, ...open } = options;
  const envBudget = process.env.DIFFUSION_ATTENTION_MEMORY_BUDGET;
  const budget = memoryBudget ?? (envBudget === undefined ? undefined : Number(envBudget));
  if (budget !== undefined && !(Number.isFinite(budget) && budget > 0)) {
    throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `memoryBudget must be a positive number of bytes, got ${String(memoryBudget ?? envBudget)}`);
  }
  if (device !== 'auto' && device !== 'cpu') {
    throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `device must be 'auto' or 'cpu' (the model ops run on the CPU so far), got ${String(device)}`);
  }
  if (dtype !== 'float32') throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `dtype must be 'float32' so far, got ${String(dtype)}`);
  const source = await openModel(location ?? DEFAULT_MODEL, open);
  const te = source.textEncoder;
  const tokenizer = te && source.tokenizerDir ? await PromptTokenizer.load(source.tokenizerDir, te.config.max_position_embeddings) : null;
  const [textEncoder, unet, vae] = await Promise.all([
    te ? TextEncoder.load(te, tokenizer) : null,
    UNet.load(source.unet),
    source.vae ? Vae.load(source.vae) : null,
  ]);
  if (textEncoder && unet.config.cross_attention_dim !== te!.config.hidden_size) {
    throw new DiffusionAttentionError('E_MODEL_FORMAT',
      `${source.path}: the UNet's cross_attention_dim ${unet.config.cross_attention_dim} differs from the text encoder's hidden_size ${te!.config.hidden_size}`);
  }
  const defaults = source.kind === 'diffusers' ? await readDefaults(source.path) : {};
  return new Pipeline(textEncoder, unet, vae, tokenizer, source.schedulerConfig, { kind: source.kind, path: source.path }, budget ?? null, defaults);
}
