// The CUDA backend of the model ops (ops/ops.h) is pending: its kernels come with a later issue.
// Until then an op on CUDA tensors fails with E_INTERNAL naming the op (the op interface and the
// CUDA variant of the binary are complete; only these bodies are missing).
#include <string>

#include "../core/error.h"
#include "../ops/ops.h"

namespace da::cuda::ops {

namespace {

[[noreturn]] void pending(const char* op) {
  fail(ErrorCode::Internal, std::string(op) + " is not yet implemented on CUDA (the CPU backend has it)");
}

}  // namespace

void linear(const Tensor&, const Tensor&, const Tensor*, const Epilogue&, Tensor&) { pending("linear"); }
void conv2d(const Tensor&, const Tensor&, const Tensor*, const Conv2dParams&, const Epilogue&, Tensor&) { pending("conv2d"); }
void group_norm(const Tensor&, int, float, const Tensor*, const Tensor*, bool, Tensor&) { pending("group_norm"); }
void layer_norm(const Tensor&, float, const Tensor*, const Tensor*, Tensor&) { pending("layer_norm"); }
void activation(const Tensor&, Activation, Tensor&) { pending("activation"); }
void geglu(const Tensor&, Tensor&) { pending("geglu"); }
void upsample_nearest2x(const Tensor&, Tensor&) { pending("upsample_nearest2x"); }
void add(const Tensor&, const Tensor&, Tensor&) { pending("add"); }
void average_halves(const Tensor&, Tensor&) { pending("average_halves"); }
void timestep_embedding(const Tensor&, const TimestepParams&, Tensor&) { pending("timestep_embedding"); }
void concat(const std::vector<Tensor>&, int, Tensor&) { pending("concat"); }
void slice(const Tensor&, int, int64_t, Tensor&) { pending("slice"); }
void permute(const Tensor&, const std::vector<int>&, Tensor&) { pending("permute"); }
void embedding(const Tensor&, const std::vector<int64_t>&, Tensor&) { pending("embedding"); }

}  // namespace da::cuda::ops
