// Element conversions between the stored dtypes (float32, float16, bfloat16) and the float32 every
// CUDA kernel computes in: to_float widens exactly; from_float rounds to nearest even, as
// native/cuda/convert.cu and the CPU backend do. Shared by the attention family (attention/) and the
// model ops (ops/).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace da::cuda {

template <typename T>
__device__ __forceinline__ float to_float(T v);
template <>
__device__ __forceinline__ float to_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ float to_float<__half>(__half v) { return __half2float(v); }
template <>
__device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

}  // namespace da::cuda
