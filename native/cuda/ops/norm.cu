// group_norm and layer_norm on CUDA (ops.h). Statistics in float32 whatever the dtype, in two
// passes as the float64 reference computes them (the mean, then the mean of squared deviations),
// so a mean far from zero costs no precision; the third pass normalises, fused with the affine
// and, for group_norm, with the SiLU that follows it in every UNet and VAE resnet. The passes
// after the first read data this block has just read (L1/L2).
//
//   group_norm: one 512-thread block per (image, group), its channels contiguous (C/G * S
//               elements). The UNet has N * 32 groups per call; a VAE decoder at 512 x 512 has
//               only 32 large groups, which then use 32 SMs (a split-group variant with a
//               cross-block reduction is the known next step if that shows in profiles).
//   layer_norm: one warp per row of D elements (a token's features), 8 rows per block.
#include "../../ops/ops.h"
#include "common.cuh"

namespace da::cuda::ops {

namespace {

constexpr int kGroupThreads = 512;
constexpr int kLayerRowsPerBlock = 8;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over the block, returned to every thread. All threads must call it.
__device__ float block_sum(float v) {
  __shared__ float partial[32];
  __shared__ float total;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float s = lane < warps ? partial[lane] : 0.f;
    s = warp_sum(s);
    if (lane == 0) total = s;
  }
  __syncthreads();
  const float r = total;
  __syncthreads();  // partial and total may be reused by the next call
  return r;
}

template <typename T>
__global__ void __launch_bounds__(kGroupThreads)
    group_norm_kernel(const T* __restrict__ x, T* __restrict__ y, const T* __restrict__ w, const T* __restrict__ b, int C,
                      int G, int64_t S, float eps, bool silu_after) {
  const int ng = blockIdx.x, n = ng / G, g = ng - n * G, cg = C / G;
  const int64_t base = (static_cast<int64_t>(n) * C + static_cast<int64_t>(g) * cg) * S;
  const int64_t L = cg * S;
  const T* xs = x + base;
  T* ys = y + base;

  float s = 0.f;
  for (int64_t i = threadIdx.x; i < L; i += blockDim.x) s += to_float(xs[i]);
  const float mean = block_sum(s) / static_cast<float>(L);
  float q = 0.f;
  for (int64_t i = threadIdx.x; i < L; i += blockDim.x) {
    const float d = to_float(xs[i]) - mean;
    q = fmaf(d, d, q);
  }
  const float var = block_sum(q) / static_cast<float>(L);
  const float rstd = 1.f / sqrtf(var + eps);

  const bool small = L <= kIntMax;  // 32-bit division for the channel of an element
  for (int64_t i = threadIdx.x; i < L; i += blockDim.x) {
    const int c = g * cg + (small ? static_cast<int>(i) / static_cast<int>(S) : static_cast<int>(i / S));
    const float scale = w ? rstd * to_float(w[c]) : rstd;
    const float shift = b ? to_float(b[c]) : 0.f;
    float v = fmaf(to_float(xs[i]) - mean, scale, shift);
    if (silu_after) v = silu(v);
    ys[i] = from_float<T>(v);
  }
}

template <typename T>
__global__ void __launch_bounds__(kLayerRowsPerBlock * 32)
    layer_norm_kernel(const T* __restrict__ x, T* __restrict__ y, const T* __restrict__ w, const T* __restrict__ b,
                      int64_t rows, int D, float eps) {
  const int lane = threadIdx.x & 31;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kLayerRowsPerBlock;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kLayerRowsPerBlock + (threadIdx.x >> 5); row < rows; row += step) {
    const T* xr = x + row * D;
    T* yr = y + row * D;
    float s = 0.f;
    for (int j = lane; j < D; j += 32) s += to_float(xr[j]);
    const float mean = warp_sum(s) / static_cast<float>(D);
    float q = 0.f;
    for (int j = lane; j < D; j += 32) {
      const float d = to_float(xr[j]) - mean;
      q = fmaf(d, d, q);
    }
    const float rstd = 1.f / sqrtf(warp_sum(q) / static_cast<float>(D) + eps);
    for (int j = lane; j < D; j += 32) {
      const float v = (to_float(xr[j]) - mean) * rstd;
      yr[j] = from_float<T>(w ? fmaf(v, to_float(w[j]), to_float(b[j])) : v);
    }
  }
}

}  // namespace

void group_norm(const Tensor& x, int num_groups, float eps, const Tensor* weight, const Tensor* bias, bool silu,
                Tensor& out) {
  if (out.numel() == 0) return;
  const int64_t N = x.shape[0], C = x.shape[1];
  const int64_t S = static_cast<int64_t>(x.numel()) / (N * C);  // positions per channel
  require(C <= kIntMax && N * num_groups <= kIntMax, "group_norm", "too many channels or groups");
  with_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    group_norm_kernel<T><<<static_cast<unsigned>(N * num_groups), kGroupThreads, 0, cuda::stream()>>>(
        static_cast<const T*>(x.data()), static_cast<T*>(out.data()), weight ? static_cast<const T*>(weight->data()) : nullptr,
        bias ? static_cast<const T*>(bias->data()) : nullptr, static_cast<int>(C), num_groups, S, eps, silu);
    DA_CUDA_CHECK(cudaGetLastError());
  });
}

void layer_norm(const Tensor& x, float eps, const Tensor* weight, const Tensor* bias, Tensor& out) {
  if (out.numel() == 0) return;
  const int64_t D = x.shape.back(), rows = static_cast<int64_t>(x.numel()) / D;
  require(D <= kIntMax - 32, "layer_norm", "the last dim must be below 2^31 - 32");  // lanes step j by 32
  with_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t blocks = (rows + kLayerRowsPerBlock - 1) / kLayerRowsPerBlock;
    const unsigned grid = static_cast<unsigned>(blocks < (int64_t(1) << 20) ? blocks : (int64_t(1) << 20));
    layer_norm_kernel<T><<<grid, kLayerRowsPerBlock * 32, 0, cuda::stream()>>>(
        static_cast<const T*>(x.data()), static_cast<T*>(out.data()), weight ? static_cast<const T*>(weight->data()) : nullptr,
        bias ? static_cast<const T*>(bias->data()) : nullptr, rows, static_cast<int>(D), eps);
    DA_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace da::cuda::ops
