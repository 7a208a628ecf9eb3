// Element-wise dtype conversion kernels on the device, with the rounding rules of core/dtype.h
// (the CUDA intrinsics are round-to-nearest-even, as our CPU code is).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "../core/dtype.h"

namespace da::cuda {

void convert(void* dst, DType dst_type, const void* src, DType src_type, size_t n, cudaStream_t stream);

}  // namespace da::cuda
