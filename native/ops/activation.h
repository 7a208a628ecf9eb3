// The activations of the model ops (ops.h), in a header of its own because the SIMD kernels
// (native/cpu/ops/kernels.h) take it too and must not see the standard-library types ops.h brings.
#pragma once

namespace da {

// Element-wise activations, also available as a fused epilogue of linear and conv2d.
enum class Activation {
  None,
  Silu,       // x * sigmoid(x)                      torch.nn.SiLU (diffusers act_fn "silu")
  Gelu,       // 0.5 x (1 + erf(x / sqrt 2)), exact  torch.nn.GELU() (approximate="none")
  QuickGelu,  // x * sigmoid(1.702 x)                transformers' QuickGELUActivation (CLIP ViT-L)
};

}  // namespace da
