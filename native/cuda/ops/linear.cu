// linear on CUDA (ops.h): y[..., out] = x[..., in] W^T + b with the epilogue, one GEMM (gemm.cuh)
// with A = x as [rows, in] and B^T = W [out, in] read in place (PyTorch's layout is already the
// K-contiguous operand the tensor-core tiles want), bias, activation and residual fused into the
// store.
#include "../../ops/ops.h"
#include "common.cuh"
#include "gemm.cuh"

namespace da::cuda::ops {

void linear(const Tensor& x, const Tensor& weight, const Tensor* bias, const Epilogue& ep, Tensor& out) {
  const int64_t K = weight.shape[1], N = weight.shape[0];
  if (N == 0 || out.numel() == 0) return;
  const int64_t M = static_cast<int64_t>(out.numel()) / N;
  require(M <= kGemmMaxDim && N <= kGemmMaxDim && K >= 1 && K <= kGemmMaxDim, "linear",
          "dimensions must be in 1.." + std::to_string(kGemmMaxDim));
  GemmProblem g;
  g.kind = GemmB::Rows;
  g.M = static_cast<int>(M), g.N = static_cast<int>(N), g.K = static_cast<int>(K);
  g.a = x.data();
  g.b = weight.data();
  g.bias = bias ? bias->data() : nullptr;
  g.residual = ep.residual ? ep.residual->data() : nullptr;
  g.out = out.data();
  g.act = ep.act;
  gemm(x.dtype, g);
}

}  // namespace da::cuda::ops
