// The GEMM core of the CUDA ops (interface and operand layouts: gemm.cuh). Two kernels, one tile
// loop each, sharing the operand gathers and the fused epilogue:
//
// Tensor cores (float16 / bfloat16 on sm_80+): the CUTLASS-style hierarchy of a block tile, warp
// tiles and mma.sync.m16n8k16 instructions with float32 accumulators.
//   block tile BM x BN x 32 (128 x 128, or 64 x 64 when the 128-tiles would not give every SM a
//   block), 256 threads = 8 warps as 2 (M) x 4 (N), warp tile BM/2 x BN/4;
//   shared memory double-buffered: the loads of K tile t+1 are issued before the MMAs of tile t
//   and completed after them, one __syncthreads per K tile. K-contiguous operands (A; B^T of
//   linear) are copied with 16-byte cp.async (zero-filled past the edges) when K is a multiple of
//   8, else with element loads staged in registers; the im2col operand of conv2d is gathered
//   element by element into registers (coalesced: a warp reads 32 neighbouring output pixels).
//   Fragments come from shared memory with ldmatrix (.trans for the [k][n] im2col tile); rows are
//   padded by 16 bytes, which makes every ldmatrix phase bank-conflict free.
// FMA (float32 everywhere, float16 / bfloat16 on sm_75, or DIFFUSION_ATTENTION_CUDA_GEMM=simt):
//   block tile 64 x 64 x 16, 256 threads with 4 x 4 outputs each, operands converted to float32
//   on their way into shared memory, register-staged double buffering. float32 stays float32 (no
//   TF32), so results match a float32 CPU reference.
//
// Epilogue (both): y = act(acc + bias) + residual, rounded once to the output dtype. Every load
// and store is bounds-checked, so any M, N, K works; element offsets are 64-bit. Blocks walk the
// tile grid in groups of 8 tile rows (the "grouped ordering" of Triton's matmul tutorial), so the
// blocks in flight share their A and B tiles in L2.
//
// Resources (ptxas, CUDA 13, sm_80 and sm_90, no spills): tensor-core 128 x 128 kernels 124-128
// registers (capped by __launch_bounds__(256, 2): two blocks per SM) and 37-40 KiB of static shared
// memory; 64 x 64 kernels 69-84 registers, 19-20 KiB; FMA kernel 64 registers, 17 KiB.
// Not yet here: wgmma on sm_90, split-K for small-M x small-N problems with a long K, a deeper
// cp.async pipeline, vectorised epilogue stores.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "../mma.cuh"
#include "../kernel_choice.h"
#include "common.cuh"
#include "gemm.cuh"

namespace da::cuda::ops {

namespace {

// ---- parameters ----

struct Params {
  int M, N, K;
  int tiles_m, tiles_n;
  const void* a;
  const void* b;
  ConvGeometry g;
  int P;         // Im2col: output pixels per image (Ho * Wo)
  int khkw;      // Im2col: kh * kw
  int64_t HW;    // Im2col: input pixels per channel
  int64_t CHW;   // Im2col: input elements per image
  const void* bias;
  const void* residual;
  void* out;
  Activation act;
};

// ---- tile order ----

// Block -> (tile row, tile column): groups of kGroup tile rows, column by column within a group.
__device__ __forceinline__ void tile_of(const Params& p, int& tm, int& tn) {
  constexpr int kGroup = 8;
  const int b = static_cast<int>(blockIdx.x);
  const int per_group = kGroup * p.tiles_n;
  const int group = b / per_group, first = group * kGroup;
  const int size = min(p.tiles_m - first, kGroup);
  const int r = b - group * per_group;
  tm = first + r % size;
  tn = r / size;
}

// ---- epilogue ----

// Offset of output column n in y, without the row term: Rows y[m][n]; Im2col y[image][m][pixel].
template <GemmB kKind>
__device__ __forceinline__ int64_t column_offset(const Params& p, int n) {
  if constexpr (kKind == GemmB::Rows) {
    return n;
  } else {
    const int image = n / p.P;
    return static_cast<int64_t>(image) * p.M * p.P + (n - image * p.P);
  }
}

// Stores output (m, n) (in bounds) from its float32 accumulator: y = act(acc + bias) + residual.
template <typename T, GemmB kKind>
__device__ __forceinline__ void store_output(const Params& p, int m, int n, int64_t column, float acc) {
  float v = acc;
  if (p.bias) v += to_float(static_cast<const T*>(p.bias)[kKind == GemmB::Rows ? n : m]);
  v = activate(v, p.act);
  const int64_t off = static_cast<int64_t>(m) * (kKind == GemmB::Rows ? p.N : p.P) + column;
  if (p.residual) v += to_float(static_cast<const T*>(p.residual)[off]);
  static_cast<T*>(p.out)[off] = from_float<T>(v);
}

// ---- the im2col gather ----

// One column n of the im2col matrix: its image and the top-left input pixel of its receptive
// field. gather() reads rows k0 .. k0 + R - 1 of the column, walking (c, ky, kx) incrementally
// from one division at k0; zero outside the image (padding), past K and past N.
struct Im2colColumn {
  int64_t image;  // element offset of the image, or -1 for a column past N
  int iy0, ix0;

