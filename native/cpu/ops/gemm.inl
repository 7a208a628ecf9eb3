// The GEMM macro- and micro-kernel of the model ops, written once against the vector type V and
// included by one translation unit per SIMD level inside its own namespace (see kernels.h).
//
// Design: the Goto/van de Geijn blocking as refined in BLIS (Van Zee & van de Geijn, "BLIS: A
// Framework for Rapidly Instantiating BLAS Functionality", 2015): the driver splits K into blocks
// and packs B into k-major micro-panels of kNR columns; the macro-kernel walks kMR x kNR tiles of C
// and the micro-kernel keeps the whole tile in registers for the length of a K block, with kMR
// broadcasts of A and kNV vector loads of B feeding kMR * kNV independent FMAs per k. Unlike BLIS,
// A is not packed: both A operands here (rows of activations for linear, rows of the weight matrix
// for conv2d) are already row-major with unit stride along K, and kMR row streams are within what
// the hardware prefetchers follow.
//
// Also here: the packing of B (a weight for linear, the implicit im2col matrix for conv2d) and the
// dot-product kernel for products with very few rows.
//
// Requires: KERNEL_V (the vector type) defined by the including file.

namespace {

using V = KERNEL_V;
constexpr int W = V::W;

#include "vmath.inl"

// Micro-tile shape per register file: 32 zmm hold 6 x 4 accumulators + 4 B vectors + a broadcast;
// 16 ymm hold 6 x 2 + 2 + 1 (the Haswell-era 6x16 shape); the scalar path uses a 4 x 4 tile.
constexpr int kMR = W == 16 ? 6 : W == 8 ? 6 : 4;
constexpr int kNV = W == 16 ? 4 : W == 8 ? 2 : 4;
constexpr int kNR = kNV * W;

// C[R][kNR] (= or +=) A[R][kc] . Bp[kc][kNR]: A rows at stride lda, Bp one packed micro-panel. The
// accumulators start from the biases: row_init[r] (per row) and col_init[0 .. kNR) (per column),
// either may be null.
template <int R>
inline void micro(const float* a, size_t lda, const float* b, int kc, float* c, size_t ldc, bool accumulate,
                  const float* row_init, const float* col_init) {
  V acc[R][kNV];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < kNV; ++t) {
      acc[r][t] = row_init ? V::set1(row_init[r]) : V::zero();
      if (col_init) acc[r][t] = V::add(acc[r][t], V::load(col_init + t * W));
    }
  const float* ar[R];
  for (int r = 0; r < R; ++r) ar[r] = a + r * lda;
  for (int k = 0; k < kc; ++k, b += kNR) {
    V bv[kNV];
    for (int t = 0; t < kNV; ++t) bv[t] = V::load(b + t * W);
    for (int r = 0; r < R; ++r) {
      const V ab = V::set1(ar[r][k]);
      for (int t = 0; t < kNV; ++t) acc[r][t] = V::fmadd(ab, bv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < kNV; ++t) {
      float* p = c + r * ldc + t * W;
      (accumulate ? V::add(acc[r][t], V::load(p)) : acc[r][t]).store(p);
    }
}

// The activation and residual of the epilogue (kernels.h) on rows [i, i + rows) and columns
// [col, col + n) of the block; c points at the tile's first element.
template <Activation A>
void finish_tile(float* c, size_t ldc, int rows, int n, const EpilogueArgs& e, int i, int col) {
  for (int r = 0; r < rows; ++r) {
    float* cr = c + r * ldc;
    const float* res = e.residual ? e.residual + static_cast<size_t>(i + r) * e.ldr + col : nullptr;
    for (int j = 0; j < n; j += W) {
      const int w = n - j < W ? n - j : W;
      V x = activate<A>(w == W ? V::load(cr + j) : load_part(cr + j, w));
      if (res) x = V::add(x, w == W ? V::load(res + j) : load_part(res + j, w));
      if (w == W) {
        x.store(cr + j);
      } else {
        store_part(x, cr + j, w);
      }
    }
  }
}

void finish(float* c, size_t ldc, int rows, int n, const EpilogueArgs& e, int i, int col) {
  switch (e.act) {
    case Activation::None:
      if (e.residual) finish_tile<Activation::None>(c, ldc, rows, n, e, i, col);
      break;
    case Activation::Silu: finish_tile<Activation::Silu>(c, ldc, rows, n, e, i, col); break;
    case Activation::Gelu: finish_tile<Activation::Gelu>(c, ldc, rows, n, e, i, col); break;
    case Activation::QuickGelu: finish_tile<Activation::QuickGelu>(c, ldc, rows, n, e, i, col); break;
  }
}

// One R x kNR tile at row i of the block and B micro-panel p. A panel cut short by n goes through
// a tile buffer: B's zero padding makes its extra columns harmless, C has no room for them (nor the
// column biases, which are copied into a padded row for the same reason).
template <int R>
void tile(const GemmBlock& g, int i, int p) {
  const float* a = g.a + i * g.lda;
  const float* b = g.b + p * g.b_stride;
  const int col = p * kNR;
  const int n = g.n - col < kNR ? g.n - col : kNR;
  float* c = g.c + i * g.ldc + col;
  const EpilogueArgs* e = g.epilogue;
  const float* row_init = e && e->row_bias && !g.accumulate ? e->row_bias + i : nullptr;
  const float* col_init = e && e->col_bias && !g.accumulate ? e->col_bias + col : nullptr;
  if (n == kNR) {
    micro<R>(a, g.lda, b, g.kc, c, g.ldc, g.accumulate, row_init, col_init);
  } else {
    alignas(64) float buf[R * kNR];
    alignas(64) float cb[kNR] = {};
    if (col_init) {
      for (int j = 0; j < n; ++j) cb[j] = col_init[j];
    }
    micro<R>(a, g.lda, b, g.kc, buf, kNR, false, row_init, col_init ? cb : nullptr);
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < n; ++j) c[r * g.ldc + j] = g.accumulate ? c[r * g.ldc + j] + buf[r * kNR + j] : buf[r * kNR + j];
  }
  if (e && g.last) finish(c, g.ldc, R, n, *e, i, col);
}

// Rows left at the bottom of a block (fewer than kMR) get a micro-kernel of their own height.
template <int R>
inline void tile_rows(const GemmBlock& g, int rows, int i, int p) {
  if constexpr (R > 1) {
    if (rows < R) {
      tile_rows<R - 1>(g, rows, i, p);
      return;
    }
  }
  tile<R>(g, i, p);
}

// A's row slivers outermost: the kMR x kc sliver stays in L1 while the packed B block (kc x n,
// sized by the driver to sit in L2) streams past it one micro-panel at a time.
void block(const GemmBlock& g) {
  const int panels = (g.n + kNR - 1) / kNR;
  for (int i = 0; i < g.m; i += kMR)
    for (int p = 0; p < panels; ++p) tile_rows<kMR>(g, g.m - i < kMR ? g.m - i : kMR, i, p);
}

// Packing of `rows` (<= kNR) rows of W [rows][ldw] over K columns into one micro-panel dst[K][kNR]
// (kernels.h: pack), zero past `rows`. With AVX2 (also under AVX-512, where kNR is a multiple of 8
// too) in 8 x 8 register transposes: 8 row loads, three shuffle stages, 8 stores of 8 k-rows.
#if defined(__AVX2__)
inline void transpose8(const float* src, size_t lds, int rows, float* dst, size_t ldd) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = i < rows ? _mm256_loadu_ps(src + i * lds) : _mm256_setzero_ps();
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      // r_i0 r_(i+1)0 r_i1 r_(i+1)1 | same for lanes 4, 5
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // lanes 2, 3 | 6, 7
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);      // column 0 of four rows | column 4
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);  // column 1 | 5
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));        // columns 0-3
    _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));  // columns 4-7
  }
}
#endif

