// The model-op kernels of ../ops/gemm.inl for the avx512 path (compiled with its own target flags, chosen at run time).
#include "../ops/kernels.h"
#include "vec.h"

namespace da::cpu::ops::avx512_impl {

#define KERNEL_V ::da::cpu::simd::VecAvx512
#include "../ops/gemm.inl"
#undef KERNEL_V

}  // namespace da::cpu::ops::avx512_impl
