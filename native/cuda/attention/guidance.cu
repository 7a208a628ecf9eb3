// NAG combination (arXiv 2505.21179; guidance.md §4), after the two attentions
// Zp = attention(q', k, v, mask) and Zn = attention(q', k_neg, v_neg, mask_neg), both float32
// [B, H, N, d]. For each (b, x), over all heads and channels together (the whole token feature):
//   Zt = s Zp - (s - 1) Zn;  a = |Zt|_1, p = |Zp|_1;  factor = a <= tau p ? 1 : tau p / a;
//   out = alpha (Zt factor) + (1 - alpha) Zp          (s = scale, alpha = nag_alpha)
// One warp per (b, x). With T-GATE record the warp takes the pair (b, b + B/2) and also writes the
// cache, the mean of the two stored (rounded) outputs, as the attention kernels do.
// The GAG combination lives in guidance.cuh (the row kernel's epilogue).
#include "launch.cuh"

namespace da::cuda::attn {

namespace {

struct NagArgs {
  float scale, tau, alpha;
  int B, H, N, d;
};

template <typename T>
__global__ void nag_kernel(const float* __restrict__ zp, const float* __restrict__ zn, T* __restrict__ out,
                           T* __restrict__ cache, const NagArgs a) {
  const long long warp = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  const int npass = cache ? 2 : 1;
  const long long rows = static_cast<long long>(cache ? a.B / 2 : a.B) * a.N;
  if (warp >= rows) return;  // whole warps
  const int x = static_cast<int>(warp % a.N), b0 = static_cast<int>(warp / a.N);
  const int feature = a.H * a.d;
  const auto index = [&](int b, int e) {
    const int h = e / a.d, c = e - h * a.d;
    return ((static_cast<size_t>(b) * a.H + h) * a.N + x) * a.d + c;
  };

  float factor[2] = {1.f, 1.f};
#pragma unroll
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == npass) break;
    const int b = b0 + pass * (a.B / 2);
    float l1_t = 0.f, l1_p = 0.f;
    for (int e = lane; e < feature; e += 32) {
      const size_t i = index(b, e);
      l1_t += fabsf(a.scale * zp[i] - (a.scale - 1.f) * zn[i]);
      l1_p += fabsf(zp[i]);
    }
    l1_t = warp_sum(l1_t);
    l1_p = warp_sum(l1_p);
    factor[pass] = l1_t <= a.tau * l1_p ? 1.f : a.tau * l1_p / l1_t;
  }
  for (int e = lane; e < feature; e += 32) {
    float stored[2] = {0.f, 0.f};
#pragma unroll
    for (int pass = 0; pass < 2; ++pass) {
      if (pass == npass) break;
      const size_t i = index(b0 + pass * (a.B / 2), e);
      const float t = a.scale * zp[i] - (a.scale - 1.f) * zn[i];
      const T o = from_float<T>(a.alpha * (t * factor[pass]) + (1.f - a.alpha) * zp[i]);
      out[i] = o;
      stored[pass] = to_float(o);
    }
    if (cache) cache[index(b0, e)] = from_float<T>(0.5f * (stored[0] + stored[1]));
  }
}

template <typename T>
void launch(const float* zp, const float* zn, void* out, void* cache, const NagArgs& a) {
  const long long warps = static_cast<long long>(cache ? a.B / 2 : a.B) * a.N;
  constexpr int kThreads = 256;
  nag_kernel<T><<<ceil_div(warps * 32, kThreads), kThreads, 0, cuda::stream()>>>(zp, zn, static_cast<T*>(out),
                                                                          static_cast<T*>(cache), a);
  DA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void nag_combine(DType dtype, const float* z_pos, const float* z_neg, void* out, void* cache, const GuidanceParams& g,
                 int B, int H, int N, int d) {
  const NagArgs a{g.scale, g.tau, g.nag_alpha, B, H, N, d};
  switch (dtype) {
    case DType::Float32: return launch<float>(z_pos, z_neg, out, cache, a);
    case DType::Float16: return launch<__half>(z_pos, z_neg, out, cache, a);
    case DType::BFloat16: return launch<__nv_bfloat16>(z_pos, z_neg, out, cache, a);
  }
}

}  // namespace da::cuda::attn
