// GAG epilogue (Kim, arXiv 2603.02531; guidance.md §2), per query row and head, one warp holding
// the row's d channels as lane + 32 i: from the softmax output D and the alpha-entmax output S
//   r = S - D;  r_par = (<r,S> / max(|S|^2, 1e-12)) S;  r_orth = r - r_par;
//   g = r_par + zeta r_orth;  g *= min(1, eta / |g|);  out = S + scale g.
// All in float32; eta = +inf disables the cap.
#pragma once

#include "common.cuh"

namespace da::cuda::attn {

constexpr int kMaxLaneChannels = 8;  // d <= 256 = 8 * 32

// dense/sparse: the lane's channels (valid where lane + 32 i < d); the result replaces sparse.
__device__ inline void gag_combine(const float dense[kMaxLaneChannels], float sparse[kMaxLaneChannels], int d,
                                   float scale, float eta, float zeta) {
  const int lane = threadIdx.x & 31;
  float rs = 0.f, ss = 0.f;
#pragma unroll
  for (int i = 0; i < kMaxLaneChannels; ++i) {
    if (lane + 32 * i < d) {
      rs = fmaf(sparse[i] - dense[i], sparse[i], rs);
      ss = fmaf(sparse[i], sparse[i], ss);
    }
  }
  const float coef = warp_sum(rs) / fmaxf(warp_sum(ss), 1e-12f);
  float g[kMaxLaneChannels];
  float gg = 0.f;
#pragma unroll
  for (int i = 0; i < kMaxLaneChannels; ++i) {
    const float par = coef * sparse[i];
    g[i] = lane + 32 * i < d ? par + zeta * ((sparse[i] - dense[i]) - par) : 0.f;
    gg = fmaf(g[i], g[i], gg);
  }
  const float norm = sqrtf(warp_sum(gg));
  const float clip = norm > eta ? eta / norm : 1.f;
#pragma unroll
  for (int i = 0; i < kMaxLaneChannels; ++i) sparse[i] = fmaf(scale, g[i] * clip, sparse[i]);
}

}  // namespace da::cuda::attn
