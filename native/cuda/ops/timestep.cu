// timestep_embedding on CUDA (ops.h), step for step as diffusers' get_timestep_embedding computes
// it in float32 and as the CPU backend (native/cpu/ops/timestep.cpp) reproduces it: the exponent,
// the frequency and the argument are each rounded to float32 (no fused multiply-add can form:
// every step is a lone product or quotient), and exp, sin and cos are taken in double and rounded
// once, because sin of an argument near 1000 magnifies a one-ulp difference about a thousandfold.
// One thread per (timestep, frequency); the timesteps are read in the op's dtype and the
// embedding is stored in it.
#include <cmath>

#include "../../ops/ops.h"
#include "common.cuh"

namespace da::cuda::ops {

namespace {

template <typename T>
__global__ void timestep_kernel(const T* __restrict__ ts, T* __restrict__ y, int64_t n, int half, int dim,
                                float neg_log_period, float divisor, float scale, bool flip) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n * half; i += stride) {
    const int64_t r = i / half;
    const int k = static_cast<int>(i - r * half);
    const float exponent = neg_log_period * static_cast<float>(k);
    const float freq = static_cast<float>(exp(static_cast<double>(exponent / divisor)));
    const float arg = scale * (to_float(ts[r]) * freq);
    const float s = static_cast<float>(sin(static_cast<double>(arg)));
    const float c = static_cast<float>(cos(static_cast<double>(arg)));
    T* row = y + r * dim;
    row[k] = from_float<T>(flip ? c : s);
    row[half + k] = from_float<T>(flip ? s : c);
    if (dim % 2 == 1 && k == 0) row[dim - 1] = from_float<T>(0.f);  // F.pad(emb, (0, 1, 0, 0))
  }
}

}  // namespace

void timestep_embedding(const Tensor& timesteps, const TimestepParams& p, Tensor& out) {
  const int64_t n = timesteps.shape[0];
  const int half = p.dim / 2;
  if (n == 0) return;
  // exponent = -math.log(max_period) * arange(half) (float32), then / (half - shift) (float32).
  const float neg_log_period = static_cast<float>(-std::log(static_cast<double>(p.max_period)));
  const float divisor = static_cast<float>(half) - p.downscale_freq_shift;
  with_dtype(timesteps.dtype, [&](auto tag) {
    using T = decltype(tag);
    timestep_kernel<T><<<grid_for(n * half), kThreads, 0, cuda::stream()>>>(static_cast<const T*>(timesteps.data()),
                                                                     static_cast<T*>(out.data()), n, half, p.dim,
                                                                     neg_log_period, divisor, p.scale, p.flip_sin_to_cos);
    DA_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace da::cuda::ops
