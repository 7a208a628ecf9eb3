/**
 * Activation memory of a generation, estimated before any native work so that a request over the
 * pipeline's memory budget fails early with `E_RESOURCE` and the estimate (weights are mapped and
 * counted separately). An upper-bound model of what the engine holds at its peak, in elements of the
 * model's dtype (4 bytes for float32 on the CPU, 2 for float16 or bfloat16 on CUDA):
 *
 * - UNet: the skip stack (every down-path output the up path consumes) plus, at the busiest level,
 *   the transient tensors of a transformer block: the normalised tokens, q, k, v and their head
 *   permutations, the attention output and its merge, the GEGLU projection (8C) and its output (4C),
 *   about 20 x [B, N, C], with half again for allocator slack (measured on an SD1.5-sized UNet at
 *   32x32 and 48x48 latents: resident growth 95 and 126 MiB against estimates of 85 and 200 MiB);
 *   resnets hold fewer.
 * - VAE decoder: about six [B, C, H, W] tensors at its widest level (norm, conv, shortcut, concat).
 */
import type { UNetConfig, VaeConfig } from '../models/config.js';

/** Bytes of activations one UNet call on a `[batch, in, height, width]` sample holds at its peak. */
export function unetActivationBytes(c: UNetConfig, batch: number, height: number, width: number, elementBytes = 4): number {
  const levels = c.block_out_channels.length;
  let skips = c.block_out_channels[0]! * height * width;  // conv_in
  let peak = 0;
  for (let i = 0; i < levels; i++) {
    const n = (height >> i) * (width >> i);
    const ch = c.block_out_channels[i]!;
    skips += c.layers_per_block * ch * n;
    if (i + 1 < levels) skips += ch * (n >> 2);
    peak = Math.max(peak, (c.down_block_types[i] === 'CrossAttnDownBlock2D' ? 30 : 6) * ch * n);
  }
  return elementBytes * batch * (skips + peak);
}

/** Bytes of activations the VAE decoder holds at its peak for `batch` images of `height` x `width`. */
export function vaeDecodeBytes(c: VaeConfig, batch: number, height: number, width: number, elementBytes = 4): number {
  const levels = c.block_out_channels.length;
  let peak = 0;
  for (let i = 0; i < levels; i++) {
    const n = (height >> i) * (width >> i);
    peak = Math.max(peak, 6 * c.block_out_channels[i]! * n);
  }
  return elementBytes * batch * peak;
}
