// AutoencoderKL (diffusers' autoencoder_kl.py and vae.py semantics): Encoder (conv_in, down blocks of
// ResnetBlock2D + a stride-2 Downsample2D with (0,1,0,1) padding, mid block resnet/attention/resnet,
// GroupNorm + SiLU, conv_out) and quant_conv; post_quant_conv and Decoder (conv_in, mid block, up
// blocks of layers_per_block + 1 resnets + nearest-2x Upsample2D, GroupNorm + SiLU, conv_out).
// GroupNorm eps 1e-6 throughout, as diffusers' VAE blocks use. No scaling_factor is applied here.
#pragma once

#include <vector>

#include "../core/tensor.h"
#include "weights.h"

namespace da {

struct VaeConfig {
  int in_channels = 3, out_channels = 3, latent_channels = 4;
  std::vector<int> block_out_channels;
  int layers_per_block = 1, norm_num_groups = 32;
};

class AutoencoderKL {
 public:
  AutoencoderKL(const VaeConfig& config, Weights weights);

  // Inputs on another device or in another dtype are converted to the weights' for the call
  // (Weights::place); outputs are on the weights' device in their dtype.

  // latents [B, latent_channels, h, w] -> image [B, out_channels, h * 2^(levels-1), w * 2^(levels-1)].
  Tensor decode(const Tensor& latents) const;
  // image [B, in_channels, H, W] (H, W divisible by 2^(levels-1)) -> mean and log-variance of the
  // latent distribution, each [B, latent_channels, h, w] (log-variance clamped to [-30, 20]).
  std::pair<Tensor, Tensor> encode(const Tensor& image) const;

 private:
  Tensor conv(const Tensor& x, const std::string& name, int64_t in, int64_t out, int k, int stride, int pad_before, int pad_after,
              const Tensor* residual = nullptr) const;
  Tensor norm(const Tensor& x, const std::string& name, int64_t c, bool silu) const;
  Tensor resnet(const Tensor& x, const std::string& name, int64_t in, int64_t out) const;
  Tensor attention_block(const Tensor& x, const std::string& name, int64_t c) const;
  Tensor mid(const Tensor& x, const std::string& part, int64_t c) const;

  VaeConfig config_;
  Weights weights_;
};

}  // namespace da
