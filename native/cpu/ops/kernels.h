// The SIMD kernels of the CPU model ops, written once per concept (gemm.inl, rowwise.inl, with the
// shared vector math of vmath.inl) and compiled per SIMD level into separate translation units
// (native/cpu/simd/*_avx2.cpp, *_avx512.cpp, native/cpu/ops/*_scalar.cpp). The drivers (linear.cpp,
// conv2d.cpp, norm.cpp, pointwise.cpp) take the table of the level chosen at run time.
//
// Only plain types cross this boundary: a SIMD translation unit must not instantiate
// standard-library templates (see native/cpu/simd/vec.h for why).
#pragma once

#include <cstddef>

#include "../../ops/activation.h"

namespace da::cpu::ops {

// y = act(y + row_bias[r] + col_bias[c]) + residual[r * ldr + c] for the element in row r, column c
// of a C block; every pointer may be null. The GEMM seeds a tile's accumulators with the biases in
// the first K block and applies the activation and the residual as soon as the last K block of the
// tile is done, while the tile is still in registers or L1.
struct EpilogueArgs {
  const float* row_bias = nullptr;  // per output row (conv2d: per output channel)
  const float* col_bias = nullptr;  // per output column (linear: per output feature)
  Activation act = Activation::None;
  const float* residual = nullptr;
  size_t ldr = 0;
};

// One block of C[m][n] (+)= A[m][kc] . B[kc][n] for the macro-kernel.
//   A is read in place: row-major rows at stride lda (linear: rows of x; conv2d: rows of the
//     weight matrix [O][C*kh*kw]), so it needs no packing.
//   B is packed: ceil(n / nr) micro-panels, panel p at b + p * b_stride, each [kc][nr] (k-major,
//     nr consecutive columns, zero beyond n).
struct GemmBlock {
  const float* a;
  size_t lda;
  const float* b;
  size_t b_stride;
  float* c;
  size_t ldc;
  int m, n, kc;
  bool accumulate;               // C += A.B (a later K block) rather than C = A.B (+ biases)
  bool last;                     // the last K block: apply the activation and the residual
  const EpilogueArgs* epilogue;  // the op's epilogue, origin at the block's first row and column; or null
};

// A run of output pixels of one output row as a micro-panel sees them: panel columns [j, j + len)
// are pixels of image n whose kernel window has its top-left tap at input row iy, columns ix,
// ix + stride, ...
struct ConvRun {
  int j, len, n, iy, ix;
};

// Rows [k0, k0 + kc) of the implicit im2col matrix (row k = (c, ky, kx)) of images x [.][C][H][W]
// (image n at x + n * image_stride), for the `cols` pixels of one micro-panel described by its runs,
// packed into dst[kc][nr]: zero where a window reads padding, and in the columns past `cols`.
struct ConvPanel {
  const float* x;
  size_t image_stride;
  int H, W, kh, kw, stride;
  int k0, kc, cols;
  const ConvRun* runs;
  int run_count;
  float* dst;
};

struct GemmKernels {
  int mr, nr;  // micro-tile: mr rows of A (broadcast) x nr columns of B (vectors)
  void (*block)(const GemmBlock&);
  // C[m][n] = A[m][K] . Wt for m <= kDotRows rows (a batch's time embedding): B is not packed but
  // the weight itself, row j of W [n][K] at b + j * b_stride, and K is kc. Packing a weight costs
  // as much as reading it, which for so few rows is the whole product.
  void (*dots)(const GemmBlock&);
  // Packs rows [0, rows) (rows <= nr) of W [rows][ldw] over K columns into one micro-panel
  // dst[K][nr], columns past `rows` zero: a PyTorch weight [out, in] becomes B.
  void (*pack)(const float* w, size_t ldw, int rows, int K, float* dst);
  // Packs one micro-panel of conv2d's implicit im2col matrix (ConvPanel).
  void (*pack_conv)(const ConvPanel&);
};
constexpr int kDotRows = 4;

struct RowwiseKernels {
  // y = act(x), n elements (act != None).
  void (*activation)(const float* x, float* y, size_t n, Activation act);
  // y[r][j] = x[r][j] * gelu(x[r][h + j]) for r < rows, j < h: x [rows][2h], y [rows][h].
  void (*geglu)(const float* x, float* y, size_t rows, size_t h);
  // y = a + b, n elements.
  void (*add)(const float* a, const float* b, float* y, size_t n);
  // y = a + s, n elements.
  void (*add_scalar)(const float* a, float s, float* y, size_t n);
  // Mean and 1 / sqrt(biased variance + eps) of n > 0 elements, in one pass: sums of x - x[0] and
  // of its square (shifted by a value near the mean, so no cancellation), float vector partial
  // sums folded into double every few thousand elements.
  void (*moments)(const float* x, size_t n, float eps, float* mean, float* rstd);
  // y = (x - mean) * scale + bias (then SiLU when silu), n elements: one channel of group norm,
  // with scale = rstd * weight[c] and bias = bias[c] folded per channel.
  void (*scale_shift)(const float* x, float* y, size_t n, float mean, float scale, float bias, bool silu);
  // Layer norm of `rows` rows of D > 0 elements: y = (x - mean) * rstd * w + b per row; w and b both
  // null (no affine) or both set.
  void (*layer_norm)(const float* x, float* y, size_t rows, size_t D, float eps, const float* w, const float* b);
};

// The tables of the SIMD level chosen at run time (cpu/simd.h).
const GemmKernels& gemm_kernels();
const RowwiseKernels& rowwise_kernels();

namespace scalar_impl { extern const GemmKernels kGemm; extern const RowwiseKernels kRowwise; }
namespace avx2_impl { extern const GemmKernels kGemm; extern const RowwiseKernels kRowwise; }
namespace avx512_impl { extern const GemmKernels kGemm; extern const RowwiseKernels kRowwise; }

}  // namespace da::cpu::ops
