// The model ops other than attention (ops/attention.h): what UNet2DConditionModel, CLIPTextModel
// and AutoencoderKL are built from. Models call the functions in da::ops; each checks its operands
// (device, dtype, shapes, options; E_DEVICE, E_DTYPE, E_SHAPE, E_INVALID_ARGUMENT naming the
// problem), allocates the output on the operands' device and runs the backend of that device
// (da::cpu::ops, da::cuda::ops).
//
// Conventions: tensors are dense and row-major. Images are NCHW; token matrices are [rows, features]
// (any leading dims fold into rows). Weights keep PyTorch's layouts: Linear [out, in], Conv2d
// [out, in, kh, kw]. The CPU backend computes in float32 and takes float32 operands only; every op
// returns a new tensor and never writes its inputs.
#pragma once

#include <cstdint>
#include <vector>

#include "../core/tensor.h"
#include "activation.h"

namespace da {

// What linear and conv2d do with a finished output element y = (x W^T + b) or the conv sum plus
// bias: y = act(y) + residual. `residual` has the output's shape (the block's skip input).
struct Epilogue {
  Activation act = Activation::None;
  const Tensor* residual = nullptr;
};

// Zero padding of conv2d per side; (0, 1, 0, 1) is the VAE encoder's Downsample2D
// (F.pad(x, (0, 1, 0, 1)) followed by a stride-2 conv without padding).
struct Conv2dParams {
  int stride = 1;
  int pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
};

// diffusers' get_timestep_embedding arguments (embeddings.py).
struct TimestepParams {
  int dim = 0;
  bool flip_sin_to_cos = false;
  float downscale_freq_shift = 1.f;
  float scale = 1.f;
  float max_period = 10000.f;
};

namespace ops {

// linear: y[..., out] = x[..., in] W^T + b, then the epilogue.   torch.nn.Linear / F.linear
//   x [..., in] (at least 1-D), weight [out, in], bias [out] or null; y [..., out].
//   Used by attention projections (to_q/k/v/out), FF (ff.net.0.proj with geglu, ff.net.2), CLIP
//   q/k/v/out_proj and mlp.fc1 (epilogue quick_gelu or gelu) / fc2, time embedding (epilogue silu),
//   SD2 proj_in / proj_out, VAE mid-block attention.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor* bias = nullptr, const Epilogue& epilogue = {});

// conv2d: cross-correlation, groups 1, dilation 1, zero padding.           torch.nn.Conv2d
//   x [N, C, H, W], weight [O, C, kh, kw], bias [O] or null;
//   y [N, O, Ho, Wo], Ho = (H + pad_top + pad_bottom - kh) / stride + 1 (floor), likewise Wo.
//   stride >= 1; each padding in [0, kernel size). Used with 3x3 pad 1 (conv_in, resnet conv1/2,
//   Upsample2D), 3x3 stride 2 (Downsample2D; VAE encoder with pads 0,1,0,1), 1x1 (conv_shortcut,
//   SD1 proj_in/out, VAE quant_conv/post_quant_conv). epilogue.residual is [N, O, Ho, Wo].
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& params,
              const Epilogue& epilogue = {});

// group_norm: x [N, C, *] (at least 2-D), C divisible by num_groups; per (n, group) over its C/G
// channels and all trailing positions: y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c]
// (biased variance), then SiLU when `silu`. weight, bias [C], both or neither (affine).
//   torch.nn.GroupNorm; UNet resnets GroupNorm(32, eps 1e-5) + SiLU, Transformer2DModel norm
//   (eps 1e-6), VAE GroupNorm(32, eps 1e-6).
Tensor group_norm(const Tensor& x, int num_groups, float eps, const Tensor* weight, const Tensor* bias, bool silu = false);

// layer_norm over the last dim: x [..., D]; y = (x - mean) / sqrt(var + eps) * weight + bias.
// weight, bias [D], both or neither.   torch.nn.LayerNorm(D, eps); BasicTransformerBlock norm1-3
// (eps 1e-5), CLIP layer_norm1/2 and final_layer_norm (eps 1e-5).
Tensor layer_norm(const Tensor& x, float eps, const Tensor* weight, const Tensor* bias);

// Element-wise activations, any shape (act != None).   F.silu / F.gelu / QuickGELU
Tensor activation(const Tensor& x, Activation act);
inline Tensor silu(const Tensor& x) { return activation(x, Activation::Silu); }
inline Tensor gelu(const Tensor& x) { return activation(x, Activation::Gelu); }
inline Tensor quick_gelu(const Tensor& x) { return activation(x, Activation::QuickGelu); }

// geglu: x [..., 2H] -> y [..., H], y = x[..., :H] * gelu(x[..., H:]) (exact GELU).
//   diffusers GEGLU.forward after its proj: hidden_states, gate = proj(x).chunk(2, dim=-1).
Tensor geglu(const Tensor& x);

// upsample_nearest2x: x [N, C, H, W] -> y [N, C, 2H, 2W], y[.., i, j] = x[.., i/2, j/2].
//   F.interpolate(scale_factor=2.0, mode="nearest") in Upsample2D.
Tensor upsample_nearest2x(const Tensor& x);

// add: y = a + b with b of a's shape, or b [N, C] broadcast over a [N, C, *] (ResnetBlock2D's
// hidden_states + temb[:, :, None, None]). Residual connections not fused into an epilogue.
Tensor add(const Tensor& a, const Tensor& b);

// average_halves: x [2B, ...] -> y [B, ...], y = (x[:B] + x[B:]) / 2. T-GATE's cache of the gate
// step: the mean of the unconditional and conditional halves of a guidance batch (tgate.md §1).
Tensor average_halves(const Tensor& x);

// timestep_embedding: timesteps [n] (float, fractional allowed) -> y [n, dim], diffusers
// get_timestep_embedding with its float32 steps: f_i = exp(-ln(max_period) * i / (dim/2 - shift)),
// a = scale * t * f_i, y = [sin a, cos a] ([cos a, sin a] when flip_sin_to_cos), a zero column
// appended when dim is odd. UNet: Timesteps(320, flip_sin_to_cos=True, downscale_freq_shift=0).
//   dim >= 2; dim/2 - shift must be nonzero.
Tensor timestep_embedding(const Tensor& timesteps, const TimestepParams& params);

// concat along `dim` (negative counts from the end): every input has the same rank and the same
// sizes except along dim. torch.cat; the UNet up blocks' torch.cat([h, skip], dim=1).
Tensor concat(const std::vector<Tensor>& inputs, int dim);

// slice: x[..., begin:end, ...] along `dim` (0 <= begin <= end <= size), copied.   torch.narrow;
// e.g. the VAE encoder's mean half of the moments (DiagonalGaussianDistribution, deterministic).
Tensor slice(const Tensor& x, int dim, int64_t begin, int64_t end);

// permute: y = x.permute(perm).contiguous(); perm is a permutation of 0..rank-1. NCHW <-> tokens
// ([N, C, HW] -> [N, HW, C] in Transformer2DModel), heads split/merge ([B, N, h, d] <-> [B, h, N, d]).
Tensor permute(const Tensor& x, const std::vector<int>& perm);

// embedding: rows of table [V, D] gathered by ids (each in [0, V)) -> y [ids.size(), D].
//   torch.nn.Embedding; CLIP token_embedding and position_embedding.
Tensor embedding(const Tensor& table, const std::vector<int64_t>& ids);

}  // namespace ops

