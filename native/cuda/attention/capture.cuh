// Capture, per query row (afm.md §2): the probability mass of the row's K largest probabilities,
// from the row's logits in shared memory. Exact with ties: each round takes the largest logit
// below the previous one together with its multiplicity, so at most K rounds over the row.
#pragma once

#include "common.cuh"

namespace da::cuda::attn {

// z[0, n): logits (masked keys -inf), m = max z. Returns sum over the top k of e^(z - m) (divide by
// the row's sum of e^(z - m) for probabilities). Whole warp calls; the result is warp-uniform.
__device__ inline float topk_exp_mass(const float* z, int n, int k, float m) {
  const int lane = threadIdx.x & 31;
  float below = kInf, mass = 0.f;
  while (k > 0) {
    float top = -kInf;
    for (int j = lane; j < n; j += 32) {
      if (z[j] < below) top = fmaxf(top, z[j]);
    }
    top = warp_max(top);
    if (top == -kInf) break;  // only masked keys left: their probability is 0
    int ties = 0;
    for (int j = lane; j < n; j += 32) ties += z[j] == top;
    const int take = min(warp_sum(ties), k);
    mass += static_cast<float>(take) * expf(top - m);
    k -= take;
    below = top;
  }
  return mass;
}

}  // namespace da::cuda::attn
