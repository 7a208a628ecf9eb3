// Shared device pieces of the CUDA attention family (see native/ops/attention.h for the contract):
// element conversions for float32 / float16 / bfloat16, warp reductions, the parameter block every
// attention kernel takes, and the per-block steps that several kernels attach to their tile loop:
// the AFM query edit on load (afm.md §12), PAG identity rows (guidance.md §5) and the T-GATE record
// epilogue (tgate.md §1). Layout everywhere: q/out [B, H, N, d], k/v [B, H, nk, d], contiguous.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "../elements.cuh"
#include "../stream.h"

namespace da::cuda::attn {

constexpr float kInf = __builtin_huge_valf();
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// ---- element conversions (../elements.cuh) ----

using cuda::from_float;
using cuda::to_float;

// Two adjacent elements as floats (p must be 2-element aligned).
__device__ __forceinline__ float2 load2(const float* p) { return *reinterpret_cast<const float2*>(p); }
__device__ __forceinline__ float2 load2(const __half* p) { return __half22float2(*reinterpret_cast<const __half2*>(p)); }
__device__ __forceinline__ float2 load2(const __nv_bfloat16* p) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p));
}

// ---- warp reductions ----

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ int warp_sum(int v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// ---- parameters ----

// AFM gains as the kernels read them from device memory: the entropy gate writes them on the
// device, so no kernel waits for a host round trip. gain_dc is g0, the DC bin's gain.
struct AfmGains {
  float gain_low, gain_high, gain_dc, entropy;
};

// One attention problem as every kernel of the family sees it. Pointers are device pointers.
struct AttnParams {
  const void* q;
  const void* k;
  const void* v;
  const uint8_t* mask;  // [B, nk], nonzero = attend; nullptr = attend to all
  // AFM fused path: when low is set, queries are edited on load to
  // Q' = a_hf Q + (a_lf - a_hf) L + (g0 - a_hf) D (afm.md §12), with L = low [B, H, N, d] (the
  // low band of Q without DC) and D = mean [B, H, d] (the spatial mean per channel).
  const float* low;
  const float* mean;
  const AfmGains* gains;
  void* out;      // [B, H, N, d]: the call's dtype, or float32 when out_f32 (NAG's branches)
  bool out_f32;
  void* cache;    // T-GATE record target [B/2, H, N, d] (dtype), or nullptr
  int pag_begin, pag_end;  // PAG: batch rows whose output is v (identity attention)
  float scale;
  int B, H, N, nk, d;
  // Entropy pre-pass (flash kernel, FlashKind::Entropy): normalised entropy per query row
  // [B, H, N], each row's entropy times inv_log_keys[b] = 1 / log(unmasked keys of b) (0 for one key).
  float* row_entropy;
  const float* inv_log_keys;
};

__device__ __forceinline__ bool is_pag_row(const AttnParams& p, int b) { return b >= p.pag_begin && b < p.pag_end; }

// Batch row handled by pass `pass` of a block: with T-GATE record the grid's z covers B/2 and each
// block computes the pair (b, b + B/2), so the record epilogue sees both halves of its tile.
__device__ __forceinline__ int batch_of_pass(const AttnParams& p, int pass) { return blockIdx.z + pass * (p.B / 2); }
__device__ __forceinline__ int passes(const AttnParams& p) { return p.cache ? 2 : 1; }

template <typename T>
__device__ __forceinline__ void store_out(const AttnParams& p, size_t i, float v) {
  if (p.out_f32) {
    static_cast<float*>(p.out)[i] = v;
  } else {
    static_cast<T*>(p.out)[i] = from_float<T>(v);
  }
}

// Query element (row x of slice bh, channel c) as the attention sees it: with AFM, the band-edited
// Q' in float32 (the gains come from device memory, see AfmGains).
template <typename T>
__device__ __forceinline__ float load_query(const AttnParams& p, const AfmGains& g, size_t bh, int x, int c) {
  const size_t i = (bh * p.N + x) * p.d + c;
  const float q = to_float(static_cast<const T*>(p.q)[i]);
  if (!p.low) return q;
  return g.gain_high * q + (g.gain_low - g.gain_high) * p.low[i] + (g.gain_dc - g.gain_high) * p.mean[bh * p.d + c];
}

__device__ __forceinline__ AfmGains load_gains(const AttnParams& p) {
  return p.low ? *p.gains : AfmGains{1.f, 1.f, 1.f, 0.f};
}

// PAG: rows [x0, x0 + rows) of slice bh get out = v (N == nk, so the row index addresses v too).
// All threads of the block take part.
template <typename T>
__device__ void copy_identity_rows(const AttnParams& p, size_t bh, int x0, int rows) {
  const T* v = static_cast<const T*>(p.v) + (bh * p.nk + x0) * p.d;
  const size_t base = (bh * p.N + x0) * p.d;
  for (int i = threadIdx.x; i < rows * p.d; i += blockDim.x) store_out<T>(p, base + i, to_float(v[i]));
}

// T-GATE record epilogue: cache rows [x0, x0 + rows) of head h = the mean of the stored output rows
// of batch b and b + B/2 (the unconditional and conditional halves). It reads back the rows this
// block has just written (still in L1/L2), so the cache equals the mean of the two stored outputs,
// whichever path (attention, PAG copy) produced each. Call after a __syncthreads.
template <typename T>
__device__ void record_tile(const AttnParams& p, int b, int h, int x0, int rows) {
  const T* out = static_cast<const T*>(p.out);
  const size_t lo = ((static_cast<size_t>(b) * p.H + h) * p.N + x0) * p.d;
  const size_t hi = ((static_cast<size_t>(b + p.B / 2) * p.H + h) * p.N + x0) * p.d;
  T* cache = static_cast<T*>(p.cache);
  for (int i = threadIdx.x; i < rows * p.d; i += blockDim.x) {
    cache[lo + i] = from_float<T>(0.5f * (to_float(out[lo + i]) + to_float(out[hi + i])));
  }
}

inline int ceil_div(long long a, long long b) { return static_cast<int>((a + b - 1) / b); }

}  // namespace da::cuda::attn
