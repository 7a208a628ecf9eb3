#include "unet.h"

#include <cmath>
#include <cstring>

#include "../core/backend.h"
#include "../core/error.h"
#include "../ops/attention.h"
#include "../ops/ops.h"

namespace da {

namespace {

constexpr float kTransformerNormEps = 1e-6f;  // Transformer2DModel's GroupNorm
constexpr float kLayerNormEps = 1e-5f;        // BasicTransformerBlock norm1-3
constexpr int kFeedForwardMult = 4;           // FeedForward(dim, mult=4) with GEGLU

std::string at(const std::string& prefix, const char* part, size_t index) { return prefix + "." + part + "." + std::to_string(index); }

}  // namespace

// One forward pass: the controls resolved per layer and where the reports go.
struct UNet2DConditionModel::Pass {
  std::vector<const LayerControl*> control;  // by layer index; null = plain attention
  const Tensor* context = nullptr;           // [B, T, cross_attention_dim]
  const Tensor* negative_context = nullptr;  // NAG's, or null
  std::vector<LayerReport>* reports = nullptr;
  Tensor temb_act;  // SiLU(time embedding): every resnet's time_emb_proj input
};

UNet2DConditionModel::Conv UNet2DConditionModel::make_conv(const std::string& name, int64_t in, int64_t out, int k) {
  return {weights_.need(name + ".weight", {out, in, k, k}), weights_.need(name + ".bias", {out})};
}

UNet2DConditionModel::Linear UNet2DConditionModel::make_linear(const std::string& name, int64_t in, int64_t out, bool bias) {
  Linear l{weights_.need(name + ".weight", {out, in}), std::nullopt};
  if (bias) l.b = weights_.need(name + ".bias", {out});
  return l;
}

UNet2DConditionModel::Norm UNet2DConditionModel::make_norm(const std::string& name, int64_t c) {
  return {weights_.need(name + ".weight", {c}), weights_.need(name + ".bias", {c})};
}

UNet2DConditionModel::Resnet UNet2DConditionModel::make_resnet(const std::string& p, int64_t in, int64_t out) {
  const int64_t temb = int64_t(4) * config_.block_out_channels[0];
  Resnet r{make_norm(p + ".norm1", in), make_norm(p + ".norm2", out), make_conv(p + ".conv1", in, out, 3),
           make_conv(p + ".conv2", out, out, 3), make_linear(p + ".time_emb_proj", temb, out, true), std::nullopt};
  // A 1x1 conv shortcut exactly when the channel count changes (diffusers' use_in_shortcut default).
  if (in != out) r.shortcut = make_conv(p + ".conv_shortcut", in, out, 1);
  return r;
}

UNet2DConditionModel::Attention UNet2DConditionModel::make_attention(const std::string& p, int64_t dim, int64_t context_dim, bool cross, int heads,
                                                                    int level) {
  Attention a{static_cast<int>(layers_.size()), make_linear(p + ".to_q", dim, dim, false), make_linear(p + ".to_k", context_dim, dim, false),
              make_linear(p + ".to_v", context_dim, dim, false), make_linear(p + ".to_out.0", dim, dim, true)};
  layers_.push_back({p, cross, heads, dim / heads, level});
  return a;
}

UNet2DConditionModel::Transformer UNet2DConditionModel::make_transformer(const std::string& p, int64_t c, int heads, int level) {
  if (c % heads != 0) fail(ErrorCode::ModelFormat, "unet config: " + std::to_string(heads) + " heads do not divide " + std::to_string(c) + " channels at " + p);
  const std::string b = p + ".transformer_blocks.0";
  // proj_in / proj_out: Linear [out, in], or a 1x1 Conv2d [out, in, 1, 1] that is the same matrix.
  const auto projection = [&](const std::string& name) {
    if (config_.use_linear_projection) return make_linear(name, c, c, true);
    const Conv conv = make_conv(name, c, c, 1);
    return Linear{tensor_view(conv.w, {c, c}), conv.b};
  };
  const int64_t ff = int64_t(kFeedForwardMult) * c;
  Transformer t;
  t.norm = make_norm(p + ".norm", c);
  t.proj_in = projection(p + ".proj_in");
  t.norm1 = make_norm(b + ".norm1", c);
  t.attn1 = make_attention(b + ".attn1", c, c, false, heads, level);
  t.norm2 = make_norm(b + ".norm2", c);
  t.attn2 = make_attention(b + ".attn2", c, config_.cross_attention_dim, true, heads, level);
  t.norm3 = make_norm(b + ".norm3", c);
  t.ff_in = make_linear(b + ".ff.net.0.proj", c, 2 * ff, true);
  t.ff_out = make_linear(b + ".ff.net.2", ff, c, true);
  t.proj_out = projection(p + ".proj_out");
  return t;
}

UNet2DConditionModel::UNet2DConditionModel(const UNetConfig& c, Weights weights) : config_(c), weights_(std::move(weights)) {
  const size_t n = c.block_out_channels.size();
  if (n == 0 || c.down_cross_attention.size() != n || c.up_cross_attention.size() != n || c.heads.size() != n) {
    fail(ErrorCode::ModelFormat, "unet config: block_out_channels, down/up block types and heads need one entry per level");
  }
  if (c.in_channels < 1 || c.out_channels < 1 || c.layers_per_block < 1 || c.norm_num_groups < 1 || c.cross_attention_dim < 1) {
    fail(ErrorCode::ModelFormat, "unet config: channel counts, layers_per_block and norm_num_groups must be positive");
  }
  for (size_t i = 0; i < n; ++i) {
    if (c.block_out_channels[i] < 1 || c.block_out_channels[i] % c.norm_num_groups != 0 || c.heads[i] < 1) {
      fail(ErrorCode::ModelFormat, "unet config: norm_num_groups must divide every block_out_channels entry and heads must be positive");
    }
  }
  const std::vector<int>& ch = c.block_out_channels;
  const int64_t c0 = ch[0], temb = 4 * c0;
  conv_in_ = make_conv("conv_in", c.in_channels, c0, 3);
  time_linear_1_ = make_linear("time_embedding.linear_1", c0, temb, true);
  time_linear_2_ = make_linear("time_embedding.linear_2", temb, temb, true);

  int64_t out = c0;
  for (size_t i = 0; i < n; ++i) {
    const std::string p = "down_blocks." + std::to_string(i);
    const int64_t in = out;
    out = ch[i];
    Block b;
    for (int j = 0; j < c.layers_per_block; ++j) {
      b.resnets.push_back(make_resnet(at(p, "resnets", j), j == 0 ? in : out, out));
      if (c.down_cross_attention[i]) b.attentions.push_back(make_transformer(at(p, "attentions", j), out, c.heads[i], static_cast<int>(i)));
    }
    if (i + 1 < n) b.resample = make_conv(p + ".downsamplers.0.conv", out, out, 3);
    down_.push_back(std::move(b));
  }

  const int64_t top = ch[n - 1];
  mid_.resnets.push_back(make_resnet("mid_block.resnets.0", top, top));
  mid_.attentions.push_back(make_transformer("mid_block.attentions.0", top, c.heads[n - 1], static_cast<int>(n - 1)));
  mid_.resnets.push_back(make_resnet("mid_block.resnets.1", top, top));

  // Up block i mirrors down level n-1-i; each resnet takes the running map concatenated with a skip.
  out = top;
  for (size_t i = 0; i < n; ++i) {
    const size_t level = n - 1 - i;
    const std::string p = "up_blocks." + std::to_string(i);
    const int64_t prev = out, skip_in = ch[level == 0 ? 0 : level - 1];
    out = ch[level];
    Block b;
    const int count = c.layers_per_block + 1;
    for (int j = 0; j < count; ++j) {
      const int64_t skip = j == count - 1 ? skip_in : out;
      b.resnets.push_back(make_resnet(at(p, "resnets", j), (j == 0 ? prev : out) + skip, out));
      if (c.up_cross_attention[i]) b.attentions.push_back(make_transformer(at(p, "attentions", j), out, c.heads[level], static_cast<int>(level)));
    }
    if (i + 1 < n) b.resample = make_conv(p + ".upsamplers.0.conv", out, out, 3);
    up_.push_back(std::move(b));
  }
  conv_norm_out_ = make_norm("conv_norm_out", c0);
  conv_out_ = make_conv("conv_out", c0, c.out_channels, 3);
}

// ResnetBlock2D (time_embedding_norm "default", output_scale_factor 1):
// conv2(silu(norm2(conv1(silu(norm1(x))) + time_emb_proj(silu(temb))))) + shortcut(x).
Tensor UNet2DConditionModel::resnet(const Resnet& r, const Tensor& x, const Tensor& temb_act) const {
  const int g = config_.norm_num_groups;
  const float eps = config_.norm_eps;
  Tensor h = ops::conv2d(ops::group_norm(x, g, eps, &r.norm1.w, &r.norm1.b, true), r.conv1.w, &r.conv1.b, {1, 1, 1, 1, 1});
  h = ops::add(h, ops::linear(temb_act, r.time_emb_proj.w, &*r.time_emb_proj.b));
  const Tensor shortcut = r.shortcut ? ops::conv2d(x, r.shortcut->w, &r.shortcut->b, {}) : x;
  return ops::conv2d(ops::group_norm(h, g, eps, &r.norm2.w, &r.norm2.b, true), r.conv2.w, &r.conv2.b, {1, 1, 1, 1, 1},
                     {Activation::None, &shortcut});
}

// One attention module on normalised tokens x [B, N, C] (context [B, T, D]; x itself for attn1);
// returns residual + to_out(attention), where the module output may come from, or go to, the
// layer's T-GATE cache.
Tensor UNet2DConditionModel::attention(const Attention& a, const Tensor& x, const Tensor& residual, const Tensor& context, Pass& pass, int64_t gh,
                                       int64_t gw) const {
  const AttentionLayerInfo& info = layers_[a.layer];
  const LayerControl* ctl = pass.control[a.layer];
  const int64_t B = x.shape[0], N = x.shape[1], C = x.shape[2], T = context.shape[1], H = info.heads, d = info.head_dim;
  const LayerCacheMode mode = ctl ? ctl->cache_mode : LayerCacheMode::None;

  if (mode == LayerCacheMode::Replay) {
    std::optional<Tensor> cached;
    {
      std::lock_guard<std::mutex> lock(ctl->cache->mutex);
      cached = ctl->cache->value;
    }
    if (!cached || cached->shape != x.shape) {
      fail(ErrorCode::InvalidArgument, info.name + ": replay needs a recorded output of shape [" + std::to_string(B) + ", " + std::to_string(N) +
                                           ", " + std::to_string(C) + "], the cache holds " + (cached ? cached->describe() : std::string("nothing")));
    }
    return ops::add(*cached, residual);
  }

  // [rows, C] -> [B, heads, rows/B, d] for the attention op, and back.
  const auto heads = [&](const Tensor& t, int64_t tokens) { return ops::permute(tensor_view(t, {B, tokens, H, d}), {0, 2, 1, 3}); };
  AttentionCall call;
  call.q = heads(ops::linear(x, a.to_q.w), N);
  call.k = heads(ops::linear(context, a.to_k.w), T);
  call.v = heads(ops::linear(context, a.to_v.w), T);
  call.scale = 1.f / std::sqrt(static_cast<float>(d));
  if (ctl) {
    call.afm = ctl->afm;
    call.afm.grid_h = static_cast<int>(gh);
    call.afm.grid_w = static_cast<int>(gw);
    call.guidance = ctl->guidance;
    if (call.guidance.kind == GuidanceKind::Nag) {
      const Tensor& neg = *pass.negative_context;
      call.guidance.k_neg = heads(ops::linear(neg, a.to_k.w), neg.shape[1]);
      call.guidance.v_neg = heads(ops::linear(neg, a.to_v.w), neg.shape[1]);
    }
    call.capture = ctl->capture;
    call.capture.grid_h = static_cast<int>(gh);
    call.capture.grid_w = static_cast<int>(gw);
  }
  check_call(call);
  AttentionResult result = da::attention(call);
  if (pass.reports && (call.afm.enabled || call.capture.enabled)) {
    pass.reports->push_back({info.name, result.entropy, result.gain_low, result.gain_high, static_cast<int>(gh), static_cast<int>(gw),
                             std::move(result.concentration), std::move(result.spectrum)});
  }
  const Tensor merged = tensor_view(ops::permute(result.out, {0, 2, 1, 3}), {B, N, C});
  if (mode == LayerCacheMode::None) return ops::linear(merged, a.to_out.w, &*a.to_out.b, {Activation::None, &residual});

  const Tensor out = ops::linear(merged, a.to_out.w, &*a.to_out.b);
  {
    std::lock_guard<std::mutex> lock(ctl->cache->mutex);
    if (mode == LayerCacheMode::RecordMean) {
      ctl->cache->value = ops::average_halves(ctl->mean_rows > 0 ? ops::slice(out, 0, 0, ctl->mean_rows) : out);
    } else {
      ctl->cache->value = out;
    }
  }
  return ops::add(out, residual);
}

// Transformer2DModel with one BasicTransformerBlock, on x [B, C, H, W].
Tensor UNet2DConditionModel::transformer(const Transformer& t, const Tensor& x, Pass& pass) const {
  const int64_t B = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3], N = H * W;
  const Tensor normed = ops::group_norm(x, config_.norm_num_groups, kTransformerNormEps, &t.norm.w, &t.norm.b);
  Tensor h = ops::linear(ops::permute(tensor_view(normed, {B, C, N}), {0, 2, 1}), t.proj_in.w, &*t.proj_in.b);  // [B, N, C]
  const Tensor n1 = ops::layer_norm(h, kLayerNormEps, &t.norm1.w, &t.norm1.b);
  h = attention(t.attn1, n1, h, n1, pass, H, W);
  // A T-GATE replay returns the cached module output without reading its input, so norm2 is skipped
  // too (the official code still computes it; the result is the same).
  const LayerControl* ctl2 = pass.control[t.attn2.layer];
  const bool replay = ctl2 && ctl2->cache_mode == LayerCacheMode::Replay;
  h = attention(t.attn2, replay ? h : ops::layer_norm(h, kLayerNormEps, &t.norm2.w, &t.norm2.b), h, *pass.context, pass, H, W);
  const Tensor ff = ops::geglu(ops::linear(ops::layer_norm(h, kLayerNormEps, &t.norm3.w, &t.norm3.b), t.ff_in.w, &*t.ff_in.b));
  h = ops::linear(ff, t.ff_out.w, &*t.ff_out.b, {Activation::None, &h});
  const Tensor out = ops::linear(h, t.proj_out.w, &*t.proj_out.b);  // [B, N, C]
  return ops::add(tensor_view(ops::permute(out, {0, 2, 1}), {B, C, H, W}), x);
}

