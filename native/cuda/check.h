// CUDA error checking: every runtime call and launch goes through DA_CUDA_CHECK, which turns a
// failure into da::Error(E_CUDA) naming the call, so a CUDA fault surfaces as a JS error.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "../core/error.h"

namespace da::cuda {

[[noreturn]] inline void throw_cuda(cudaError_t err, const char* what) {
  const ErrorCode code = err == cudaErrorMemoryAllocation ? ErrorCode::Resource : ErrorCode::Cuda;
  fail(code, std::string(what) + " failed: " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

}  // namespace da::cuda

#define DA_CUDA_CHECK(call)                                          \
  do {                                                               \
    const cudaError_t da_err_ = (call);                              \
    if (da_err_ != cudaSuccess) ::da::cuda::throw_cuda(da_err_, #call); \
  } while (0)