  __device__ __forceinline__ void init(const Params& p, int n) {
    if (n >= p.N) {
      image = -1, iy0 = ix0 = 0;
      return;
    }
    const int img = n / p.P, pixel = n - img * p.P, oy = pixel / p.g.Wo, ox = pixel - oy * p.g.Wo;
    image = img * p.CHW;
    iy0 = oy * p.g.stride - p.g.pad_top;
    ix0 = ox * p.g.stride - p.g.pad_left;
  }

  template <int R, typename V, typename Load>
  __device__ __forceinline__ void gather(const Params& p, int k0, V (&out)[R], Load load) const {
    const int c = k0 / p.khkw, rem = k0 - c * p.khkw;
    int ky = rem / p.g.kw, kx = rem - ky * p.g.kw;
    int64_t plane = image + c * p.HW;
#pragma unroll
    for (int i = 0; i < R; ++i) {
      const int iy = iy0 + ky, ix = ix0 + kx;
      V v = V(0);
      if (image >= 0 && k0 + i < p.K && static_cast<unsigned>(iy) < static_cast<unsigned>(p.g.H) &&
          static_cast<unsigned>(ix) < static_cast<unsigned>(p.g.W)) {
        v = load(plane + iy * p.g.W + ix);
      }
      out[i] = v;
      if (++kx == p.g.kw) {
        kx = 0;
        if (++ky == p.g.kh) ky = 0, plane += p.HW;
      }
    }
  }
};

// =====================================================================================
// Tensor-core kernel (sm_80+)
// =====================================================================================

constexpr int kBK = 32;          // K per block tile
constexpr int kPad = 8;          // 16-bit elements of padding per shared-memory row (16 bytes)
constexpr int kTcThreads = 256;  // 8 warps: 2 along M, 4 along N

template <int BM, int BN, GemmB kKind>
struct TcShape {
  static constexpr int LDA = kBK + kPad;                                   // As[m][k]
  static constexpr int LDB = kKind == GemmB::Rows ? kBK + kPad : BN + kPad;  // Bs[n][k] or Bs[k][n]
  static constexpr int A_STAGE = BM * LDA;
  static constexpr int B_STAGE = kKind == GemmB::Rows ? BN * LDB : kBK * LDB;
  static constexpr int WM = BM / 2, WN = BN / 4;  // warp tile
  static constexpr int MI = WM / 16, NJ = WN / 8;  // m16 and n8 MMA tiles per warp
  static_assert(MI >= 1 && NJ >= 2 && NJ % 2 == 0, "warp tile too small");
};

// ---- sm_80 instructions (never executed below sm_80: the launcher picks the FMA kernel there) ----

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
#endif

// 16 bytes global -> shared, of which src_bytes (0 or 16) are read and the rest zero-filled.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int src_bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src), "r"(src_bytes));
#else
  (void)dst, (void)src, (void)src_bytes;
  __trap();
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}

__device__ __forceinline__ void cp_async_wait_all() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

// Four 8x8 16-bit matrices from shared memory; lane l gives the address of row l % 8 of matrix
// l / 8 and receives, in r[i], row l / 4, columns 2 (l % 4) and +1 of matrix i (transposed: column
// l / 4, rows 2 (l % 4) and +1).
template <bool kTrans>
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (kTrans) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p)));
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p)));
  }
