// Which kernels the CUDA backend runs on a device: one rule for the launchers (ops/gemm.cu,
// attention/attention.cu) and for info(), so what info() reports is what runs.
#pragma once

#include <cuda_runtime.h>

#include <string>
#include <vector>

namespace da::cuda {

// mma.sync.m16n8k16 with float16/bfloat16 operands needs sm_80; older devices (sm_75) and float32
// operands use the FMA tiles.
inline bool tensor_cores(int major) { return major >= 8; }

// Whether `device` supports the stream-ordered memory pool (cudaMallocAsync) that cuda_backend.cu
// allocates from; without it the backend falls back to cudaMalloc.
inline bool memory_pools(int device) {
  int pools = 0;
  const bool ok = cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device) == cudaSuccess && pools != 0;
  cudaGetLastError();
  return ok;
}

// One line per kernel family for a device of compute capability major.x, and whether device
// memory comes from the stream-ordered pool (cuda_backend.cu).
inline std::vector<std::string> kernel_report(int major, bool memory_pool) {
  const bool tc = tensor_cores(major);
  return {
      std::string("linear/conv2d: ") + (tc ? "float16/bfloat16 on mma.sync m16n8k16 tensor cores (float32 accumulation), float32 on FMA tiles"
                                           : "FMA tiles (tensor-core mma.sync needs sm_80)"),
      std::string("attention: flash (online softmax in float32), ") + (tc ? "float16/bfloat16 on mma.sync tensor cores, float32 on FMAs" : "FMAs"),
      std::string("memory: ") + (memory_pool ? "stream-ordered caching pool (cudaMallocAsync)" : "cudaMalloc (no memory-pool support)"),
  };
}

}  // namespace da::cuda
