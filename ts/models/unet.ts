import { z } from 'zod';

import { AttentionCache } from '../attention/cache.js';
import { afmLayerSchema, captureFields, gagSchema, nagFields, pagSchema } from '../attention/index.js';
import type { AfmOptions, AttentionCapture, AttentionStats, GagOptions, NagOptions, PagOptions } from '../attention/types.js';
import { DiffusionAttentionError, awaitNative, callNative } from '../errors.js';
import type { NativeUNet } from '../native/binding.js';
import { loadNative } from '../native/load.js';
import { Tensor } from '../tensor.js';
import type { UNetConfig } from './config.js';
import type { Component } from './layout.js';
import { CPU_FLOAT32, loadWeights, type Placement } from './placement.js';

/**
 * One attention module of the UNet, named as diffusers names it
 * (`down_blocks.0.attentions.1.transformer_blocks.0.attn2`).
 */
export interface AttentionLayerInfo {
  name: string;
  /** `self` for attn1 (queries, keys and values from the image tokens), `cross` for attn2 (keys and values from the text). */
  kind: 'self' | 'cross';
  /** Where the layer sits: `down`, `mid` or `up` blocks. */
  block: 'down' | 'mid' | 'up';
  heads: number;
  headDim: number;
  /** The layer's token grid is the sample's H x W divided by this (1, 2, 4, 8 for SD's four levels). */
  downsample: number;
}

/**
 * What one attention layer does in one UNet call (DESIGN.md: the per-step AttentionControls). See
 * {@link AttentionOptions} in the attention op for each variant and its paper; the grid of AFM and
 * capture is the layer's own.
 */
export interface UNetLayerControls {
  /** AFM band reweighting of the cross-attention logits (attn2 layers only). */
  afm?: Omit<AfmOptions, 'grid'>;
  /** GAG (any layer), NAG (attn2; needs `negativeContext`), PAG (attn1; identity attention on the rows `batch`). */
  guidance?: GagOptions | Omit<NagOptions, 'kNeg' | 'vNeg' | 'maskNeg'> | PagOptions;
  /** Collect the layer's concentration map and its radial spectrum. */
  capture?: { topK?: number; bins?: number };
  /**
   * T-GATE (arXiv 2404.02747; reference/tgate.md): the layer's output after `to_out`, as tokens
   * `[B, N, C]` before the residual add. `record` stores the batch as is (self-attention before
   * the gate), `record-mean` the mean of the two guidance halves (the gate step; B even, first half
   * unconditional; `rows` limits it to the first rows, when a PAG branch follows), `replay` skips
   * the layer and uses the stored output (its batch must match).
   */
  cache?: { handle: AttentionCache; mode: 'record' | 'record-mean' | 'replay'; rows?: number };
}

export interface UNetControls {
  /** By layer name (see {@link UNet.attentionLayers}); a layer not named runs plain attention. */
  layers?: Readonly<Record<string, UNetLayerControls>>;
  /** NAG's negative conditioning `[B, T-, cross_attention_dim]`, projected by each NAG layer's to_k / to_v. */
  negativeContext?: Tensor;
}

/** What a layer that ran AFM or capture reports. */
export interface UNetLayerResult {
  stats: AttentionStats;
  capture?: AttentionCapture;
}

export interface UNetResult {
  output: Tensor;
  /** By layer name, in execution order: the layers that ran AFM or capture. */
  layers: Map<string, UNetLayerResult>;
}

const controlsSchema = z.strictObject({
  layers: z.record(z.string(), z.strictObject({
    afm: afmLayerSchema.optional(),
    guidance: z.discriminatedUnion('kind', [gagSchema, z.strictObject(nagFields), pagSchema]).optional(),
    capture: z.strictObject(captureFields).optional(),
    cache: z.strictObject({
      handle: z.instanceof(AttentionCache), mode: z.enum(['record', 'record-mean', 'replay']), rows: z.number().int().positive().optional(),
    }).optional(),
  })).optional(),
  negativeContext: z.instanceof(Tensor).optional(),
});

