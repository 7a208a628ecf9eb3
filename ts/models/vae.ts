import { DiffusionAttentionError, awaitNative, callNative } from '../errors.js';
import type { NativeVae } from '../native/binding.js';
import { loadNative } from '../native/load.js';
import { Tensor } from '../tensor.js';
import type { VaeConfig } from './config.js';
import type { Component } from './layout.js';

/**
 * The VAE of a pipeline: diffusers' AutoencoderKL run natively (native/models/vae.h), in
 * diffusers' conventions: NCHW float32 CPU tensors, images in [-1, 1], no scaling factor applied
 * (the pipeline divides latents by `config.scaling_factor` before decoding, as diffusers does).
 */
export class Vae {
  private constructor(private readonly native: NativeVae, readonly config: VaeConfig) {}

  /** Loads every weight of the component as float32 and builds the native model. @throws `E_MODEL_FORMAT` */
  static async load(component: Component<VaeConfig>): Promise<Vae> {
    const c = component.config;
    const weights: Record<string, Tensor['native']> = {};
    for (const name of component.weights.names()) weights[name] = (await component.weights.load(name)).native;
    const { binding } = loadNative();
    const native = callNative(() => new binding.NativeVae({
      inChannels: c.in_channels, outChannels: c.out_channels, latentChannels: c.latent_channels,
      blockOutChannels: c.block_out_channels, layersPerBlock: c.layers_per_block, normNumGroups: c.norm_num_groups,
    }, weights));
    return new Vae(native, c);
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
   * @throws DiffusionAttentionError `E_SHAPE`, `E_DTYPE` (float32 CPU tensors only for now)
   */
  async decode(latents: Tensor): Promise<Tensor> {
    check(latents);
    return new Tensor(await awaitNative(() => this.native.decode(latents.native)));
  }

  /**
   * images `[B, 3, H, W]` in [-1, 1] -> the latent distribution's mean and log-variance.
   * @throws DiffusionAttentionError `E_SHAPE`, `E_DTYPE`
   */
  async encode(images: Tensor): Promise<{ mean: Tensor; logvar: Tensor }> {
    check(images);
    const [mean, logvar] = await awaitNative(() => this.native.encode(images.native));
    return { mean: new Tensor(mean), logvar: new Tensor(logvar) };
  }
}

function check(t: Tensor): void {
  if (t.dtype !== 'float32' || t.device !== 'cpu') {
    throw new DiffusionAttentionError('E_DTYPE', `the VAE runs on float32 CPU tensors so far, got ${t.dtype} on ${t.device}`);
  }
}
