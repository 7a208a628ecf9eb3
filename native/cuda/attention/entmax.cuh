// Exact alpha-entmax thresholds for one logit row held in shared memory, computed by one warp
// (guidance.md §1; Peters, Niculae & Martins 2019, arXiv 1905.05702; sparsemax: Martins & Astudillo
// 2016). With z' = (alpha - 1)(z - max z):
//   entmax_alpha(z)_j = [z'_j - tau]_+^(1/(alpha-1)),   tau such that the weights sum to 1.
// alpha = 1.5: p = [z' - tau]_+^2; alpha = 2 (sparsemax): p = [z' - tau]_+.
//
// Only candidates z'_j > -1 can be in the support (tau >= max z' - 1 = -1), so the warp gathers
// them (ballot compaction), sorts them descending (bitonic sort in shared memory) and runs the
// sort-based closed form of the reference implementation (deep-spin/entmax) on them:
//   alpha 1.5: mu_k, s_k = mean and mean square of the top k; delta_k = (1 - k(s_k - mu_k^2)) / k;
//              tau_k = mu_k - sqrt(max(delta_k, 0)); support m = #{k : tau_k <= z'_(k)}; tau = tau_m.
//   alpha 2:   c_k = sum of the top k - 1; m = #{k : k z'_(k) > c_k}; tau = c_m / m.
// The sorted prefix is the same as over the full row, so the result is the exact threshold.
#pragma once

#include "common.cuh"

namespace da::cuda::attn {

// Sorts a[0, n) descending; n is a power of two. One warp; a in shared memory.
__device__ inline void warp_sort_descending(float* a, int n) {
  const int lane = threadIdx.x & 31;
  for (int k = 2; k <= n; k <<= 1) {
    for (int j = k >> 1; j > 0; j >>= 1) {
      for (int i = lane; i < n; i += 32) {
        const int partner = i ^ j;
        if (partner > i) {
          const float x = a[i], y = a[partner];
          const bool descending = (i & k) == 0;  // the final merge (k = n) is descending throughout
          if (descending ? x < y : x > y) a[i] = y, a[partner] = x;
        }
      }
      __syncwarp();
    }
  }
}

__device__ __forceinline__ float warp_inclusive_scan(float v) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const float n = __shfl_up_sync(0xffffffffu, v, o);
    if (lane >= o) v += n;
  }
  return v;
}

// Shifted logit z' = (alpha - 1)(z - m) of an alpha in {1.5, 2}; masked keys (z = -inf) stay -inf.
__device__ __forceinline__ float entmax_shift(float z, float m, bool sparsemax) {
  return sparsemax ? z - m : 0.5f * (z - m);
}

// Weight of one key given the threshold from entmax_threshold.
__device__ __forceinline__ float entmax_weight(float z, float m, float tau, bool sparsemax) {
  const float r = fmaxf(entmax_shift(z, m, sparsemax) - tau, 0.f);
  return sparsemax ? r : r * r;
}

// z[0, n): the row (masked keys -inf, at least one finite), m = its max. buf: per-warp scratch of
// at least the next power of two >= n floats. Returns tau in the shifted domain. Whole warp calls.
__device__ inline float entmax_threshold(const float* z, int n, float m, bool sparsemax, float* buf) {
  const int lane = threadIdx.x & 31;
  int count = 0;
  for (int j0 = 0; j0 < n; j0 += 32) {
    const int j = j0 + lane;
    const float zs = j < n ? entmax_shift(z[j], m, sparsemax) : -kInf;
    const bool candidate = zs > -1.f;
    const unsigned ballot = __ballot_sync(0xffffffffu, candidate);
    if (candidate) buf[count + __popc(ballot & ((1u << lane) - 1u))] = zs;
    count += __popc(ballot);
  }
  int n2 = 1;
  while (n2 < count) n2 <<= 1;
  for (int i = count + lane; i < n2; i += 32) buf[i] = -kInf;
  __syncwarp();
  warp_sort_descending(buf, n2);

  // Running sums over the sorted candidates, 32 ranks at a time; tau_k replaces z'_(k) in buf.
  float sum = 0.f, sum_sq = 0.f;
  int support = 0;
  for (int k0 = 0; k0 < count; k0 += 32) {
    const int k = k0 + lane;
    const float v = k < count ? buf[k] : 0.f;
    const float s1 = sum + warp_inclusive_scan(v);
    const float s2 = sum_sq + warp_inclusive_scan(v * v);
    const float rank = static_cast<float>(k + 1);
    float tau_k;
    bool in_support;
    if (sparsemax) {
      tau_k = (s1 - 1.f) / rank;
      in_support = rank * v > s1 - 1.f;
    } else {
      const float mean = s1 / rank, mean_sq = s2 / rank;
      const float delta = (1.f - rank * (mean_sq - mean * mean)) / rank;
      tau_k = mean - sqrtf(fmaxf(delta, 0.f));
      in_support = tau_k <= v;
    }
    support += __popc(__ballot_sync(0xffffffffu, in_support && k < count));
    if (k < count) buf[k] = tau_k;
    sum = __shfl_sync(0xffffffffu, s1, 31);
    sum_sq = __shfl_sync(0xffffffffu, s2, 31);
  }
  __syncwarp();
  const float tau = buf[support - 1];  // support >= 1: the top candidate (z' = 0) always qualifies
  __syncwarp();  // buf is free for the caller's next row only after every lane has read tau
  return tau;
}

}  // namespace da::cuda::attn
