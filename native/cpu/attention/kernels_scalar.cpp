// The attention kernels of kernels.inl for the scalar path.
#include <cmath>
#include <limits>

#include "dft_plan.h"
#include "kernels.h"
#include "row_ops.h"
#include "../simd/vec.h"

namespace da::cpu::attn::scalar_impl {

#define KERNEL_V ::da::cpu::simd::VecScalar
#include "kernels.inl"
#undef KERNEL_V

}  // namespace da::cpu::attn::scalar_impl
