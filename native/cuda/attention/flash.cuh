// Fused attention forward in the FlashAttention-2 structure (Dao, arXiv 2307.08691, Algorithm 1):
// one thread block per (tile of Br query rows, head, batch row); the Q tile is loaded once, K/V
// tiles of Bc keys are staged in shared memory, each warp keeps the online-softmax state (running
// max m, running sum l) and the output accumulator of its 16 rows in registers, and the output is
// written once. The N x nk logit matrix never reaches global memory.
//
//   q [B, H, N, d], k/v [B, H, nk, d] (float32, float16 or bfloat16), all arithmetic in float32.
//   Attend:  out [B, H, N, d] = softmax(scale q k^T + mask) v, in the dtype (or float32 for NAG).
//   Entropy: row_entropy [B, H, N] = (-sum_j p log p) / log(n_b) of the same softmax (afm.md §7);
//            no V is read. Entropy is accumulated online next to l: u = sum_j e^(s_j - m)(s_j - m),
//            rescaled like l when m moves (u' = a(u + (m - m') l), a = e^(m - m')), H = log l - u/l.
//
// Variants attach at the load or in the epilogue, never as a pass of their own:
//   AFM (afm.md §12): Q' = a_hf Q + (a_lf - a_hf) L + (g0 - a_hf) D is formed in float32 while the Q
//     tile is loaded (load_query), then rounded to the tile's element type.
//   PAG: a block whose batch row is perturbed copies its v rows instead (uniform branch per block).
//   T-GATE record: the block computes batch rows b and b + B/2 and its epilogue writes their mean.
//
// Template parameters are what changes the inner loop: the element type, the tile math (tensor
// cores or CUDA cores, tile_math.cuh), the head-dim bucket D (d <= D, padded with zeros in shared
// memory only) and the kind. Masks, AFM, PAG and record are runtime switches evaluated once per tile
// or once per block.
//
// Masking: keys past nk or masked out get logit -inf; a tile whose keys are all -inf for a row
// leaves that row's state untouched (m_use = 0 guard: exp2(-inf - 0) = 0, never -inf - -inf).
//
// To measure and tune first on a GPU (nothing here has run yet):
//   1. Correctness of the tensor-core fragments (TensorCoreMath) against the CPU float32 reference
//      and the float32 kernel (FmaMath, the same layout): masked and unmasked, d = 1, 40, 80, 160,
//      256, N and nk not multiples of the tiles. The CUDA-core float16/bfloat16 kernels are only in
//      the sm_75 image (kFlashInImage), so they need a Turing GPU.
//   2. Time against PyTorch SDPA at SD1.5 shapes, [2, 8, 4096, 40] with nk = 4096 and nk = 77;
//      D = 48 (d = 40) is the hot bucket.
//   3. Occupancy: tensor-core instances use 95-255 registers (no spills but 4 bytes at D = 80 on
//      sm_100); tune Bc and warps per bucket (FlashConfig) from measurements.
//   4. Then: cp.async double-buffering of K/V (loads are synchronous now), Q fragments in registers
//      for D <= 128, ldmatrix(.trans) for the K and V fragments, 16-byte output stores.
//   5. Precision: the AFM Q' is rounded to float16/bfloat16 for the tensor-core product (bfloat16:
//      2^-9 relative on the logits); split it into hi + lo parts if the tolerances need it.
#pragma once

#include <type_traits>

#include "../check.h"
#include "common.cuh"
#include "launch.cuh"
#include "tile_math.cuh"

