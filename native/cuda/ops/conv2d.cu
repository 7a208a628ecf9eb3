// conv2d on CUDA (ops.h) as an implicit GEMM (gemm.cuh, GemmB::Im2col), the formulation of
// CUTLASS's implicit-GEMM convolution: per launch
//
//   y[image][o][pixel] = sum_k W[o][k] col[k][image * P + pixel],   k = (c, ky, kx), P = Ho * Wo
//
// with A = the weight [O, C*kh*kw] in PyTorch's layout (read in place, no re-layout) and the
// im2col matrix gathered from the NCHW input while its tiles are loaded (zero padding per side,
// any stride); the batch's pixels are one GEMM dimension, so small images still fill the tiles.
// Bias (per output channel), activation and residual are fused into the store. Batches whose
// pixel count exceeds the GEMM's 32-bit limit are split into launches of whole images.
#include "../../ops/ops.h"
#include "common.cuh"
#include "gemm.cuh"

namespace da::cuda::ops {

void conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p, const Epilogue& ep,
            Tensor& out) {
  const char* op = "conv2d";
  const int64_t images = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t O = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3];
  const int64_t Ho = out.shape[2], Wo = out.shape[3], P = Ho * Wo;
  if (images == 0 || O == 0 || P == 0) return;
  // The gather indexes rows and columns of the padded input, and pixels of a plane, with ints.
  require(O <= kIntMax && C * kh * kw <= kIntMax && P <= kIntMax && H * W <= kIntMax, op, "dimensions above 2^31 - 1");
  require(H + p.pad_top + p.pad_bottom <= kIntMax && W + p.pad_left + p.pad_right <= kIntMax, op, "padded input too large");

  GemmProblem g;
  g.kind = GemmB::Im2col;
  g.M = static_cast<int>(O);
  g.K = static_cast<int>(C * kh * kw);
  g.a = weight.data();
  g.conv.C = static_cast<int>(C), g.conv.H = static_cast<int>(H), g.conv.W = static_cast<int>(W);
  g.conv.kh = static_cast<int>(kh), g.conv.kw = static_cast<int>(kw), g.conv.stride = p.stride;
  g.conv.pad_top = p.pad_top, g.conv.pad_left = p.pad_left;
  g.conv.Ho = static_cast<int>(Ho), g.conv.Wo = static_cast<int>(Wo);
  g.bias = bias ? bias->data() : nullptr;
  g.act = ep.act;

  const size_t es = dtype_size(x.dtype);
  const int64_t in_image = C * H * W, out_image = O * P;
  const int64_t per_launch = P < kGemmMaxDim ? kGemmMaxDim / P : 1;  // gemm refuses a single image above the limit
  for (int64_t i0 = 0; i0 < images; i0 += per_launch) {
    const int64_t n = images - i0 < per_launch ? images - i0 : per_launch;
    g.N = static_cast<int>(n * P);
    g.b = static_cast<const char*>(x.data()) + static_cast<size_t>(i0 * in_image) * es;
    g.out = static_cast<char*>(out.data()) + static_cast<size_t>(i0 * out_image) * es;
    g.residual = ep.residual ? static_cast<const char*>(ep.residual->data()) + static_cast<size_t>(i0 * out_image) * es : nullptr;
    gemm(x.dtype, g);
  }
}

}  // namespace da::cuda::ops
