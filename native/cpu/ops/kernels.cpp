#include "kernels.h"

#include "../simd.h"

namespace da::cpu::ops {

const GemmKernels& gemm_kernels() {
#if defined(DA_SIMD_X86)
  switch (simd_level()) {
    case SimdLevel::Avx512: return avx512_impl::kGemm;
    case SimdLevel::Avx2: return avx2_impl::kGemm;
    case SimdLevel::Scalar: break;
  }
#endif
  return scalar_impl::kGemm;
}

const RowwiseKernels& rowwise_kernels() {
#if defined(DA_SIMD_X86)
  switch (simd_level()) {
    case SimdLevel::Avx512: return avx512_impl::kRowwise;
    case SimdLevel::Avx2: return avx2_impl::kRowwise;
    case SimdLevel::Scalar: break;
  }
#endif
  return scalar_impl::kRowwise;
}

}  // namespace da::cpu::ops
