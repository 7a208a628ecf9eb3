#include "convert.h"

#include <cstring>
#include <vector>

#include "simd.h"

namespace da::cpu {

namespace {

void f32_to_f16(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = float_to_half(src[i]);
}
void f16_to_f32(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = half_to_float(src[i]);
}
void f32_to_bf16(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = float_to_bf16(src[i]);
}
void bf16_to_f32(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_float(src[i]);
}

const ConvertKernels& kernels() {
#if defined(DA_SIMD_X86)
  switch (simd_level()) {
    case SimdLevel::Avx512: return kConvertAvx512;
    case SimdLevel::Avx2: return kConvertAvx2;
    case SimdLevel::Scalar: break;
  }
#endif
  return kConvertScalar;
}

}  // namespace

const ConvertKernels kConvertScalar = {f32_to_f16, f16_to_f32, f32_to_bf16, bf16_to_f32};

void convert(void* dst, DType dst_type, const void* src, DType src_type, size_t n) {
  if (dst_type == src_type) {
    std::memcpy(dst, src, n * dtype_size(src_type));
    return;
  }
  const ConvertKernels& k = kernels();
  if (src_type == DType::Float32) {
    auto* out = static_cast<uint16_t*>(dst);
    (dst_type == DType::Float16 ? k.f32_to_f16 : k.f32_to_bf16)(static_cast<const float*>(src), out, n);
    return;
  }
  if (dst_type == DType::Float32) {
    auto* out = static_cast<float*>(dst);
    (src_type == DType::Float16 ? k.f16_to_f32 : k.bf16_to_f32)(static_cast<const uint16_t*>(src), out, n);
    return;
  }
  // float16 <-> bfloat16 goes through float32, which is exact for every 16-bit value, in chunks.
  constexpr size_t kChunk = 4096;
  std::vector<float> tmp(n < kChunk ? n : kChunk);
  for (size_t i = 0; i < n; i += kChunk) {
    const size_t m = n - i < kChunk ? n - i : kChunk;
    convert(tmp.data(), DType::Float32, static_cast<const uint16_t*>(src) + i, src_type, m);
    convert(static_cast<uint16_t*>(dst) + i, dst_type, tmp.data(), DType::Float32, m);
  }
}

}  // namespace da::cpu
