// What the CUDA model ops (native/ops/ops.h, namespace da::cuda::ops) share: element conversions
// for float32 / float16 / bfloat16 (round to nearest even, as native/cuda/convert.cu), the
// activations of ops.h in float32, a dtype switch for the launchers, grid sizes for grid-stride
// loops, the device facts the launchers choose kernels by, and size checks.
//
// Every op computes in float32 whatever its dtype (loads convert up, stores round once), so the
// float16 and bfloat16 results differ from a float32 run only by the rounding of inputs and output.
// All kernels run on cuda::stream() (stream.h), as native/cuda/convert.cu does, and do not
// synchronise: the stream orders them, and the first host read waits for them.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "../../core/dtype.h"
#include "../../core/error.h"
#include "../../ops/activation.h"
#include "../check.h"
#include "../elements.cuh"
#include "../stream.h"

namespace da::cuda::ops {

// ---- element conversions (../elements.cuh) ----

using cuda::from_float;
using cuda::to_float;

// ---- activations (ops/activation.h), float32 ----

__device__ __forceinline__ float silu(float x) { return x / (1.f + expf(-x)); }
// Exact GELU as 0.5 x erfc(-x / sqrt 2) = 0.5 x (1 + erf(x / sqrt 2)): the erfc form keeps its
// relative accuracy in the negative tail, where 1 + erf cancels.
__device__ __forceinline__ float gelu(float x) { return 0.5f * x * erfcf(-x * 0.70710678118654752f); }
__device__ __forceinline__ float quick_gelu(float x) { return x / (1.f + expf(-1.702f * x)); }

__device__ __forceinline__ float activate(float x, Activation act) {
  switch (act) {
    case Activation::Silu: return silu(x);
    case Activation::Gelu: return gelu(x);
    case Activation::QuickGelu: return quick_gelu(x);
    case Activation::None: break;
  }
  return x;
}

// ---- launch helpers ----

// fn(T{}) with T the element type of `dtype` (float, __half, __nv_bfloat16).
template <typename Fn>
void with_dtype(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::Float32: return fn(float{});
    case DType::Float16: return fn(__half{});
    case DType::BFloat16: return fn(__nv_bfloat16{});
  }
}

// fn(B{}) with B an unsigned integer as wide as one element: the data-movement kernels copy bits.
template <typename Fn>
void with_bits(DType dtype, Fn&& fn) {
  if (dtype_size(dtype) == 4) return fn(uint32_t{});
  return fn(uint16_t{});
}

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n items: enough to fill any GPU, few enough that each
// thread does a handful of items. n >= 1.
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < (int64_t(1) << 16) ? blocks : (int64_t(1) << 16));
}

// Facts about the current device that kernel choices depend on.
struct DeviceInfo {
  int major = 0;  // compute capability
  int sms = 1;    // multiprocessors
};
inline DeviceInfo device_info() {
  int device = 0;
  DeviceInfo d;
  DA_CUDA_CHECK(cudaGetDevice(&device));
  DA_CUDA_CHECK(cudaDeviceGetAttribute(&d.major, cudaDevAttrComputeCapabilityMajor, device));
  DA_CUDA_CHECK(cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, device));
  return d;
}

// The checks ops.cpp has made are repeated here only where a kernel's memory safety depends on a
// bound ops.cpp does not state (32-bit index math, grid limits).
inline void require(bool ok, const char* op, const std::string& what) {
  if (!ok) fail(ErrorCode::Shape, std::string(op) + " on CUDA: " + what);
}

constexpr int64_t kIntMax = 0x7fffffff;

}  // namespace da::cuda::ops