#else
  (void)p;
  r[0] = r[1] = r[2] = r[3] = 0;
  __trap();
#endif
}

// c += a b for one m16n8k16 tile: ../mma.cuh.
using cuda::mma16816;

// A K-contiguous operand ([rows][K] from `src`, the tile's first row) into a ROWS x kBK tile
// [ROWS][kBK + kPad] of 16-bit elements. Thread i handles 16-byte chunks i, i + 256, ...:
// row chunk / 4, elements 8 (chunk % 4) ... + 7.
//   kAsync: cp.async, zero-filled past the edges (K % 8 == 0: a chunk is wholly in or out).
//   else:   element loads into registers in begin(), stored to shared memory in finish().
template <int ROWS, bool kAsync>
struct KMajorLoader {
  static constexpr int LD = kBK + kPad;
  static constexpr int kChunks = ROWS * (kBK / 8) / kTcThreads;
  static_assert(kChunks >= 1, "tile too small for the block");

  const uint16_t* src;
  int rows;  // valid rows from src on
  int K;
  uint16_t staged[kAsync ? 1 : kChunks][8];

  __device__ __forceinline__ void begin(int k0, uint16_t* stage) {
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const int id = threadIdx.x + c * kTcThreads, r = id >> 2, kc = (id & 3) * 8;
      if constexpr (kAsync) {
        const bool in = r < rows && k0 + kc < K;
        cp_async16(stage + r * LD + kc, in ? src + static_cast<int64_t>(r) * K + k0 + kc : src, in ? 16 : 0);
      } else {
        const uint16_t* row = src + static_cast<int64_t>(r) * K;
#pragma unroll
        for (int e = 0; e < 8; ++e) {
          const int k = k0 + kc + e;
          staged[c][e] = r < rows && k < K ? row[k] : uint16_t(0);
        }
      }
    }
    if constexpr (kAsync) cp_async_commit();
  }

  __device__ __forceinline__ void finish(uint16_t* stage) {
    if constexpr (kAsync) {
      cp_async_wait_all();
    } else {
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        const int id = threadIdx.x + c * kTcThreads, r = id >> 2, kc = (id & 3) * 8;
        uint4 v;
        v.x = staged[c][0] | (static_cast<uint32_t>(staged[c][1]) << 16);
        v.y = staged[c][2] | (static_cast<uint32_t>(staged[c][3]) << 16);
        v.z = staged[c][4] | (static_cast<uint32_t>(staged[c][5]) << 16);
        v.w = staged[c][6] | (static_cast<uint32_t>(staged[c][7]) << 16);
        *reinterpret_cast<uint4*>(stage + r * LD + kc) = v;
      }
    }
  }
};

// The im2col operand into a kBK x BN tile [kBK][BN + kPad]: thread i owns column i % BN and the
// R consecutive rows from (i / BN) R, so a warp reads 32 neighbouring pixels of one input row.
template <int BN>
struct Im2colLoader {
  static constexpr int LD = BN + kPad;
  static constexpr int R = kBK * BN / kTcThreads;
  static_assert(kTcThreads % BN == 0 && R >= 1, "bad im2col tile");

  const Params& p;
  const uint16_t* x;
  Im2colColumn column;
  int col, r0;
  uint16_t staged[R];

  __device__ __forceinline__ Im2colLoader(const Params& params, int n0)
      : p(params), x(static_cast<const uint16_t*>(params.b)) {
    col = threadIdx.x % BN;
    r0 = threadIdx.x / BN * R;
    column.init(p, n0 + col);
  }

  __device__ __forceinline__ void begin(int k0, uint16_t*) {
    const uint16_t* xs = x;
    column.gather<R>(p, k0 + r0, staged, [xs](int64_t i) { return xs[i]; });
  }

  __device__ __forceinline__ void finish(uint16_t* stage) {
#pragma unroll
    for (int i = 0; i < R; ++i) stage[(r0 + i) * LD + col] = staged[i];
  }
};

