// Linked into the CPU-only variant in place of native/cuda: CUDA is reported as not compiled in.
#include "../ops/attention.h"
#include "../ops/ops.h"
#include "backend.h"
#include "error.h"

namespace da {

const CudaStatus& cuda_status() {
  static const CudaStatus status = [] {
    CudaStatus s;
    s.reason = "this binary is the CPU-only variant (built without CUDA)";
    return s;
  }();
  return status;
}

Backend& cuda_backend() { fail(ErrorCode::NoCuda, "CUDA is not available: " + cuda_status().reason); }

}  // namespace da

namespace da::cuda {

// Unreachable in this variant (no tensor can live on CUDA), kept so the op table links.
AttentionResult attention(const AttentionCall&) {
  fail(ErrorCode::NoCuda, "CUDA is not available: " + cuda_status().reason);
}

}  // namespace da::cuda

namespace da::cuda::ops {

// The model ops likewise (ops/ops.h): unreachable here, defined so the dispatch links.
namespace {
[[noreturn]] void no_cuda() { fail(ErrorCode::NoCuda, "CUDA is not available: " + cuda_status().reason); }
}  // namespace

void linear(const Tensor&, const Tensor&, const Tensor*, const Epilogue&, Tensor&) { no_cuda(); }
void conv2d(const Tensor&, const Tensor&, const Tensor*, const Conv2dParams&, const Epilogue&, Tensor&) { no_cuda(); }
void group_norm(const Tensor&, int, float, const Tensor*, const Tensor*, bool, Tensor&) { no_cuda(); }
void layer_norm(const Tensor&, float, const Tensor*, const Tensor*, Tensor&) { no_cuda(); }
void activation(const Tensor&, Activation, Tensor&) { no_cuda(); }
void geglu(const Tensor&, Tensor&) { no_cuda(); }
void upsample_nearest2x(const Tensor&, Tensor&) { no_cuda(); }
void add(const Tensor&, const Tensor&, Tensor&) { no_cuda(); }
void average_halves(const Tensor&, Tensor&) { no_cuda(); }
void timestep_embedding(const Tensor&, const TimestepParams&, Tensor&) { no_cuda(); }
void concat(const std::vector<Tensor>&, int, Tensor&) { no_cuda(); }
void slice(const Tensor&, int, int64_t, Tensor&) { no_cuda(); }
void permute(const Tensor&, const std::vector<int>&, Tensor&) { no_cuda(); }
void embedding(const Tensor&, const std::vector<int64_t>&, Tensor&) { no_cuda(); }

}  // namespace da::cuda::ops