Tensor UNet2DConditionModel::forward(const Tensor& sample, const std::vector<float>& timesteps, const Tensor& context,
                                     const UNetControls& controls, std::vector<LayerReport>* reports) const {
  const UNetConfig& c = config_;
  const size_t n = c.block_out_channels.size();
  const int64_t factor = int64_t(1) << (n - 1);
  if (sample.shape.size() != 4 || sample.shape[1] != c.in_channels || sample.shape[0] < 1 || sample.shape[2] < 1 || sample.shape[3] < 1 ||
      sample.shape[2] % factor != 0 || sample.shape[3] % factor != 0) {
    fail(ErrorCode::Shape, "sample must be [B, " + std::to_string(c.in_channels) + ", H, W] with H and W positive multiples of " +
                               std::to_string(factor) + ", got " + sample.describe());
  }
  const int64_t B = sample.shape[0];
  if (context.shape.size() != 3 || context.shape[0] != B || context.shape[1] < 1 || context.shape[2] != c.cross_attention_dim) {
    fail(ErrorCode::Shape, "context must be [" + std::to_string(B) + ", T, " + std::to_string(c.cross_attention_dim) + "], got " + context.describe());
  }
  if (static_cast<int64_t>(timesteps.size()) != B) fail(ErrorCode::Shape, "one timestep per batch entry is needed");
  // The inputs where the weights are, in their dtype, for this call.
  const Device device = weights_.device();
  const Tensor placed_context = weights_.place(context);

  Pass pass;
  pass.context = &placed_context;
  pass.reports = reports;
  pass.control.assign(layers_.size(), nullptr);
  for (const auto& [name, ctl] : controls.layers) {
    size_t i = 0;
    while (i < layers_.size() && layers_[i].name != name) ++i;
    if (i == layers_.size()) fail(ErrorCode::InvalidArgument, "controls name an unknown attention layer: " + name);
    const AttentionLayerInfo& info = layers_[i];
    if (ctl.afm.enabled && !info.cross) fail(ErrorCode::InvalidArgument, name + ": AFM acts on cross-attention (attn2) layers only");
    if (ctl.guidance.kind == GuidanceKind::Pag && info.cross) fail(ErrorCode::InvalidArgument, name + ": PAG perturbs self-attention (attn1) layers only");
    if (ctl.guidance.kind == GuidanceKind::Nag) {
      if (!info.cross) fail(ErrorCode::InvalidArgument, name + ": NAG acts on cross-attention (attn2) layers only");
      const std::optional<Tensor>& neg = controls.negative_context;
      if (!neg || neg->shape.size() != 3 || neg->shape[0] != B || neg->shape[1] < 1 || neg->shape[2] != c.cross_attention_dim) {
        fail(ErrorCode::Shape, name + ": NAG needs negativeContext [" + std::to_string(B) + ", T-, " + std::to_string(c.cross_attention_dim) + "]");
      }
    }
    if (ctl.cache_mode != LayerCacheMode::None && !ctl.cache) fail(ErrorCode::InvalidArgument, name + ": a cache mode needs a cache");
    const int64_t mean_rows = ctl.mean_rows > 0 ? ctl.mean_rows : B;
    if (ctl.cache_mode == LayerCacheMode::RecordMean && (mean_rows % 2 != 0 || mean_rows > B)) {
      fail(ErrorCode::Shape, name + ": record-mean needs an even number of rows (two guidance halves) within the batch");
    }
    pass.control[i] = &ctl;
  }
  std::optional<Tensor> placed_negative;
  if (controls.negative_context) {
    placed_negative = weights_.place(*controls.negative_context);
    pass.negative_context = &*placed_negative;
  }

  // The timesteps as float32 [B] where the weights are: the sinusoid is computed from device memory,
  // which a recorded graph can read again with the next step's values.
  Tensor t = tensor_empty({B}, DType::Float32, Device::Cpu);
  std::memcpy(t.data(), timesteps.data(), timesteps.size() * sizeof(float));
  if (device != Device::Cpu) t = tensor_to(t, DType::Float32, device);

  const auto body = [&](const Tensor& s, const Tensor& ts, const Tensor& ctx) {
    Pass p = pass;
    p.context = &ctx;
    return run(s, ts, p);
  };
  // Plain calls on CUDA replay a recorded graph once their shape repeats (unet_graphs.h); calls
  // with controls change their work from step to step and run directly.
  if (device == Device::Cuda && controls.layers.empty() && !controls.negative_context) {
    return graphs_->run(backend_for(device), weights_.place(sample), t, placed_context, body);
  }
  return body(weights_.place(sample), t, placed_context);
}