template <typename T, int BM, int BN, GemmB kKind, bool kAsync>
__global__ void __launch_bounds__(kTcThreads, 2) gemm_tc_kernel(const Params p) {
  using S = TcShape<BM, BN, kKind>;
  __shared__ __align__(16) uint16_t As[2][S::A_STAGE];
  __shared__ __align__(16) uint16_t Bs[2][S::B_STAGE];

  int tm, tn;
  tile_of(p, tm, tn);
  const int m0 = tm * BM, n0 = tn * BN;

  KMajorLoader<BM, kAsync> la{static_cast<const uint16_t*>(p.a) + static_cast<int64_t>(m0) * p.K, p.M - m0, p.K, {}};
  auto make_b = [&] {
    if constexpr (kKind == GemmB::Rows) {
      return KMajorLoader<BN, kAsync>{static_cast<const uint16_t*>(p.b) + static_cast<int64_t>(n0) * p.K, p.N - n0, p.K, {}};
    } else {
      return Im2colLoader<BN>(p, n0);
    }
  };
  auto lb = make_b();

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int wm = (warp >> 2) * S::WM, wn = (warp & 3) * S::WN;  // the warp tile's offset in the block tile
  float acc[S::MI][S::NJ][4];
#pragma unroll
  for (int i = 0; i < S::MI; ++i)
#pragma unroll
    for (int j = 0; j < S::NJ; ++j) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.f;

  const int tiles_k = (p.K + kBK - 1) / kBK;
  la.begin(0, As[0]);
  lb.begin(0, Bs[0]);
  la.finish(As[0]);
  lb.finish(Bs[0]);
  __syncthreads();

  for (int kt = 0; kt < tiles_k; ++kt) {
    const int s = kt & 1;
    const bool more = kt + 1 < tiles_k;
    if (more) {  // stage s ^ 1 was last read before the previous __syncthreads
      la.begin((kt + 1) * kBK, As[s ^ 1]);
      lb.begin((kt + 1) * kBK, Bs[s ^ 1]);
    }
    const uint16_t* as = As[s];
    const uint16_t* bs = Bs[s];
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 16) {
      uint32_t a[S::MI][4], b[S::NJ][2];
#pragma unroll
      for (int i = 0; i < S::MI; ++i) {
        // matrices (rows 0-7, k 0-7), (rows 8-15, k 0-7), (rows 0-7, k 8-15), (rows 8-15, k 8-15)
        ldmatrix_x4<false>(a[i], as + (wm + i * 16 + (lane & 15)) * S::LDA + kk + (lane >> 4) * 8);
      }
#pragma unroll
      for (int j = 0; j < S::NJ; j += 2) {
        uint32_t r[4];
        // matrices (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15) of n8 tiles j, j + 1
        if constexpr (kKind == GemmB::Rows) {
          ldmatrix_x4<false>(r, bs + (wn + j * 8 + (lane & 7) + ((lane >> 4) << 3)) * S::LDB + kk + ((lane >> 3) & 1) * 8);
        } else {
          ldmatrix_x4<true>(r, bs + (kk + (lane & 7) + ((lane >> 3) & 1) * 8) * S::LDB + wn + j * 8 + ((lane >> 4) << 3));
        }
        b[j][0] = r[0], b[j][1] = r[1], b[j + 1][0] = r[2], b[j + 1][1] = r[3];
      }
#pragma unroll
      for (int i = 0; i < S::MI; ++i)
#pragma unroll
        for (int j = 0; j < S::NJ; ++j) mma16816<T>(acc[i][j], a[i], b[j]);
    }
    if (more) {
      la.finish(As[s ^ 1]);
      lb.finish(Bs[s ^ 1]);
    }
    __syncthreads();
  }

  // Epilogue straight from the accumulators: lane 4g + t holds rows g, g + 8 and columns 2t, 2t + 1
  // of each m16 x n8 tile.
  const int g = lane >> 2, t = lane & 3;
  int64_t column[S::NJ][2];
#pragma unroll
  for (int j = 0; j < S::NJ; ++j)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int n = n0 + wn + j * 8 + 2 * t + e;
      column[j][e] = n < p.N ? column_offset<kKind>(p, n) : 0;
    }
