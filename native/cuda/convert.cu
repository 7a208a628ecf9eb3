#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "check.h"
#include "convert.cuh"

namespace da::cuda {

namespace {

template <typename T>
__device__ inline float load_as_float(const T* p, size_t i);
template <>
__device__ inline float load_as_float<float>(const float* p, size_t i) { return p[i]; }
template <>
__device__ inline float load_as_float<__half>(const __half* p, size_t i) { return __half2float(p[i]); }
template <>
__device__ inline float load_as_float<__nv_bfloat16>(const __nv_bfloat16* p, size_t i) { return __bfloat162float(p[i]); }

template <typename T>
__device__ inline void store_from_float(T* p, size_t i, float v);
template <>
__device__ inline void store_from_float<float>(float* p, size_t i, float v) { p[i] = v; }
template <>
__device__ inline void store_from_float<__half>(__half* p, size_t i, float v) { p[i] = __float2half_rn(v); }
template <>
__device__ inline void store_from_float<__nv_bfloat16>(__nv_bfloat16* p, size_t i, float v) { p[i] = __float2bfloat16_rn(v); }

template <typename Src, typename Dst>
__global__ void convert_kernel(const Src* __restrict__ src, Dst* __restrict__ dst, size_t n) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    store_from_float(dst, i, load_as_float(src, i));
  }
}

template <typename Src, typename Dst>
void launch(const void* src, void* dst, size_t n, cudaStream_t stream) {
  constexpr int kThreads = 256;
  const size_t blocks = (n + kThreads - 1) / kThreads;
  const unsigned grid = static_cast<unsigned>(blocks < 65535 ? blocks : 65535);
  convert_kernel<Src, Dst><<<grid, kThreads, 0, stream>>>(static_cast<const Src*>(src), static_cast<Dst*>(dst), n);
  DA_CUDA_CHECK(cudaGetLastError());
}

template <typename Src>
void launch_to(DType dst_type, const void* src, void* dst, size_t n, cudaStream_t stream) {
  switch (dst_type) {
    case DType::Float32: return launch<Src, float>(src, dst, n, stream);
    case DType::Float16: return launch<Src, __half>(src, dst, n, stream);
    case DType::BFloat16: return launch<Src, __nv_bfloat16>(src, dst, n, stream);
  }
}

}  // namespace

void convert(void* dst, DType dst_type, const void* src, DType src_type, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  if (dst_type == src_type) {
    DA_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * dtype_size(src_type), cudaMemcpyDeviceToDevice, stream));
    return;
  }
  switch (src_type) {
    case DType::Float32: return launch_to<float>(dst_type, src, dst, n, stream);
    case DType::Float16: return launch_to<__half>(dst_type, src, dst, n, stream);
    case DType::BFloat16: return launch_to<__nv_bfloat16>(dst_type, src, dst, n, stream);
  }
}

}  // namespace da::cuda
