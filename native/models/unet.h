// UNet2DConditionModel of Stable Diffusion 1.x / 2.x (diffusers' unet_2d_condition.py,
// unet_2d_blocks.py, transformer_2d.py, attention.py and resnet.py semantics), driven by its config:
// conv_in; sinusoidal time projection (flip_sin_to_cos, freq_shift) and time_embedding (linear,
// SiLU, linear); down blocks CrossAttnDownBlock2D / DownBlock2D of ResnetBlock2D (+ Transformer2DModel)
// and a stride-2 Downsample2D on all but the last level; UNetMidBlock2DCrossAttn; up blocks
// CrossAttnUpBlock2D / UpBlock2D over the skip stack with a nearest-2x Upsample2D on all but the
// last; GroupNorm + SiLU + conv_out. Transformer2DModel: GroupNorm (eps 1e-6), proj_in / proj_out as
// Linear or 1x1 conv (`use_linear_projection`; both run as a Linear on tokens), one
// BasicTransformerBlock (attn1 self, attn2 cross, GEGLU feed-forward, pre-LayerNorm eps 1e-5).
//
// Every weight is resolved and shape-checked when the model is built (E_MODEL_FORMAT naming it),
// so a forward pass never meets a missing or mis-sized tensor. The model runs where its weights are
// (Weights: the CPU in float32, or CUDA in float32, float16 or bfloat16); both backends compute
// attention scores and softmax in float32 whatever the dtype, which is what `upcast_attention` asks for.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../core/tensor.h"
#include "unet_controls.h"
#include "unet_graphs.h"
#include "weights.h"

namespace da {

struct UNetConfig {
  int in_channels = 4, out_channels = 4;
  std::vector<int> block_out_channels;
  std::vector<bool> down_cross_attention;  // per level: CrossAttnDownBlock2D (true) or DownBlock2D
  std::vector<bool> up_cross_attention;    // per up block (deepest first): CrossAttnUpBlock2D or UpBlock2D
  // Heads per down level (diffusers: num_attention_heads or, by its old naming, attention_head_dim);
  // the mid block uses the last entry, up block i the reversed list. Head width = channels / heads.
  std::vector<int> heads;
  int layers_per_block = 2, norm_num_groups = 32;
  float norm_eps = 1e-5f;
  int cross_attention_dim = 768;
  bool use_linear_projection = false;
  bool flip_sin_to_cos = true;
  float freq_shift = 0.f;
};

// One attention module of the model, for the sampler to address by name.
struct AttentionLayerInfo {
  std::string name;  // e.g. "mid_block.attentions.0.transformer_blocks.0.attn2"
  bool cross = false;
  int heads = 0;
  int64_t head_dim = 0;
  int level = 0;  // grid = sample size / 2^level
};

class UNet2DConditionModel {
 public:
  // Throws E_MODEL_FORMAT for an inconsistent config or a missing / mis-sized weight.
  UNet2DConditionModel(const UNetConfig& config, Weights weights);

  // sample [B, in_channels, H, W] (H, W multiples of 2^(levels-1)), timesteps [B] (fractional
  // allowed), context [B, T, cross_attention_dim] -> model output [B, out_channels, H, W].
  // `reports` receives one entry per layer that ran AFM or capture, in execution order.
  // Inputs on another device or in another dtype are converted to the weights' for the call; the
  // output is on the weights' device in their dtype.
  // Throws E_SHAPE for bad operands and E_INVALID_ARGUMENT for controls that name an
  // unknown layer or ask a layer for something it cannot do.
  Tensor forward(const Tensor& sample, const std::vector<float>& timesteps, const Tensor& context,
                 const UNetControls& controls, std::vector<LayerReport>* reports) const;

  const std::vector<AttentionLayerInfo>& attention_layers() const { return layers_; }

  // Whether plain calls on CUDA replay a recorded CUDA graph once their shape repeats (default on;
  // unet_graphs.h). No effect on the CPU.
  void set_cuda_graphs(bool enabled) { graphs_->set_enabled(enabled); }
  bool cuda_graphs() const { return graphs_->enabled(); }
  int64_t cuda_graph_replays() const { return graphs_->replays(); }

 private:
  struct Norm { Tensor w, b; };
  struct Linear { Tensor w; std::optional<Tensor> b; };
  struct Conv { Tensor w, b; };
  struct Resnet { Norm norm1, norm2; Conv conv1, conv2; Linear time_emb_proj; std::optional<Conv> shortcut; };
  struct Attention { int layer = 0; Linear to_q, to_k, to_v, to_out; };
  struct Transformer { Norm norm, norm1, norm2, norm3; Linear proj_in, proj_out, ff_in, ff_out; Attention attn1, attn2; };
  struct Block { std::vector<Resnet> resnets; std::vector<Transformer> attentions; std::optional<Conv> resample; };

  struct Pass;  // one forward: operands, controls, reports

  Resnet make_resnet(const std::string& prefix, int64_t in, int64_t out);
  Transformer make_transformer(const std::string& prefix, int64_t channels, int heads, int level);
  Attention make_attention(const std::string& prefix, int64_t dim, int64_t context_dim, bool cross, int heads, int level);
  Conv make_conv(const std::string& name, int64_t in, int64_t out, int k);
  Linear make_linear(const std::string& name, int64_t in, int64_t out, bool bias);
  Norm make_norm(const std::string& name, int64_t c);

  Tensor run(const Tensor& sample, const Tensor& timesteps, Pass& pass) const;
  Tensor resnet(const Resnet& r, const Tensor& x, const Tensor& temb_act) const;
  Tensor transformer(const Transformer& t, const Tensor& x, Pass& pass) const;
  Tensor attention(const Attention& a, const Tensor& x, const Tensor& residual, const Tensor& context, Pass& pass, int64_t grid_h,
                   int64_t grid_w) const;

  UNetConfig config_;
  Weights weights_;
  // Mutable state behind a const forward(): the recordings and their buffers (thread-safe).
  std::unique_ptr<UNetGraphs> graphs_ = std::make_unique<UNetGraphs>();
  std::vector<AttentionLayerInfo> layers_;
  Conv conv_in_, conv_out_;
  Linear time_linear_1_, time_linear_2_;
  Norm conv_norm_out_;
  std::vector<Block> down_, up_;
  Block mid_;
};

}  // namespace da