function invalid(message: string): DiffusionAttentionError {
  return new DiffusionAttentionError('E_INVALID_ARGUMENT', message);
}

/** Heads per level as diffusers derives them: `num_attention_heads ?? attention_head_dim`, an int or one per level. */
export function headsPerLevel(c: UNetConfig): number[] {
  const heads = c.num_attention_heads ?? c.attention_head_dim;
  return Array.isArray(heads) ? [...heads] : c.block_out_channels.map(() => heads);
}

/**
 * The UNet of a pipeline: diffusers' UNet2DConditionModel run natively (native/models/unet.h), in
 * diffusers' conventions: NCHW tensors, the model output as the model gives it (noise or v
 * prediction per the scheduler config), no scaling of inputs. It runs where its weights were loaded
 * ({@link UNet.placement}: float32 on the CPU, or float32 / float16 / bfloat16 on CUDA).
 */
export class UNet {
  /** Every attention module, in execution order. */
  readonly attentionLayers: readonly AttentionLayerInfo[];

  private constructor(
    private readonly native: NativeUNet,
    readonly config: UNetConfig,
    /** Where the weights are and the dtype the model computes in. */
    readonly placement: Placement,
  ) {
    this.attentionLayers = native.attentionLayers().map((l) => ({
      name: l.name,
      kind: l.cross ? 'cross' : 'self',
      block: l.name.startsWith('down_blocks') ? 'down' : l.name.startsWith('mid_block') ? 'mid' : 'up',
      heads: l.heads,
      headDim: l.headDim,
      downsample: 2 ** l.level,
    }));
  }

  /**
   * Loads every weight of the component in the placement's dtype onto its device (default float32
   * on the CPU, mapped, not copied, when the file holds float32; see {@link loadWeights}) and
   * builds the native model, which checks every weight's presence and shape.
   * @throws DiffusionAttentionError `E_MODEL_FORMAT` naming a missing or mis-sized weight, `E_NO_CUDA`, `E_RESOURCE`
   */
  static async load(component: Component<UNetConfig>, placement: Placement = CPU_FLOAT32): Promise<UNet> {
    const c = component.config;
    const weights = await loadWeights(component.weights, placement);
    const { binding } = loadNative();
    const native = callNative(() => new binding.NativeUNet({
      inChannels: c.in_channels, outChannels: c.out_channels, blockOutChannels: c.block_out_channels,
      downCrossAttention: c.down_block_types.map((t) => t === 'CrossAttnDownBlock2D'),
      upCrossAttention: c.up_block_types.map((t) => t === 'CrossAttnUpBlock2D'),
      heads: headsPerLevel(c), layersPerBlock: c.layers_per_block, normNumGroups: c.norm_num_groups, normEps: c.norm_eps,
      crossAttentionDim: c.cross_attention_dim, useLinearProjection: c.use_linear_projection,
      flipSinToCos: c.flip_sin_to_cos, freqShift: c.freq_shift,
    }, weights));
    return new UNet(native, c, placement);
  }

  /**
   * Releases the native model and its weights once calls in flight finish; later calls fail with
   * `E_DISPOSED`. (Garbage collection does the same when the object becomes unreachable.)
   */
  dispose(): void {
    this.native.dispose();
  }

  /**
   * Whether plain calls (without controls) on CUDA replay a recorded CUDA graph once their shape
   * repeats (default true): a shape's first call runs directly, its second records the kernel
   * launches and replays them, and later calls replay them, so a sampler's steps cost one launch
   * each instead of several hundred. The same kernels run on the same data, so the output is the
   * same as without. Calls with controls (AFM, capture, guidance, T-GATE) always run directly, and
   * the CPU ignores the setting. At most two shapes keep a recording (each holds a call's activation
   * memory on the device).
   * @throws DiffusionAttentionError `E_INVALID_ARGUMENT` when set to a non-boolean, `E_DISPOSED`
   */
  get cudaGraphs(): boolean {
    return callNative(() => this.native.cudaGraphs()).enabled;
  }

