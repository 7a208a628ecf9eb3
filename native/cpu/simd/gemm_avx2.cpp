// The model-op kernels of ../ops/gemm.inl for the avx2 path (compiled with its own target flags, chosen at run time).
#include "../ops/kernels.h"
#include "vec.h"

namespace da::cpu::ops::avx2_impl {

#define KERNEL_V ::da::cpu::simd::VecAvx2
#include "../ops/gemm.inl"
#undef KERNEL_V

}  // namespace da::cpu::ops::avx2_impl