#pragma unroll
  for (int i = 0; i < S::MI; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int m = m0 + wm + i * 16 + g + 8 * h;
      if (m >= p.M) continue;
#pragma unroll
      for (int j = 0; j < S::NJ; ++j)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int n = n0 + wn + j * 8 + 2 * t + e;
          if (n < p.N) store_output<T, kKind>(p, m, n, column[j][e], acc[i][j][2 * h + e]);
        }
    }
}

// =====================================================================================
// FMA kernel (float32; float16 / bfloat16 below sm_80)
// =====================================================================================

constexpr int kSM = 64, kSN = 64, kSK = 16, kSPad = 4;
constexpr int kSimtThreads = 256;

template <typename T, GemmB kKind>
__global__ void __launch_bounds__(kSimtThreads) gemm_simt_kernel(const Params p) {
  // [k][m] and [k][n]: a thread's 4 rows (columns) are one float4; rows 16-byte aligned.
  __shared__ __align__(16) float As[2][kSK][kSM + kSPad];
  __shared__ __align__(16) float Bs[2][kSK][kSN + kSPad];

  int tm, tn;
  tile_of(p, tm, tn);
  const int m0 = tm * kSM, n0 = tn * kSN;
  const T* a = static_cast<const T*>(p.a);
  const T* b = static_cast<const T*>(p.b);
  const int tid = threadIdx.x;

  // Loads: K-contiguous operands as (row tid / 16 + 16 i, k tid % 16); the im2col operand as
  // column tid % 64, rows (tid / 64) * 4 + i.
  const int lk = tid & 15, lr = tid >> 4;
  const int icol = tid & 63, ir0 = (tid >> 6) * 4;
  Im2colColumn column{};
  if constexpr (kKind == GemmB::Im2col) column.init(p, n0 + icol);
  float ra[4], rb[4];

  auto load = [&](int k0) {
    const int k = k0 + lk;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int m = m0 + lr + 16 * i;
      ra[i] = m < p.M && k < p.K ? to_float(a[static_cast<int64_t>(m) * p.K + k]) : 0.f;
    }
    if constexpr (kKind == GemmB::Rows) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int n = n0 + lr + 16 * i;
        rb[i] = n < p.N && k < p.K ? to_float(b[static_cast<int64_t>(n) * p.K + k]) : 0.f;
      }
    } else {
      column.gather<4>(p, k0 + ir0, rb, [b](int64_t i) { return to_float(b[i]); });
    }
  };
  auto store = [&](int s) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      As[s][lk][lr + 16 * i] = ra[i];
      if constexpr (kKind == GemmB::Rows) {
        Bs[s][lk][lr + 16 * i] = rb[i];
      } else {
        Bs[s][ir0 + i][icol] = rb[i];
      }
    }
  };

  const int tx = tid & 15, ty = tid >> 4;  // outputs rows 4 ty .. + 3, columns 4 tx .. + 3
  float acc[4][4] = {};
  const int tiles_k = (p.K + kSK - 1) / kSK;
  load(0);
  store(0);
  __syncthreads();
  for (int kt = 0; kt < tiles_k; ++kt) {
    const int s = kt & 1;
    const bool more = kt + 1 < tiles_k;
    if (more) load((kt + 1) * kSK);
#pragma unroll
    for (int k = 0; k < kSK; ++k) {
      const float4 av = *reinterpret_cast<const float4*>(&As[s][k][4 * ty]);
      const float4 bv = *reinterpret_cast<const float4*>(&Bs[s][k][4 * tx]);
      const float ar[4] = {av.x, av.y, av.z, av.w}, br[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(ar[i], br[j], acc[i][j]);
    }
    if (more) store(s ^ 1);
    __syncthreads();
  }

#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int n = n0 + 4 * tx + j;
    if (n >= p.N) continue;
    const int64_t col = column_offset<kKind>(p, n);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int m = m0 + 4 * ty + i;
      if (m < p.M) store_output<T, kKind>(p, m, n, col, acc[i][j]);
    }
  }
}

// =====================================================================================
// Launch
// =====================================================================================