namespace da::cuda::attn {

template <typename T, bool kTensorCores, int D>
struct FlashConfig {
  static constexpr int kElem = sizeof(T);
  static constexpr int kStride = D + 16 / kElem;  // +16 bytes: conflict-free fragment loads
  // float32 at D = 256 needs 2 warps to fit the 64 KiB of sm_75 at all.
  static constexpr int kWarps = (kElem == 4 && D > 160) ? 2 : 4;
  static constexpr int kBr = 16 * kWarps;
  static constexpr int kThreads = 32 * kWarps;
  // __launch_bounds__ minimum blocks per SM: 1 lets the CUDA-core kernels (o[] and the V loads of
  // FmaMath::pv) use up to 255 registers, without which ptxas caps them for occupancy and spills;
  // 0 (no hint) leaves the tensor-core kernels to ptxas' own choice, spill-free except 4 bytes at
  // D = 80 on sm_100 (a hint of 3 blocks caps them at 170 registers and spills more).
  static constexpr int kMinBlocks = kTensorCores ? 0 : 1;
  // Shared-memory budget: 64 KiB on sm_75 (CUDA-core path), 99 KiB on every sm_80+ part.
  static constexpr int kBudget = kTensorCores ? 99 * 1024 : 64 * 1024;
  static constexpr size_t smem_for(int bc) { return static_cast<size_t>(kBr + 2 * bc) * kStride * kElem + bc; }
  // Largest key tile (at most 64, and 32 above D = 128 where o[] already takes D/2 registers) that fits.
  static constexpr int pick_bc() {
    int bc = D > 128 ? 32 : 64;
    while (bc > 8 && smem_for(bc) > kBudget) bc /= 2;
    return bc;
  }
  static constexpr int kBc = pick_bc();
  static constexpr size_t kSmem = smem_for(kBc);
  static_assert(kSmem <= kBudget, "flash tile does not fit in shared memory");
  static_assert(!kTensorCores || kBc % 16 == 0, "tensor-core P·V steps over 16 keys");
};

// Rows [0, valid) of a row-major [*, d] block of global memory into kRows shared-memory rows of
// stride S, zero-filling the rest (rows >= valid, columns d..D-1): zeros keep padded keys and head
// dims out of every dot product and every P·V sum, and never leave stale NaN bits in the tile.
template <typename T, int D, int kRows, int kThreads, int S>
__device__ __forceinline__ void load_tile(T* dst, const T* src, int valid, int d, bool vec) {
  if (vec) {  // d * sizeof(T) is a multiple of 16 (so is S), so rows are 16-byte aligned
    constexpr int kVec = 16 / sizeof(T), kChunks = D / kVec;
    for (int i = threadIdx.x; i < kRows * kChunks; i += kThreads) {
      const int r = i / kChunks, c = (i % kChunks) * kVec;
      uint4 val = make_uint4(0, 0, 0, 0);
      if (r < valid && c < d) val = *reinterpret_cast<const uint4*>(src + static_cast<size_t>(r) * d + c);
      *reinterpret_cast<uint4*>(dst + r * S + c) = val;
    }
  } else {
    for (int i = threadIdx.x; i < kRows * D; i += kThreads) {
      const int r = i / D, c = i % D;
      dst[r * S + c] = (r < valid && c < d) ? src[static_cast<size_t>(r) * d + c] : from_float<T>(0.f);
    }
  }
}

template <typename T, bool kTensorCores, int D, FlashKind kKind>
__device__ __forceinline__ void flash_block(const AttnParams& p) {
  using Cfg = FlashConfig<T, kTensorCores, D>;
  using Math = std::conditional_t<kTensorCores, TensorCoreMath<T>, FmaMath<T>>;
  constexpr int kBr = Cfg::kBr, kBc = Cfg::kBc, S = Cfg::kStride, kThreads = Cfg::kThreads;
  constexpr int kNT = kBc / 8, kDT = D / 8;
  constexpr bool kOut = kKind == FlashKind::Attend;

  extern __shared__ __align__(16) unsigned char smem[];
  T* qs = reinterpret_cast<T*>(smem);
  T* ks = qs + kBr * S;
  T* vs = ks + kBc * S;
  uint8_t* keep = reinterpret_cast<uint8_t*>(vs + kBc * S);  // per key of the tile: in range and unmasked

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int h = blockIdx.y, x0 = blockIdx.x * kBr, rows = min(kBr, p.N - x0);
  const bool vec = p.d % (16 / sizeof(T)) == 0;
  const float scale_log2 = p.scale * kLog2e;  // logits in log2 units: exp2 below
  const AfmGains gains = load_gains(p);

  const int npass = kOut ? passes(p) : 1;
  for (int pass = 0; pass < npass; ++pass) {
    const int b = batch_of_pass(p, pass);
    const size_t bh = static_cast<size_t>(b) * p.H + h;
    __syncthreads();  // the previous pass is done with shared memory
    if (kOut && is_pag_row(p, b)) {
      copy_identity_rows<T>(p, bh, x0, rows);
      continue;
    }

    // Q tile: straight copy, or the AFM-edited Q' formed in float32 on the way in.
    if (p.low) {
      for (int i = threadIdx.x; i < kBr * D; i += kThreads) {
        const int r = i / D, c = i % D;
        qs[r * S + c] = from_float<T>(r < rows && c < p.d ? load_query<T>(p, gains, bh, x0 + r, c) : 0.f);
      }
    } else {
      load_tile<T, D, kBr, kThreads, S>(qs, static_cast<const T*>(p.q) + (bh * p.N + x0) * p.d, rows, p.d, vec);
    }

    const T* kg = static_cast<const T*>(p.k) + bh * p.nk * p.d;
    const T* vg = static_cast<const T*>(p.v) + bh * p.nk * p.d;
    const uint8_t* mask = p.mask ? p.mask + static_cast<size_t>(b) * p.nk : nullptr;

    // Per lane: rows g (index 0) and g + 8 (index 1) of the warp's 16.
    float m[2] = {-kInf, -kInf}, l[2] = {0.f, 0.f}, u[2] = {0.f, 0.f};
    float o[kOut ? kDT : 1][4] = {};

    for (int kv0 = 0; kv0 < p.nk; kv0 += kBc) {
      const int kvalid = min(kBc, p.nk - kv0);
      __syncthreads();  // every warp is done with the previous K/V tile
      load_tile<T, D, kBc, kThreads, S>(ks, kg + static_cast<size_t>(kv0) * p.d, kvalid, p.d, vec);
      if constexpr (kOut) load_tile<T, D, kBc, kThreads, S>(vs, vg + static_cast<size_t>(kv0) * p.d, kvalid, p.d, vec);
      const bool edge = mask || kvalid < kBc;  // uniform: only then can a key of the tile be dropped
      if (edge && threadIdx.x < kBc) keep[threadIdx.x] = threadIdx.x < kvalid && (!mask || mask[kv0 + threadIdx.x]);
      __syncthreads();

      float s[kNT][4] = {};
      Math::template qk<D, kNT, S>(qs + warp * 16 * S, ks, s);

#pragma unroll
      for (int j = 0; j < kNT; ++j) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          s[j][e] *= scale_log2;
          if (edge && !keep[8 * j + 2 * t + (e & 1)]) s[j][e] = -kInf;
        }
      }

      // Online softmax, one row half at a time; a row's 4 lanes (a quad) share its max.
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = -kInf;
#pragma unroll
        for (int j = 0; j < kNT; ++j) mx = fmaxf(mx, fmaxf(s[j][2 * r], s[j][2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_new = fmaxf(m[r], mx);
        const float m_use = m_new == -kInf ? 0.f : m_new;  // no key yet: exp2(-inf - 0) = 0, not NaN
        const float alpha = exp2f(m[r] - m_use);
        if constexpr (!kOut) u[r] = alpha * (u[r] + (m[r] == -kInf ? 0.f : m[r] - m_use) * l[r]);
        l[r] *= alpha;
        if constexpr (kOut) {
#pragma unroll
          for (int n = 0; n < kDT; ++n) o[n][2 * r] *= alpha, o[n][2 * r + 1] *= alpha;
        }
        m[r] = m_new;
#pragma unroll
        for (int j = 0; j < kNT; ++j) {
#pragma unroll
          for (int e = 2 * r; e < 2 * r + 2; ++e) {
            const float z = s[j][e] - m_use;
            const float pr = exp2f(z);
            l[r] += pr;
            if constexpr (!kOut) u[r] += s[j][e] == -kInf ? 0.f : pr * z;
            s[j][e] = pr;
          }
        }
      }

      if constexpr (kOut) Math::template pv<D, kNT, S>(s, vs, o);
    }

    // Epilogue: finish the quad sums, normalise, write once.
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float lr = l[r];
      lr += __shfl_xor_sync(0xffffffffu, lr, 1);
      lr += __shfl_xor_sync(0xffffffffu, lr, 2);
      const int row = warp * 16 + g + 8 * r;
      if constexpr (kOut) {
        const float inv = lr > 0.f ? 1.f / lr : 0.f;
        if (row < rows) {
          const size_t base = (bh * p.N + x0 + row) * p.d;
#pragma unroll
          for (int n = 0; n < kDT; ++n) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              const int c = 8 * n + 2 * t + e;
              if (c < p.d) store_out<T>(p, base + c, o[n][2 * r + e] * inv);
            }
          }
        }
      } else {
        float ur = u[r];
        ur += __shfl_xor_sync(0xffffffffu, ur, 1);
        ur += __shfl_xor_sync(0xffffffffu, ur, 2);
        if (row < rows && t == 0) {  // entropy in nats: ln 2 (log2 l - u/l)
          p.row_entropy[bh * p.N + x0 + row] = kLn2 * (log2f(lr) - ur / lr) * p.inv_log_keys[b];
        }
      }
    }
  }

  if (kOut && p.cache) {
    __syncthreads();  // the rows of both passes are written (by whichever threads wrote them)
    record_tile<T>(p, blockIdx.z, h, x0, rows);
  }
}