// The layers on operands already placed: sample [B, C, H, W] and timesteps float32 [B] where the
// weights are, pass.context set.
Tensor UNet2DConditionModel::run(const Tensor& sample, const Tensor& timesteps, Pass& pass) const {
  const UNetConfig& c = config_;
  const DType dtype = weights_.dtype();
  // Timestep embedding: sinusoid [B, c0] in float32 (diffusers computes it in float32 and casts it to
  // the sample's dtype, as a float16 sin of t ~ 1000 would lose the phase), then linear_1, SiLU, linear_2.
  TimestepParams tp;
  tp.dim = c.block_out_channels[0];
  tp.flip_sin_to_cos = c.flip_sin_to_cos;
  tp.downscale_freq_shift = c.freq_shift;
  Tensor sinusoid = ops::timestep_embedding(timesteps, tp);
  if (dtype != DType::Float32) sinusoid = tensor_to(sinusoid, dtype, weights_.device());
  const Tensor emb = ops::linear(ops::linear(sinusoid, time_linear_1_.w, &*time_linear_1_.b, {Activation::Silu, nullptr}),
                                 time_linear_2_.w, &*time_linear_2_.b);
  pass.temb_act = ops::silu(emb);

  Tensor x = ops::conv2d(sample, conv_in_.w, &conv_in_.b, {1, 1, 1, 1, 1});
  std::vector<Tensor> skips{x};
  for (const Block& b : down_) {
    for (size_t j = 0; j < b.resnets.size(); ++j) {
      x = resnet(b.resnets[j], x, pass.temb_act);
      if (!b.attentions.empty()) x = transformer(b.attentions[j], x, pass);
      skips.push_back(x);
    }
    if (b.resample) {
      x = ops::conv2d(x, b.resample->w, &b.resample->b, {2, 1, 1, 1, 1});
      skips.push_back(x);
    }
  }
  x = resnet(mid_.resnets[0], x, pass.temb_act);
  x = transformer(mid_.attentions[0], x, pass);
  x = resnet(mid_.resnets[1], x, pass.temb_act);
  for (const Block& b : up_) {
    for (size_t j = 0; j < b.resnets.size(); ++j) {
      x = ops::concat({x, skips.back()}, 1);
      skips.pop_back();
      x = resnet(b.resnets[j], x, pass.temb_act);
      if (!b.attentions.empty()) x = transformer(b.attentions[j], x, pass);
    }
    if (b.resample) x = ops::conv2d(ops::upsample_nearest2x(x), b.resample->w, &b.resample->b, {1, 1, 1, 1, 1});
  }
  x = ops::group_norm(x, c.norm_num_groups, c.norm_eps, &conv_norm_out_.w, &conv_norm_out_.b, true);
  return ops::conv2d(x, conv_out_.w, &conv_out_.b, {1, 1, 1, 1, 1});
}

}  // namespace da
