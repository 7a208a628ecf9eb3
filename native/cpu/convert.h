// Element-wise dtype conversion on the CPU, one implementation per SIMD path with the exact same
// results (round-to-nearest-even; see core/dtype.h for the rules).
#pragma once

#include <cstddef>
#include <cstdint>

#include "../core/dtype.h"

namespace da::cpu {

struct ConvertKernels {
  void (*f32_to_f16)(const float* src, uint16_t* dst, size_t n);
  void (*f16_to_f32)(const uint16_t* src, float* dst, size_t n);
  void (*f32_to_bf16)(const float* src, uint16_t* dst, size_t n);
  void (*bf16_to_f32)(const uint16_t* src, float* dst, size_t n);
};

extern const ConvertKernels kConvertScalar;
#if defined(DA_SIMD_X86)
extern const ConvertKernels kConvertAvx2;
extern const ConvertKernels kConvertAvx512;
#endif

// Converts `n` elements from `src` (of `src_type`) to `dst` (of `dst_type`) with the selected path.
void convert(void* dst, DType dst_type, const void* src, DType src_type, size_t n);

}  // namespace da::cpu
