import { DiffusionAttentionError, awaitNative, callNative } from '../errors.js';
import type { NativeTextEncoder } from '../native/binding.js';
import { loadNative } from '../native/load.js';
import { Tensor } from '../tensor.js';
import type { ClipTextConfig } from './config.js';
import type { Component } from './layout.js';
import { CPU_FLOAT32, loadWeights, type Placement } from './placement.js';
import type { PromptTokenizer } from './tokenizer.js';

/**
 * The text encoder of a pipeline: transformers' CLIPTextModel run natively
 * (native/models/clip_text.h), with the model folder's tokenizer.
 */
export class TextEncoder {
  private constructor(
    private readonly native: NativeTextEncoder,
    readonly config: ClipTextConfig,
    private readonly tokenizer: PromptTokenizer | null,
    /** Where the weights are and the dtype the model computes in. */
    readonly placement: Placement,
  ) {}

  /**
   * Loads the component's `text_model.*` weights in the placement's dtype onto its device (default
   * float32 on the CPU; see {@link loadWeights}) and builds the native model.
   * @throws DiffusionAttentionError `E_MODEL_FORMAT`, `E_NO_CUDA`, `E_RESOURCE`
   */
  static async load(component: Component<ClipTextConfig>, tokenizer: PromptTokenizer | null, placement: Placement = CPU_FLOAT32): Promise<TextEncoder> {
    const c = component.config;
    const names = component.weights.names().filter((name) => /^text_model\./.test(name));
    const weights = await loadWeights(component.weights, placement, names);
    const { binding } = loadNative();
    const native = callNative(() => new binding.NativeTextEncoder({
      vocabSize: c.vocab_size, hiddenSize: c.hidden_size, intermediateSize: c.intermediate_size,
      numHiddenLayers: c.num_hidden_layers, numAttentionHeads: c.num_attention_heads,
      maxPositionEmbeddings: c.max_position_embeddings, quickGelu: c.hidden_act === 'quick_gelu', layerNormEps: c.layer_norm_eps,
    }, weights));
    return new TextEncoder(native, c, tokenizer, placement);
  }

  /**
   * Releases the native model and its weights once calls in flight finish; later calls fail with
   * `E_DISPOSED`. (Garbage collection does the same when the object becomes unreachable.)
   */
  dispose(): void {
    this.native.dispose();
  }

  /**
   * The hidden state `[B, T, hidden]` (in the model's {@link TextEncoder.placement}) for token ids `[B, T]`, through the final
   * layer norm. `clipSkip` 1 (default) takes the last layer, 2 the penultimate.
   * @throws DiffusionAttentionError `E_SHAPE`, `E_INVALID_ARGUMENT` (ids outside the vocabulary, clipSkip out of range)
   */
  async encodeIds(ids: Int32Array, shape: [number, number], options: { clipSkip?: number } = {}): Promise<Tensor> {
    const [B, T] = shape;
    if (!Number.isSafeInteger(B) || !Number.isSafeInteger(T) || B < 1 || T < 1 || ids.length !== B * T) {
      throw new DiffusionAttentionError('E_SHAPE', `ids has ${ids.length} entries, shape [${B}, ${T}] needs ${B * T}`);
    }
    const clipSkip = options.clipSkip ?? 1;
    return new Tensor(await awaitNative(() => this.native.encodeIds(ids, B, T, clipSkip)));
  }

  /**
   * Tokenizes `prompts` with the model's tokenizer (padded to max_position_embeddings) and encodes them.
   * @throws DiffusionAttentionError `E_MODEL_FORMAT` when the model has no tokenizer
   */
  async encode(prompts: readonly string[], options: { clipSkip?: number } = {}): Promise<Tensor> {
    if (!this.tokenizer) throw new DiffusionAttentionError('E_MODEL_FORMAT', 'this model has no tokenizer: use encodeIds');
    const { ids, shape } = this.tokenizer.encode(prompts);
    return this.encodeIds(ids, shape, options);
  }
}