// The backends. Operands arrive checked (same device, float32 on the CPU, shapes consistent) with
// `out` allocated at its final shape; each function only computes. One declaration list for both,
// so the CUDA backend cannot drift from the CPU one.
#define DA_OPS_BACKEND_DECLARATIONS                                                                              \
  void linear(const Tensor& x, const Tensor& weight, const Tensor* bias, const Epilogue& ep, Tensor& out);      \
  void conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p,                  \
              const Epilogue& ep, Tensor& out);                                                                  \
  void group_norm(const Tensor& x, int num_groups, float eps, const Tensor* weight, const Tensor* bias,         \
                  bool silu, Tensor& out);                                                                       \
  void layer_norm(const Tensor& x, float eps, const Tensor* weight, const Tensor* bias, Tensor& out);           \
  void activation(const Tensor& x, Activation act, Tensor& out);                                                 \
  void geglu(const Tensor& x, Tensor& out);                                                                      \
  void upsample_nearest2x(const Tensor& x, Tensor& out);                                                         \
  void add(const Tensor& a, const Tensor& b, Tensor& out);                                                       \
  void average_halves(const Tensor& x, Tensor& out);                                                             \
  void timestep_embedding(const Tensor& timesteps, const TimestepParams& p, Tensor& out);                        \
  void concat(const std::vector<Tensor>& inputs, int dim, Tensor& out);                                          \
  void slice(const Tensor& x, int dim, int64_t begin, Tensor& out);                                              \
  void permute(const Tensor& x, const std::vector<int>& perm, Tensor& out);                                      \
  void embedding(const Tensor& table, const std::vector<int64_t>& ids, Tensor& out);

namespace cpu::ops {
DA_OPS_BACKEND_DECLARATIONS
}
namespace cuda::ops {
DA_OPS_BACKEND_DECLARATIONS
}

#undef DA_OPS_BACKEND_DECLARATIONS

}  // namespace da
