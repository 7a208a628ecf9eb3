// Element-wise ops on CUDA (ops.h): activation, geglu, add (same shape or [N, C] over [N, C, *]),
// average_halves. Grid-stride loops over the flat output with 64-bit indices; every element is
// loaded as float32, computed in float32 and rounded once to the dtype. Memory-bound: one read
// per operand element and one write, no shared memory.
#include "../../ops/ops.h"
#include "common.cuh"

namespace da::cuda::ops {

namespace {

__device__ __forceinline__ int64_t first_index() { return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

template <typename T>
__global__ void activation_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n, Activation act) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) y[i] = from_float<T>(activate(to_float(x[i]), act));
}

// x [rows, 2h] -> y [rows, h]: y = x[:, :h] * gelu(x[:, h:]).
template <typename T>
__global__ void geglu_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n, int64_t h) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    const int64_t r = i / h, j = i - r * h;
    const T* row = x + 2 * h * r;
    y[i] = from_float<T>(to_float(row[j]) * gelu(to_float(row[h + j])));
  }
}

// plane == 0: b has a's shape; else b holds one value per plane of `plane` elements of a.
template <typename T>
__global__ void add_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, int64_t n, int64_t plane) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    y[i] = from_float<T>(to_float(a[i]) + to_float(b[plane ? i / plane : i]));
  }
}

template <typename T>
__global__ void average_halves_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t half) {
  for (int64_t i = first_index(); i < half; i += grid_stride()) y[i] = from_float<T>(0.5f * (to_float(x[i]) + to_float(x[half + i])));
}

}  // namespace

void activation(const Tensor& x, Activation act, Tensor& out) {
  const int64_t n = static_cast<int64_t>(out.numel());
  if (n == 0) return;
  with_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    activation_kernel<T><<<grid_for(n), kThreads, 0, cuda::stream()>>>(static_cast<const T*>(x.data()), static_cast<T*>(out.data()), n, act);
    DA_CUDA_CHECK(cudaGetLastError());
  });
}

void geglu(const Tensor& x, Tensor& out) {
  const int64_t n = static_cast<int64_t>(out.numel()), h = out.shape.back();
  if (n == 0) return;
  with_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    geglu_kernel<T><<<grid_for(n), kThreads, 0, cuda::stream()>>>(static_cast<const T*>(x.data()), static_cast<T*>(out.data()), n, h);
    DA_CUDA_CHECK(cudaGetLastError());
  });
}

void add(const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t n = static_cast<int64_t>(out.numel());
  if (n == 0) return;
  // b [N, C] over a [N, C, *]: one value per (n, c) plane (ops.cpp allows nothing else).
  int64_t plane = 0;
  if (b.shape != a.shape) plane = n / static_cast<int64_t>(b.numel());
  with_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    add_kernel<T><<<grid_for(n), kThreads, 0, cuda::stream()>>>(static_cast<const T*>(a.data()), static_cast<const T*>(b.data()),
                                                        static_cast<T*>(out.data()), n, plane);
    DA_CUDA_CHECK(cudaGetLastError());
  });
}

void average_halves(const Tensor& x, Tensor& out) {
  const int64_t half = static_cast<int64_t>(out.numel());
  if (half == 0) return;
  with_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    average_halves_kernel<T><<<grid_for(half), kThreads, 0, cuda::stream()>>>(static_cast<const T*>(x.data()), static_cast<T*>(out.data()), half);
    DA_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace da::cuda::ops
