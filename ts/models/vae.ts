import { DiffusionAttentionError, awaitNative, callNative } from '../errors.js';
import type { NativeVae } from '../native/binding.js';
import { loadNative } from '../native/load.js';
import { Tensor } from '../tensor.js';
import type { VaeConfig } from './config.js';
import type { Component } from './layout.js';
import { CPU_FLOAT32, loadWeights, type Placement } from './placement.js';

/**
 * The VAE of a pipeline: diffusers' AutoencoderKL run natively (native/models/vae.h), in
 * diffusers' conventions: NCHW tensors, images in [-1, 1], no scaling factor applied (the pipeline
 * divides latents by `config.scaling_factor` before decoding, as diffusers does). It runs where its
 * weights were loaded ({@link Vae.placement}); inputs are converted there and outputs stay there.
 */
export class Vae {
  private constructor(
    private readonly native: NativeVae,
    readonly config: VaeConfig,
    /** Where the weights are and the dtype the model computes in. */
    readonly placement: Placement,
  ) {}

  /**
   * Loads every weight of the component in the placement's dtype onto its device (default float32
   * on the CPU; see {@link loadWeights}) and builds the native model.
   * @throws DiffusionAttentionError `E_MODEL_FORMAT`, `E_NO_CUDA`, `E_RESOURCE`
   */
  static async load(component: Component<VaeConfig>, placement: Placement = CPU_FLOAT32): Promise<Vae> {
    const c = component.config;
    const weights = await loadWeights(component.weights, placement);
    const { binding } = loadNative();
    const native = callNative(() => new binding.NativeVae({
      inChannels: c.in_channels, outChannels: c.out_channels, latentChannels: c.latent_channels,
      blockOutChannels: c.block_out_channels, layersPerBlock: c.layers_per_block, normNumGroups: c.norm_num_groups,
    }, weights));
    return new Vae(native, c, placement);
  }

  /**
   * Releases the native model and its weights once calls in flight finish; later calls fail with
   * `E_DISPOSED`. (Garbage collection does the same when the object becomes unreachable.)
   */
  dispose(): void {
    this.native.dispose();
  }

  /**
   * latents `[B, latent_channels, h, w]` -> images `[B, 3, h*f, w*f]` (f = 2^(levels-1), 8 for SD).
   * @throws DiffusionAttentionError `E_SHAPE`, `E_DTYPE` (not a Tensor)
   */
  async decode(latents: Tensor): Promise<Tensor> {
    return new Tensor(await this.call(latents, (x) => this.native.decode(x)));
  }

  /**
   * images `[B, 3, H, W]` in [-1, 1] -> the latent distribution's mean and log-variance.
   * @throws DiffusionAttentionError `E_SHAPE`, `E_DTYPE` (not a Tensor)
   */
  async encode(images: Tensor): Promise<{ mean: Tensor; logvar: Tensor }> {
    const [mean, logvar] = await this.call(images, (x) => this.native.encode(x));
    return { mean: new Tensor(mean), logvar: new Tensor(logvar) };
  }

  /** Runs `fn` on `input`; the native model converts an input placed elsewhere inside its job. */
  private async call<R>(input: Tensor, fn: (x: Tensor['native']) => Promise<R>): Promise<R> {
    if (!(input instanceof Tensor)) throw new DiffusionAttentionError('E_DTYPE', 'the VAE takes a Tensor');
    return awaitNative(() => fn(input.native));
  }
}
