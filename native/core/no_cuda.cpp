// Linked into the CPU-only variant in place of native/cuda: CUDA is reported as not compiled in.
#include "../ops/attention.h"
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
