// Linked into the CPU-only variant in place of native/cuda: CUDA is reported as not compiled in.
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