// Each GPU image holds only the kernels that can run on it: tensor-core kernels need sm_80, and
// float16/bfloat16 take them wherever they exist, so their CUDA-core kernels are compiled into the
// sm_75 image only. Elsewhere the kernel is an empty stub that the launch layer never selects.
template <typename T, bool kTensorCores>
constexpr bool kFlashInImage = kTensorCores ? kArchHasMma16816 : (sizeof(T) == 4 || !kArchHasMma16816);

template <typename T, bool kTensorCores, int D, FlashKind kKind>
__global__ void __launch_bounds__(FlashConfig<T, kTensorCores, D>::kThreads, FlashConfig<T, kTensorCores, D>::kMinBlocks)
    flash_kernel(const AttnParams p) {
  if constexpr (kFlashInImage<T, kTensorCores>) {
    flash_block<T, kTensorCores, D, kKind>(p);
  } else {
    __trap();
  }
}

template <typename T, bool kTensorCores, int D, FlashKind kKind>
void launch_flash_instance(const AttnParams& p) {
  using Cfg = FlashConfig<T, kTensorCores, D>;
  const auto kernel = flash_kernel<T, kTensorCores, D, kKind>;
  if (Cfg::kSmem > 48 * 1024) {
    DA_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Cfg::kSmem)));
  }
  const int pairs = kKind == FlashKind::Attend && p.cache ? p.B / 2 : p.B;
  const dim3 grid(ceil_div(p.N, Cfg::kBr), p.H, pairs);
  kernel<<<grid, Cfg::kThreads, Cfg::kSmem, cuda::stream()>>>(p);
  DA_CUDA_CHECK(cudaGetLastError());
}