// DIFFUSION_ATTENTION_CUDA_GEMM=simt forces the FMA kernel (to test it on a tensor-core GPU).
bool force_simt() {
  static const bool forced = [] {
    const char* v = std::getenv("DIFFUSION_ATTENTION_CUDA_GEMM");
    return v != nullptr && std::strcmp(v, "simt") == 0;
  }();
  return forced;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Sets the tile grid of p for bm x bn tiles and returns the number of blocks.
unsigned tile_grid(Params& p, int bm, int bn) {
  const int64_t tiles_m = ceil_div(p.M, bm), tiles_n = ceil_div(p.N, bn);
  require(tiles_m * tiles_n <= kIntMax, "gemm", "the output is too large for one launch (" + std::to_string(p.M) + " x " +
                                                    std::to_string(p.N) + ")");
  p.tiles_m = static_cast<int>(tiles_m), p.tiles_n = static_cast<int>(tiles_n);
  return static_cast<unsigned>(tiles_m * tiles_n);
}

template <typename T, int BM, int BN, GemmB kKind, bool kAsync>
void launch_tc(Params p) {
  const unsigned blocks = tile_grid(p, BM, BN);
  gemm_tc_kernel<T, BM, BN, kKind, kAsync><<<blocks, kTcThreads, 0, cuda::stream()>>>(p);
  DA_CUDA_CHECK(cudaGetLastError());
}

template <typename T, GemmB kKind>
void launch_tc_kind(const Params& p, bool big, bool async) {
  if (big) {
    async ? launch_tc<T, 128, 128, kKind, true>(p) : launch_tc<T, 128, 128, kKind, false>(p);
  } else {
    async ? launch_tc<T, 64, 64, kKind, true>(p) : launch_tc<T, 64, 64, kKind, false>(p);
  }
}

template <typename T, GemmB kKind>
void launch_simt(Params p) {
  const unsigned blocks = tile_grid(p, kSM, kSN);
  gemm_simt_kernel<T, kKind><<<blocks, kSimtThreads, 0, cuda::stream()>>>(p);
  DA_CUDA_CHECK(cudaGetLastError());
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

}  // namespace

void gemm(DType dtype, const GemmProblem& g) {
  if (g.M <= 0 || g.N <= 0) return;
  require(g.K >= 1 && g.K <= kGemmMaxDim && g.M <= kGemmMaxDim && g.N <= kGemmMaxDim, "gemm",
          "M, N and K must be in 1.." + std::to_string(kGemmMaxDim));
  Params p{};
  p.M = g.M, p.N = g.N, p.K = g.K;
  p.a = g.a, p.b = g.b;
  p.g = g.conv;
  if (g.kind == GemmB::Im2col) {
    p.P = g.conv.Ho * g.conv.Wo;
    p.khkw = g.conv.kh * g.conv.kw;
    p.HW = static_cast<int64_t>(g.conv.H) * g.conv.W;
    p.CHW = p.HW * g.conv.C;
  }
  p.bias = g.bias, p.residual = g.residual, p.out = g.out;
  p.act = g.act;

  const DeviceInfo dev = device_info();
  const bool tensor_cores = dtype != DType::Float32 && cuda::tensor_cores(dev.major) && !force_simt();
  // 128 x 128 tiles when they give every SM at least one block, else 64 x 64 (4x the blocks).
  const bool big = ceil_div(p.M, 128) * ceil_div(p.N, 128) >= dev.sms;
  // cp.async needs 16-byte aligned rows: K a multiple of 8 and aligned bases (cudaMalloc's are).
  const bool async = p.K % 8 == 0 && aligned16(p.a) && (g.kind == GemmB::Im2col || aligned16(p.b));
  with_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float>) {
      g.kind == GemmB::Rows ? launch_simt<float, GemmB::Rows>(p) : launch_simt<float, GemmB::Im2col>(p);
    } else {
      if (tensor_cores) {
        g.kind == GemmB::Rows ? launch_tc_kind<T, GemmB::Rows>(p, big, async) : launch_tc_kind<T, GemmB::Im2col>(p, big, async);
      } else {
        g.kind == GemmB::Rows ? launch_simt<T, GemmB::Rows>(p) : launch_simt<T, GemmB::Im2col>(p);
      }
    }
  });
}

}  // namespace da::cuda::ops
