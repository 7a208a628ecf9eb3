// Implementation of dft.cuh: one thread per output element, looping over the contracted axis;
// consecutive threads take consecutive `inner` elements, so every input read is coalesced and the
// twiddle read is a broadcast. The problems are small (grids up to ~128 per axis); the band split
// of a 64 x 64 SD1.5 layer restricts the forward transform to ~25 frequencies per axis.
#include <type_traits>

#include "dft.cuh"
#include "spectral.cuh"

namespace da::cuda::attn {

namespace {

// (a b) mod n without 64-bit division for the usual grid sizes.
__device__ __forceinline__ int twiddle_index(unsigned a, unsigned b, unsigned n) {
  if (n <= 65536u) return static_cast<int>((a * b) % n);
  return static_cast<int>((static_cast<unsigned long long>(a) * b) % n);
}

template <typename In, typename Out>
__global__ void dft_axis_kernel(const In* __restrict__ in, Out* __restrict__ out, const DftAxis a) {
  const long long total = a.outer * a.n_out * a.inner;
  const long long step = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += step) {
    const long long i = idx % a.inner, rest = idx / a.inner;
    const int j = static_cast<int>(rest % a.n_out);
    const long long o = rest / a.n_out;
    const unsigned fj = a.f_out ? a.f_out[j] : j;
    const In* src = in + o * a.n_in * a.inner + i;
    float re = 0.f, im = 0.f;
    for (int t = 0; t < a.n_in; ++t) {
      const float2 w = a.twiddle[twiddle_index(fj, a.f_in ? a.f_in[t] : t, a.n)];
      const float ws = a.inverse ? w.y : -w.y;  // exp(-+ i theta) = cos theta -+ i sin theta
      const In v = src[t * a.inner];
      if constexpr (std::is_same_v<In, float2>) {
        re += v.x * w.x - v.y * ws;
        im += v.x * ws + v.y * w.x;
      } else {
        const float x = to_float(v);
        re += x * w.x;
        im += x * ws;
      }
    }
    if constexpr (std::is_same_v<Out, float2>) {
      out[idx] = make_float2(re * a.scale, im * a.scale);
    } else {
      out[idx] = re * a.scale;
    }
  }
}

}  // namespace

template <typename In, typename Out>
void dft_axis(const In* in, Out* out, const DftAxis& axis) {
  const long long total = axis.outer * axis.n_out * axis.inner;
  if (total == 0) return;
  constexpr int kThreads = 256;
  const long long blocks = std::min<long long>((total + kThreads - 1) / kThreads, 1 << 20);
  dft_axis_kernel<In, Out><<<static_cast<unsigned>(blocks), kThreads, 0, cuda::stream()>>>(in, out, axis);
  DA_CUDA_CHECK(cudaGetLastError());
}

template void dft_axis<float, float2>(const float*, float2*, const DftAxis&);
template void dft_axis<__half, float2>(const __half*, float2*, const DftAxis&);
template void dft_axis<__nv_bfloat16, float2>(const __nv_bfloat16*, float2*, const DftAxis&);
template void dft_axis<float2, float2>(const float2*, float2*, const DftAxis&);
template void dft_axis<float2, float>(const float2*, float*, const DftAxis&);

const float2* upload_twiddles(Workspace& ws, int n) { return ws.upload(spectral::twiddles(n)); }

}  // namespace da::cuda::attn