  set cudaGraphs(enabled: boolean) {
    if (typeof enabled !== 'boolean') throw invalid('cudaGraphs must be true or false');
    callNative(() => this.native.setCudaGraphs(enabled));
  }

  /** How many calls so far were answered by a CUDA graph replay ({@link UNet.cudaGraphs}). */
  get cudaGraphReplays(): number {
    return callNative(() => this.native.cudaGraphs()).replays;
  }

  /** Sample heights and widths must be multiples of this (2^(levels-1): 8 for SD's four levels). */
  get sizeMultiple(): number {
    return 2 ** (this.config.block_out_channels.length - 1);
  }

  /**
   * The model output `[B, out_channels, H, W]` for `sample` `[B, in_channels, H, W]` at `timestep`
   * (one value for the batch, or one per entry; fractional allowed) with `context`
   * `[B, T, cross_attention_dim]` (the text encoder's hidden state). Inputs on another device or
   * in another dtype are converted to the model's {@link UNet.placement}; the output is there too.
   * @throws DiffusionAttentionError `E_SHAPE`, `E_DTYPE`, `E_INVALID_ARGUMENT` (bad controls, unknown layer names)
   */
  async predict(sample: Tensor, timestep: number | readonly number[], context: Tensor, controls?: UNetControls): Promise<Tensor> {
    return (await this.run(sample, timestep, context, controls)).output;
  }

  /** {@link UNet.predict} that also returns what each layer with AFM or capture reported. */
  async run(sample: Tensor, timestep: number | readonly number[], context: Tensor, controls: UNetControls = {}): Promise<UNetResult> {
    for (const [name, t] of [['sample', sample], ['context', context]] as const) {
      if (!(t instanceof Tensor)) throw new DiffusionAttentionError('E_DTYPE', `${name} must be a Tensor`);
    }
    const B = sample.shape[0] ?? 0;
    const steps = typeof timestep === 'number' ? new Array<number>(B).fill(timestep) : [...timestep];
    if (steps.length !== B || !steps.every(Number.isFinite)) throw invalid(`timestep must be a finite number or ${B} of them`);
    const parsed = controlsSchema.safeParse(controls ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw invalid(`controls${issue.path.length ? `.${issue.path.join('.')}` : ''}: ${issue.message}`);
    }
    const known = new Set(this.attentionLayers.map((l) => l.name));
    const layers: Record<string, unknown> = {};
    for (const [name, l] of Object.entries(parsed.data.layers ?? {})) {
      if (!known.has(name)) throw invalid(`controls.layers: no attention layer named ${name} (see unet.attentionLayers)`);
      const g = l.guidance?.kind === 'pag' ? { kind: 'pag', begin: l.guidance.batch?.[0] ?? 0, end: l.guidance.batch?.[1] ?? B } : l.guidance;
      // The native side takes K = min(topK, T) per layer; any positive integer is accepted here.
      const capture = l.capture && { ...l.capture, topK: Math.min(l.capture.topK ?? 8, 2 ** 30) };
      layers[name] = { ...l, guidance: g, capture, cache: l.cache && { handle: l.cache.handle.native, mode: l.cache.mode, rows: l.cache.rows } };
    }
    // Inputs elsewhere are converted natively, inside the call's job (Weights::place): the call
    // starts here, synchronously, so a dispose() right after it waits for it.
    const native = { layers, negativeContext: parsed.data.negativeContext?.native };
    const r = await awaitNative(() => this.native.forward(sample.native, Float32Array.from(steps), context.native, native));
    const result: UNetResult = { output: new Tensor(r.out), layers: new Map() };
    for (const l of r.layers) {
      const stats = { entropy: Number.isNaN(l.entropy) ? null : l.entropy, gainLow: l.gainLow, gainHigh: l.gainHigh };
      const capture = l.concentration && l.spectrum
        ? { concentration: l.concentration, spectrum: l.spectrum, grid: l.grid, bins: l.spectrum.length / B }
        : undefined;
      result.layers.set(l.name, capture ? { stats, capture } : { stats });
    }
    return result;
  }
}
