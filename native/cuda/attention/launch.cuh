// Host-side interface between the files of the CUDA attention family: the scratch workspace, the
// launchers each file provides, and the parameters of the row kernel. attention.cu composes them.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "../../core/tensor.h"
#include "../../ops/attention.h"
#include "../check.h"
#include "common.cuh"

namespace da::cuda::attn {

// Device scratch for one call: tensors from tensor_empty, kept alive until the call has
// synchronised (the Workspace outlives every kernel that uses it).
class Workspace {
 public:
  template <typename U>
  U* alloc(size_t count) {
    const size_t words = (count * sizeof(U) + sizeof(float) - 1) / sizeof(float);
    tensors_.push_back(tensor_empty({static_cast<int64_t>(words)}, DType::Float32, Device::Cuda));
    return static_cast<U*>(tensors_.back().data());
  }
  template <typename U>
  U* upload(const std::vector<U>& host) {
    U* dev = alloc<U>(host.size());
    // From pageable memory the runtime stages the bytes before returning, without waiting for the
    // device (cudaMemcpy would synchronise the stream first).
    if (!host.empty()) DA_CUDA_CHECK(cudaMemcpyAsync(dev, host.data(), host.size() * sizeof(U), cudaMemcpyHostToDevice, cuda::stream()));
    return dev;
  }

 private:
  std::vector<Tensor> tensors_;
};

// ---- flash.cuh (instantiated per dtype in flash_f32.cu, flash_f16.cu, flash_bf16.cu) ----

enum class FlashKind { Attend, Entropy };

template <typename T>
void launch_flash_typed(const AttnParams& p, FlashKind kind, bool tensor_cores);
extern template void launch_flash_typed<float>(const AttnParams&, FlashKind, bool);
extern template void launch_flash_typed<__half>(const AttnParams&, FlashKind, bool);
extern template void launch_flash_typed<__nv_bfloat16>(const AttnParams&, FlashKind, bool);

// tensor_cores: use mma.sync for float16/bfloat16 (the device is sm_80+); float32 always uses FMAs.
inline void launch_flash(DType dtype, const AttnParams& p, FlashKind kind, bool tensor_cores) {
  switch (dtype) {
    case DType::Float32: return launch_flash_typed<float>(p, kind, false);
    case DType::Float16: return launch_flash_typed<__half>(p, kind, tensor_cores);
    case DType::BFloat16: return launch_flash_typed<__nv_bfloat16>(p, kind, tensor_cores);
  }
}

// ---- rows.cu: one warp per query row, the whole logit row in shared memory ----

enum class RowMode {
  Stats,    // capture statistics only, no output
  Softmax,  // out = softmax(z) v
  Gag,      // out = GAG combination of the softmax and alpha-entmax outputs (guidance.md §2)
};

struct RowParams {
  RowMode mode = RowMode::Softmax;
  // Logits [B, H, N, nk] already scaled (the AFM reference path); nullptr = compute scale q'.k.
  const float* logits = nullptr;
  // GAG
  bool sparsemax = false;  // alpha = 2 (else 1.5)
  float gag_scale = 0.f, eta = 0.f, zeta = 0.f;
  // Capture: concentration of each row [B, H, N] (mean of its top_k probabilities), or nullptr.
  float* concentration = nullptr;
  int top_k = 0;
};

// Throws InvalidArgument when even one row per block does not fit in shared memory.
void launch_rows(DType dtype, const AttnParams& p, const RowParams& r);

// ---- band_split.cu: AFM fused path, L and D of every (b, h) query map ----

struct BandSplit {
  float* low;   // [B, H, N, d]
  float* mean;  // [B, H, d]
};
BandSplit band_split(Workspace& ws, DType dtype, const void* q, int slices, int d, const AfmParams& afm);

// ---- entropy.cu: the entropy gate ----

// Fills gains (device) from the unedited attention of p (q, k, mask, scale) and afm's gate.
void entropy_gate(Workspace& ws, DType dtype, bool tensor_cores, const AttnParams& p, const AfmParams& afm,
                  const std::vector<uint8_t>& mask, AfmGains* gains);

// ---- reference.cu: AFM reference path ----

// Materialises scale q k^T [B, H, N, nk] in float32 and filters every token's logit map over the
// grid by G in the full 2-D DFT domain. Returns the filtered logits (in ws).
float* reference_logits(Workspace& ws, DType dtype, const AttnParams& p, const AfmParams& afm);

// ---- guidance.cu: NAG combination (+ T-GATE record) ----

void nag_combine(DType dtype, const float* z_pos, const float* z_neg, void* out, void* cache, const GuidanceParams& g,
                 int B, int H, int N, int d);

// ---- capture.cu: head mean and radial power spectrum ----

// concentration_rows [B, H, N] (device) -> result.concentration [B*N], result.spectrum [B*bins] (host).
void capture_maps(Workspace& ws, const float* concentration_rows, int B, int H, const CaptureParams& c,
                  AttentionResult& result);

}  // namespace da::cuda::attn
