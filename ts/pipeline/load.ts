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
import { CPU_FLOAT32, type Placement } from '../models/placement.js';
import { TextEncoder } from '../models/text-encoder.js';
import { PromptTokenizer } from '../models/tokenizer.js';
import { UNet } from '../models/unet.js';
import { Vae } from '../models/vae.js';
import { loadNative } from '../native/load.js';
import type { DType } from '../tensor.js';
import { generate, type GenerateResult } from './generate.js';
import type { GenerateOptions } from './options.js';

/** The embedded default model's folder (models/ at the package root; DESIGN.md "Weights and models"). */
export const DEFAULT_MODEL = path.join(__dirname, '..', '..', 'models', 'shapes-32');

export interface LoadOptions extends OpenOptions {
  /**
   * Where the models run. `cpu`: the CPU backend. `cuda`: the GPU (the CUDA variant of the binary
   * and an NVIDIA driver; `E_NO_CUDA` otherwise), with the weights uploaded once, here. `auto`
   * (default) picks the CPU: the CUDA model path has not yet been checked on a GPU by this
   * project's tests (BENCHMARKS.md and the issue notes say what has run where), so it is opt-in.
   */
  device?: 'auto' | 'cpu' | 'cuda';
  /**
   * Compute dtype; weights in other dtypes are converted on load. The CPU computes in float32
   * only; on CUDA the default is float16 (as SD is run), with float32 statistics and softmax inside
   * the kernels. A float16 VAE whose config keeps diffusers' `force_upcast` (default true) runs in
   * float32, as its activations can exceed the float16 range.
   */
  dtype?: DType;
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
 * The device and dtype of {@link LoadOptions}, checked before anything is read.
 * @throws DiffusionAttentionError `E_INVALID_ARGUMENT` (unknown device or dtype, a dtype the CPU
 *   does not compute in), `E_NO_CUDA` ('cuda' where this binary or machine has no CUDA)
 */
function resolvePlacement(device: unknown, dtype: unknown): Placement {
  if (device !== 'auto' && device !== 'cpu' && device !== 'cuda') {
    throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `device must be 'auto', 'cpu' or 'cuda', got ${String(device)}`);
  }
  if (dtype !== undefined && dtype !== 'float32' && dtype !== 'float16' && dtype !== 'bfloat16') {
    throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `dtype must be 'float32', 'float16' or 'bfloat16', got ${String(dtype)}`);
  }
  if (device === 'cuda') {
    const native = loadNative();
    if (native.backend !== 'cuda') throw new DiffusionAttentionError('E_NO_CUDA', `device 'cuda': CUDA is not available: ${native.reason}`);
    return { device: 'cuda', dtype: dtype ?? 'float16' };
  }
  if (dtype !== undefined && dtype !== 'float32') {
    throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `the CPU backend computes in float32; dtype ${dtype} needs device 'cuda'`);
  }
  return CPU_FLOAT32;
}

/**
 * Loads a model for generation: with no `location`, the embedded default model; otherwise a
 * diffusers folder (`model_index.json`, `unet/`, `text_encoder/`, `tokenizer/`, `vae/`,
 * `scheduler/`) or a single-file `.safetensors` checkpoint (see {@link OpenOptions}).
 * Weights are mapped, not copied, when the file holds the compute dtype.
 *
 * @throws DiffusionAttentionError `E_MODEL_FORMAT` (missing or malformed files, configs, weights),
 *   `E_INVALID_ARGUMENT` (options), `E_NO_CUDA` (device 'cuda' without CUDA), `E_RESOURCE` (device memory)
 */
export async function loadPipeline(location?: string, options: LoadOptions = {}): Promise<Pipeline> {
  if (options === null || typeof options !== 'object') {
    throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const { device = 'auto', dtype, memoryBudget, ...open } = options;
  const envBudget = process.env.DIFFUSION_ATTENTION_MEMORY_BUDGET;
  const budget = memoryBudget ?? (envBudget === undefined ? undefined : Number(envBudget));
  if (budget !== undefined && !(Number.isFinite(budget) && budget > 0)) {
    throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `memoryBudget must be a positive number of bytes, got ${String(memoryBudget ?? envBudget)}`);
  }
  const placement = resolvePlacement(device, dtype);
  const source = await openModel(location ?? DEFAULT_MODEL, open);
  const te = source.textEncoder;
  const tokenizer = te && source.tokenizerDir ? await PromptTokenizer.load(source.tokenizerDir, te.config.max_position_embeddings) : null;
  const vaePlacement: Placement = placement.dtype === 'float16' && source.vae?.config.force_upcast !== false
    ? { device: placement.device, dtype: 'float32' }
    : placement;
  const [textEncoder, unet, vae] = await Promise.all([
    te ? TextEncoder.load(te, tokenizer, placement) : null,
    UNet.load(source.unet, placement),
    source.vae ? Vae.load(source.vae, vaePlacement) : null,
  ]);
  if (textEncoder && unet.config.cross_attention_dim !== te!.config.hidden_size) {
    throw new DiffusionAttentionError('E_MODEL_FORMAT',
      `${source.path}: the UNet's cross_attention_dim ${unet.config.cross_attention_dim} differs from the text encoder's hidden_size ${te!.config.hidden_size}`);
  }
  const defaults = source.kind === 'diffusers' ? await readDefaults(source.path) : {};
  return new Pipeline(textEncoder, unet, vae, tokenizer, source.schedulerConfig, { kind: source.kind, path: source.path }, budget ?? null, defaults);
}
