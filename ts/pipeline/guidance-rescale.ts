/**
 * Rescaled classifier-free guidance (Lin et al. 2024, "Common Diffusion Noise Schedules and Sample
 * Steps are Flawed", https://arxiv.org/abs/2305.08891, section 3.4; diffusers' `guidance_rescale`,
 * `rescale_noise_cfg` in the Stable Diffusion pipeline). At a high guidance scale the guided output
 * grows far beyond the spread the model was trained to produce, which over-exposes the picture,
 * most of all under a zero-terminal-SNR schedule. The guided output x_cfg is scaled to the standard
 * deviation of the conditional output x_pos and blended back:
 *
 *   x_rescaled = x_cfg * std(x_pos) / std(x_cfg),   x_final = phi * x_rescaled + (1 - phi) * x_cfg,
 *
 * the standard deviations taken per image over all its elements (channels and pixels), with
 * Bessel's correction as torch.std. The paper uses phi = 0.7.
 */

/** Sample standard deviation (n - 1 in the denominator) of `a[from, from + n)`, in float64. */
function std(a: Float32Array, from: number, n: number): number {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += a[from + i]!;
  mean /= n;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const d = a[from + i]! - mean;
    sq += d * d;
  }
  return Math.sqrt(sq / (n - 1));
}

/**
 * Rescales `guided` in place, image by image: `guided` and `cond` hold `images` consecutive images of
 * `perImage` elements each (float32, the model output's layout [images, C, H, W]); `phi` in [0, 1].
 * An image whose guided output is constant (std 0) is left as it is.
 */
export function rescaleGuidance(guided: Float32Array, cond: Float32Array, images: number, perImage: number, phi: number): void {
  for (let b = 0; b < images; b++) {
    const from = b * perImage;
    const sGuided = std(guided, from, perImage);
    if (!(sGuided > 0)) continue;
    const factor = phi * (std(cond, from, perImage) / sGuided) + (1 - phi);
    for (let i = from; i < from + perImage; i++) guided[i] = guided[i]! * factor;
  }
}
