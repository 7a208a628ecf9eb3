// The model-op kernels of gemm.inl for the scalar path.
#include "../simd/vec.h"
#include "kernels.h"

namespace da::cpu::ops::scalar_impl {

#define KERNEL_V ::da::cpu::simd::VecScalar
#include "gemm.inl"
#undef KERNEL_V

}  // namespace da::cpu::ops::scalar_impl
