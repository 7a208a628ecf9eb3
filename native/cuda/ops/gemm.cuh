// The GEMM core of the CUDA ops (gemm.cu), shared by linear (linear.cu) and conv2d (conv2d.cu):
//
//   C[m][n] = sum_k A[m][k] B[k][n], then  y = act(C + bias) + residual, stored in the dtype.
//
// A is always row-major [M][K] with K contiguous (linear: the activations x; conv2d: the weight
// [O][C*kh*kw], PyTorch's layout read in place). B comes in two kinds:
//   Rows:   B^T is row-major [N][K] (linear: the weight [out][in]); y is row-major [M][N].
//   Im2col: B is the im2col matrix of an NCHW image batch, never formed: B[k][n] with
//           k = (c, ky, kx) in PyTorch's order and n = (image, oy, ox); y[image][m][oy][ox] is
//           NCHW with m the output channel (implicit GEMM, as in CUTLASS's implicit-GEMM
//           convolution: the gather happens while a tile is loaded into shared memory).
// bias is indexed by n (Rows) or by m (Im2col); residual has y's layout.
#pragma once

#include <cstdint>

#include "../../core/dtype.h"
#include "../../ops/activation.h"

namespace da::cuda::ops {

enum class GemmB { Rows, Im2col };

// The largest M, N and K: tile indices run up to a tile past them in 32-bit ints.
constexpr int kGemmMaxDim = 0x7fffffff - 256;

// Im2col geometry: x [images, C, H, W] -> y [images, M, Ho, Wo]; N = images * Ho * Wo and
// K = C * kh * kw. Zero padding: input row oy * stride - pad_top + ky (likewise columns).
struct ConvGeometry {
  int C = 0, H = 0, W = 0;
  int kh = 1, kw = 1, stride = 1, pad_top = 0, pad_left = 0;
  int Ho = 0, Wo = 0;
};

struct GemmProblem {
  GemmB kind = GemmB::Rows;
  int M = 0, N = 0, K = 0;
  const void* a = nullptr;         // [M][K]
  const void* b = nullptr;         // Rows: [N][K]; Im2col: the images
  ConvGeometry conv;               // Im2col only
  const void* bias = nullptr;      // [N] (Rows) or [M] (Im2col), or null
  const void* residual = nullptr;  // y's shape, or null
  void* out = nullptr;
  Activation act = Activation::None;
};

// Launches the GEMM on cuda::stream(). Every operand has `dtype`; float32 accumulation.
// float16/bfloat16 on sm_80+ use tensor cores (mma.sync), float32 and sm_75 use FMAs.
// Throws E_SHAPE for a dimension above kGemmMaxDim or a tile grid above the launch limits.
void gemm(DType dtype, const GemmProblem& p);

}  // namespace da::cuda::ops