void pack(const float* w, size_t ldw, int rows, int K, float* dst) {
  int k = 0;
#if defined(__AVX2__)
  for (; k + 8 <= K; k += 8)
    for (int j = 0; j < kNR; j += 8) {
      const int n = rows - j < 0 ? 0 : rows - j < 8 ? rows - j : 8;
      transpose8(w + j * ldw + k, ldw, n, dst + static_cast<size_t>(k) * kNR + j, kNR);
    }
#endif
  for (; k < K; ++k)
    for (int j = 0; j < kNR; ++j) dst[static_cast<size_t>(k) * kNR + j] = j < rows ? w[j * ldw + k] : 0.f;
}

inline void zero_fill(float* d, int n) {
  int t = 0;
  for (; t + W <= n; t += W) V::zero().store(d + t);
  for (; t < n; ++t) d[t] = 0.f;
}

// One micro-panel of conv2d's implicit im2col matrix (kernels.h: pack_conv). A run reads input row
// iy + ky at columns ix + kx + t * stride; the columns inside [0, W) form the range [lo, hi) of t,
// the rest is padding. Stride-1 runs are vector copies (the common case: every 3x3 and 1x1 conv of
// the UNet and VAE but the downsamplers).
void pack_conv(const ConvPanel& a) {
  const int khw = a.kh * a.kw, s = a.stride;
  const size_t plane = static_cast<size_t>(a.H) * a.W;
  for (int k = a.k0; k < a.k0 + a.kc; ++k) {
    float* row = a.dst + static_cast<size_t>(k - a.k0) * kNR;
    const int ky = k % khw / a.kw, kx = k % a.kw;
    const float* src_plane = a.x + static_cast<size_t>(k / khw) * plane;
    for (int r = 0; r < a.run_count; ++r) {
      const ConvRun& run = a.runs[r];
      float* d = row + run.j;
      const float* src_image = src_plane + run.n * a.image_stride;
      const int iy = run.iy + ky;
      if (iy < 0 || iy >= a.H) {
        zero_fill(d, run.len);
        continue;
      }
      const float* src = src_image + static_cast<size_t>(iy) * a.W;
      const int ix = run.ix + kx;
      int lo = ix >= 0 ? 0 : (s - 1 - ix) / s;
      lo = lo < run.len ? lo : run.len;
      int hi = ix >= a.W ? 0 : (a.W - ix + s - 1) / s;
      hi = hi < lo ? lo : hi > run.len ? run.len : hi;
      zero_fill(d, lo);
      if (s == 1) {
        int t = lo;
        for (; t + W <= hi; t += W) V::load(src + ix + t).store(d + t);
        if (t < hi) store_part(load_part(src + ix + t, hi - t), d + t, hi - t);
      } else {
        for (int t = lo; t < hi; ++t) d[t] = src[ix + t * s];
      }
      zero_fill(d + hi, run.len - hi);
    }
    zero_fill(row + a.cols, kNR - a.cols);
  }
}

