// The attention kernels of kernels.inl for the avx512 path (compiled with its own target flags, chosen at run time).
#include <cmath>
#include <limits>

#include "../attention/dft_plan.h"
#include "../attention/kernels.h"
#include "../attention/row_ops.h"
#include "vec.h"

namespace da::cpu::attn::avx512_impl {

#define KERNEL_V ::da::cpu::simd::VecAvx512
#include "../attention/kernels.inl"
#undef KERNEL_V

}  // namespace da::cpu::attn::avx512_impl