// Head-dim buckets: SD1.5 uses d = 40, 80, 160 and SD2 64; every d in 1..256 lands in one.
template <typename T, bool kTensorCores, FlashKind kKind>
void launch_flash_bucket(const AttnParams& p) {
  if (p.d <= 32) return launch_flash_instance<T, kTensorCores, 32, kKind>(p);
  if (p.d <= 48) return launch_flash_instance<T, kTensorCores, 48, kKind>(p);
  if (p.d <= 64) return launch_flash_instance<T, kTensorCores, 64, kKind>(p);
  if (p.d <= 80) return launch_flash_instance<T, kTensorCores, 80, kKind>(p);
  if (p.d <= 128) return launch_flash_instance<T, kTensorCores, 128, kKind>(p);
  if (p.d <= 160) return launch_flash_instance<T, kTensorCores, 160, kKind>(p);
  return launch_flash_instance<T, kTensorCores, 256, kKind>(p);
}

// Instantiated once per element type (flash_f32.cu, flash_f16.cu, flash_bf16.cu) so that the
// ~70 kernels compile in parallel.
template <typename T>
void launch_flash_typed(const AttnParams& p, FlashKind kind, bool tensor_cores) {
  if constexpr (sizeof(T) == 2) {
    if (tensor_cores) {
      return kind == FlashKind::Attend ? launch_flash_bucket<T, true, FlashKind::Attend>(p)
                                       : launch_flash_bucket<T, true, FlashKind::Entropy>(p);
    }
  }
  return kind == FlashKind::Attend ? launch_flash_bucket<T, false, FlashKind::Attend>(p)
                                   : launch_flash_bucket<T, false, FlashKind::Entropy>(p);
}

}  // namespace da::cuda::attn