// Few rows (kernels.h: dots): every output is a dot product along K of a row of A and a row of
// the weight, read in place, four weight rows at a time so each A vector feeds four FMAs. The
// weight streams through once for all R rows of A; the horizontal sums come once per output.
template <int R>
void dots_rows(const GemmBlock& g) {
  constexpr int kRows = 4;
  const int K = g.kc;
  for (int j = 0; j < g.n; j += kRows) {
    const int nj = g.n - j < kRows ? g.n - j : kRows;
    const float* w[kRows];
    for (int q = 0; q < kRows; ++q) w[q] = g.b + static_cast<size_t>(j + (q < nj ? q : 0)) * g.b_stride;
    V acc[R][kRows];
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < kRows; ++q) acc[r][q] = V::zero();
    for (int k = 0; k < K; k += W) {
      const int len = K - k < W ? K - k : W;
      V wv[kRows];
      for (int q = 0; q < kRows; ++q) wv[q] = len == W ? V::load(w[q] + k) : load_part(w[q] + k, len);
      for (int r = 0; r < R; ++r) {
        const float* ar = g.a + r * g.lda + k;
        const V av = len == W ? V::load(ar) : load_part(ar, len);
        for (int q = 0; q < kRows; ++q) acc[r][q] = V::fmadd(av, wv[q], acc[r][q]);
      }
    }
    const EpilogueArgs* e = g.epilogue;
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < nj; ++q) {
        g.c[r * g.ldc + j + q] = acc[r][q].reduce_add() + (e && e->row_bias ? e->row_bias[r] : 0.f) +
                                 (e && e->col_bias ? e->col_bias[j + q] : 0.f);
      }
  }
  if (g.epilogue) finish(g.c, g.ldc, R, g.n, *g.epilogue, 0, 0);
}

void dots(const GemmBlock& g) {
  switch (g.m) {
    case 1: dots_rows<1>(g); break;
    case 2: dots_rows<2>(g); break;
    case 3: dots_rows<3>(g); break;
    case 4: dots_rows<4>(g); break;
    default: break;
  }
}

}  // namespace

extern const GemmKernels kGemm;
const GemmKernels kGemm = {kMR, kNR, block, dots, pack, pack_conv};
