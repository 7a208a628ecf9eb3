#include "kernels.h"

#include <cstdlib>
#include <new>

#include "../../core/fault_injection.h"
#include "../simd.h"

namespace da::cpu::attn {

float* grow(Buffer& b, size_t n) {
  if (b.size >= n) return b.data;
  check_allocation(n * sizeof(float));
  std::free(b.data);
  b.data = static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64));
  if (b.data == nullptr) {
    b.size = 0;
    throw std::bad_alloc();
  }
  b.size = n;
  return b.data;
}

Scratch::~Scratch() {
  for (Buffer* b : {&q, &s, &o, &p}) std::free(b->data);
}

const Kernels& kernels() {
#if defined(DA_SIMD_X86)
  switch (simd_level()) {
    case SimdLevel::Avx512: return avx512_impl::kKernels;
    case SimdLevel::Avx2: return avx2_impl::kKernels;
    case SimdLevel::Scalar: break;
  }
#endif
  return scalar_impl::kKernels;
}

}  // namespace da::cpu::attn
