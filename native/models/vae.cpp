#include "vae.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "../core/error.h"
#include "../ops/attention.h"
#include "../ops/ops.h"

namespace da {

namespace {
constexpr float kEps = 1e-6f;
}

AutoencoderKL::AutoencoderKL(const VaeConfig& c, Weights weights) : config_(c), weights_(std::move(weights)) {
  if (c.block_out_channels.empty() || c.layers_per_block < 1 || c.norm_num_groups < 1) {
    fail(ErrorCode::ModelFormat, "vae config: block_out_channels, layers_per_block and norm_num_groups must be set");
  }
  for (int ch : c.block_out_channels) {
    if (ch < 1 || ch % c.norm_num_groups != 0) fail(ErrorCode::ModelFormat, "vae config: norm_num_groups must divide every block_out_channels entry");
  }
  // Both directions once on the smallest input look every weight up through Weights::need, so a
  // missing or mis-sized tensor is E_MODEL_FORMAT now rather than at first use.
  const int64_t factor = int64_t(1) << (c.block_out_channels.size() - 1);
  const auto zeros = [&](const std::vector<int64_t>& shape) {
    Tensor t = tensor_empty(shape, DType::Float32, Device::Cpu);
    std::fill_n(static_cast<float*>(t.data()), t.numel(), 0.f);
    return t;
  };
  decode(zeros({1, c.latent_channels, 1, 1}));
  encode(zeros({1, c.in_channels, factor, factor}));
}

Tensor AutoencoderKL::conv(const Tensor& x, const std::string& name, int64_t in, int64_t out, int k, int stride, int pad_before,
                           int pad_after, const Tensor* residual) const {
  const Tensor& w = weights_.need(name + ".weight", {out, in, k, k});
  const Tensor& b = weights_.need(name + ".bias", {out});
  Conv2dParams p;
  p.stride = stride;
  p.pad_top = p.pad_left = pad_before;
  p.pad_bottom = p.pad_right = pad_after;
  return ops::conv2d(x, w, &b, p, {Activation::None, residual});
}

Tensor AutoencoderKL::norm(const Tensor& x, const std::string& name, int64_t c, bool silu) const {
  return ops::group_norm(x, config_.norm_num_groups, kEps, &weights_.need(name + ".weight", {c}), &weights_.need(name + ".bias", {c}), silu);
}

// ResnetBlock2D without a time embedding: conv2(silu(norm2(conv1(silu(norm1(x)))))) + shortcut(x).
Tensor AutoencoderKL::resnet(const Tensor& x, const std::string& p, int64_t in, int64_t out) const {
  Tensor h = conv(norm(x, p + ".norm1", in, true), p + ".conv1", in, out, 3, 1, 1, 1);
  const Tensor shortcut = in == out ? x : conv(x, p + ".conv_shortcut", in, out, 1, 1, 0, 0);
  return conv(norm(h, p + ".norm2", out, true), p + ".conv2", out, out, 3, 1, 1, 1, &shortcut);
}

// The mid block's single-head self-attention over the h*w positions, with its residual.
Tensor AutoencoderKL::attention_block(const Tensor& x, const std::string& p, int64_t c) const {
  const int64_t B = x.shape[0], H = x.shape[2], W = x.shape[3], N = H * W;
  const Tensor tokens = ops::permute(tensor_view(norm(x, p + ".group_norm", c, false), {B, c, N}), {0, 2, 1});  // [B, N, C]
  const auto proj = [&](const char* n) {
    return tensor_view(ops::linear(tokens, weights_.need(p + "." + n + ".weight", {c, c}), &weights_.need(p + "." + n + ".bias", {c})), {B, 1, N, c});
  };
  AttentionCall call;
  call.q = proj("to_q");
  call.k = proj("to_k");
  call.v = proj("to_v");
  call.scale = 1.f / std::sqrt(static_cast<float>(c));
  const Tensor a = tensor_view(attention(call).out, {B, N, c});
  const Tensor o = ops::linear(a, weights_.need(p + ".to_out.0.weight", {c, c}), &weights_.need(p + ".to_out.0.bias", {c}));
  return ops::add(tensor_view(ops::permute(o, {0, 2, 1}), {B, c, H, W}), x);
}

Tensor AutoencoderKL::mid(const Tensor& x, const std::string& part, int64_t c) const {
  Tensor h = resnet(x, part + ".mid_block.resnets.0", c, c);
  h = attention_block(h, part + ".mid_block.attentions.0", c);
  return resnet(h, part + ".mid_block.resnets.1", c, c);
}

Tensor AutoencoderKL::decode(const Tensor& z) const {
  const VaeConfig& c = config_;
  const int L = static_cast<int>(c.block_out_channels.size());
  const int64_t lat = c.latent_channels, top = c.block_out_channels.back();
  if (z.shape.size() != 4 || z.shape[1] != lat) fail(ErrorCode::Shape, "latents must be [B, " + std::to_string(lat) + ", h, w], got " + z.describe());
  Tensor h = conv(conv(weights_.place(z), "post_quant_conv", lat, lat, 1, 1, 0, 0), "decoder.conv_in", lat, top, 3, 1, 1, 1);
  h = mid(h, "decoder", top);
  int64_t ch = top;
  for (int i = 0; i < L; ++i) {
    const std::string p = "decoder.up_blocks." + std::to_string(i);
    const int64_t out = c.block_out_channels[L - 1 - i];
    for (int j = 0; j <= c.layers_per_block; ++j) {
      h = resnet(h, p + ".resnets." + std::to_string(j), ch, out);
      ch = out;
    }
    if (i < L - 1) h = conv(ops::upsample_nearest2x(h), p + ".upsamplers.0.conv", ch, ch, 3, 1, 1, 1);
  }
  return conv(norm(h, "decoder.conv_norm_out", ch, true), "decoder.conv_out", ch, c.out_channels, 3, 1, 1, 1);
}

std::pair<Tensor, Tensor> AutoencoderKL::encode(const Tensor& x) const {
  const VaeConfig& c = config_;
  const int L = static_cast<int>(c.block_out_channels.size());
  const int64_t lat = c.latent_channels, top = c.block_out_channels.back(), factor = int64_t(1) << (L - 1);
  if (x.shape.size() != 4 || x.shape[1] != c.in_channels || x.shape[2] % factor != 0 || x.shape[3] % factor != 0) {
    fail(ErrorCode::Shape, "images must be [B, " + std::to_string(c.in_channels) + ", H, W] with H and W multiples of " +
                               std::to_string(factor) + ", got " + x.describe());
  }
  int64_t ch = c.block_out_channels[0];
  Tensor h = conv(weights_.place(x), "encoder.conv_in", c.in_channels, ch, 3, 1, 1, 1);
  for (int i = 0; i < L; ++i) {
    const std::string p = "encoder.down_blocks." + std::to_string(i);
    const int64_t out = c.block_out_channels[i];
    for (int j = 0; j < c.layers_per_block; ++j) {
      h = resnet(h, p + ".resnets." + std::to_string(j), ch, out);
      ch = out;
    }
    // Downsample2D with padding 0 after F.pad(x, (0, 1, 0, 1)): pad 0 before, 1 after.
    if (i < L - 1) h = conv(h, p + ".downsamplers.0.conv", ch, ch, 3, 2, 0, 1);
  }
  h = mid(h, "encoder", top);
  h = conv(norm(h, "encoder.conv_norm_out", top, true), "encoder.conv_out", top, 2 * lat, 3, 1, 1, 1);
  const Tensor moments = conv(h, "quant_conv", 2 * lat, 2 * lat, 1, 1, 0, 0);
  const Tensor sliced = ops::slice(moments, 1, lat, 2 * lat);
  // DiagonalGaussianDistribution clamps the log-variance to [-30, 20]. On the host, in float32: the
  // log-variance is small (latent channels x h x w) and encode runs once per input image.
  const bool host = sliced.device() == Device::Cpu && sliced.dtype == DType::Float32;
  Tensor logvar = host ? sliced : tensor_to(sliced, DType::Float32, Device::Cpu);
  float* lv = static_cast<float*>(logvar.data());
  for (uint64_t i = 0; i < logvar.numel(); ++i) lv[i] = std::min(20.f, std::max(-30.f, lv[i]));
  return {ops::slice(moments, 1, 0, lat), host ? logvar : tensor_to(logvar, sliced.dtype, sliced.device())};
}

}  // namespace da
