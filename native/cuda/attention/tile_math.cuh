// The two matrix products of a flash-attention tile, per warp, in two implementations that share
// one register layout so that the softmax, masking and epilogue code above them is written once:
//
//   qk: S[16 x Bc]  = Q_w[16 x D] K_tile^T     (Q_w = this warp's 16 query rows)
//   pv: O[16 x D]  += P[16 x Bc]  V_tile[Bc x D]
//
// Layout (the accumulator layout of mma.sync m16n8k16, PTX ISA "Matrix fragments for mma.m16n8k16"):
// lane = 4g + t; an [16 x 8n] float tile is held as acc[n][4] with acc[j][0..1] = row g, columns
// 8j + 2t, 8j + 2t + 1 and acc[j][2..3] = row g + 8, the same columns.
//
// TensorCoreMath: mma.sync.m16n8k16 with float16/bfloat16 operands and float32 accumulators (sm_80+).
// P is rounded to the input dtype for the P·V product, as in FlashAttention-2.
// FmaMath: float32 FMAs on CUDA cores computing exactly the same elements per lane; P·V gathers
// each row's probabilities from the four lanes of its quad with shuffles. Used for float32 (whose
// results must match a float32 CPU reference, so no TF32) and on sm_75.
//
// Shared-memory tiles are row-major with a row stride of S elements (S*sizeof(T) a multiple of 16,
// S/2 words = 4 mod 8 for 16-bit types, which makes every fragment load below bank-conflict free).
#pragma once

#include <type_traits>

#include "../mma.cuh"
#include "common.cuh"

namespace da::cuda::attn {

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
constexpr bool kArchHasMma16816 = false;
#else
constexpr bool kArchHasMma16816 = true;
#endif

template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi);
template <>
__device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}

__device__ __forceinline__ uint32_t load_u32(const void* p) { return *static_cast<const uint32_t*>(p); }
// Two 16-bit elements from different rows, packed lower index first.
__device__ __forceinline__ uint32_t load_pair(const void* lo, const void* hi) {
  return static_cast<uint32_t>(*static_cast<const uint16_t*>(lo)) |
         (static_cast<uint32_t>(*static_cast<const uint16_t*>(hi)) << 16);
}

using cuda::mma16816;  // ../mma.cuh

template <typename T>
struct TensorCoreMath {
  static_assert(sizeof(T) == 2, "tensor-core path: float16 / bfloat16 only");

  // qs: this warp's first query row; ks: the tile's first key row.
  template <int D, int NT, int S>
  static __device__ __forceinline__ void qk(const T* qs, const T* ks, float s[NT][4]) {
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int k0 = 0; k0 < D; k0 += 16) {
      // A = Q rows g, g+8; columns k0 + 2t (+1) and k0 + 8 + 2t (+1).
      const uint32_t a[4] = {load_u32(qs + g * S + k0 + 2 * t), load_u32(qs + (g + 8) * S + k0 + 2 * t),
                             load_u32(qs + g * S + k0 + 8 + 2 * t), load_u32(qs + (g + 8) * S + k0 + 8 + 2 * t)};
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        // B = K^T: column (key) 8j + g, rows (dims) k0 + 2t (+1) and k0 + 8 + 2t (+1): contiguous in K.
        const T* kr = ks + (8 * j + g) * S + k0 + 2 * t;
        const uint32_t b[2] = {load_u32(kr), load_u32(kr + 8)};
        mma16816<T>(s[j], a, b);
      }
    }
  }

  // p: probabilities in the accumulator layout of qk (NT even: 16 keys per mma step).
  template <int D, int NT, int S>
  static __device__ __forceinline__ void pv(const float p[NT][4], const T* vs, float o[D / 8][4]) {
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int kc = 0; kc < NT / 2; ++kc) {
      // The accumulators of key tiles 2kc and 2kc+1 are exactly the A fragment of a 16-key chunk.
      const uint32_t a[4] = {pack2<T>(p[2 * kc][0], p[2 * kc][1]), pack2<T>(p[2 * kc][2], p[2 * kc][3]),
                             pack2<T>(p[2 * kc + 1][0], p[2 * kc + 1][1]),
                             pack2<T>(p[2 * kc + 1][2], p[2 * kc + 1][3])};
      const T* v0 = vs + (16 * kc + 2 * t) * S + g;  // B = V: rows (keys) 16kc + 2t (+1), +8; column g
#pragma unroll
      for (int n = 0; n < D / 8; ++n) {
        const T* vn = v0 + 8 * n;
        const uint32_t b[2] = {load_pair(vn, vn + S), load_pair(vn + 8 * S, vn + 9 * S)};
        mma16816<T>(o[n], a, b);
      }
    }
  }
};

template <typename T>
struct FmaMath {
  template <int D, int NT, int S>
  static __device__ __forceinline__ void qk(const T* qs, const T* ks, float s[NT][4]) {
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
#pragma unroll 4
    for (int k = 0; k < D; k += 2) {
      const float2 q0 = load2(qs + g * S + k), q1 = load2(qs + (g + 8) * S + k);
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        const float2 k0 = load2(ks + (8 * j + 2 * t) * S + k), k1 = load2(ks + (8 * j + 2 * t + 1) * S + k);
        s[j][0] = fmaf(q0.y, k0.y, fmaf(q0.x, k0.x, s[j][0]));
        s[j][1] = fmaf(q0.y, k1.y, fmaf(q0.x, k1.x, s[j][1]));
        s[j][2] = fmaf(q1.y, k0.y, fmaf(q1.x, k0.x, s[j][2]));
        s[j][3] = fmaf(q1.y, k1.y, fmaf(q1.x, k1.x, s[j][3]));
      }
    }
  }

  template <int D, int NT, int S>
  static __device__ __forceinline__ void pv(const float p[NT][4], const T* vs, float o[D / 8][4]) {
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int j = 0; j < NT; ++j) {
      // Keys 8j + 2s + e of the quad's rows are held by lane 4g + s as p[j][e] (row g) and
      // p[j][2 + e] (row g + 8). s stays a rolled loop: unrolling it only lets the compiler hoist
      // more V loads than the registers next to o[] can hold (spills at D >= 128).
#pragma unroll 1
      for (int s = 0; s < 4; ++s) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float p0 = __shfl_sync(0xffffffffu, p[j][e], 4 * g + s);
          const float p1 = __shfl_sync(0xffffffffu, p[j][2 + e], 4 * g + s);
          const T* vr = vs + (8 * j + 2 * s + e) * S + 2 * t;
#pragma unroll
          for (int n = 0; n < D / 8; ++n) {
            const float2 v = load2(vr + 8 * n);
            o[n][0] = fmaf(p0, v.x, o[n][0]);
            o[n][1] = fmaf(p0, v.y, o[n][1]);
            o[n][2] = fmaf(p1, v.x, o[n][2]);
            o[n][3] = fmaf(p1, v.y, o[n][3]);
          }
        }
      }
    }
  }
};

}  // namespace da::cuda::attn
