// Element types and their scalar conversions.
//
// float16 is IEEE 754 binary16; bfloat16 is the top half of a binary32. Both convert from float32
// with round-to-nearest-even, keep infinities, and map every NaN to a quiet NaN, exactly as the
// CUDA intrinsics __float2half_rn / __float2bfloat16_rn do, so that CPU and CUDA tensors converted
// from the same data hold the same bits (NaN payloads aside).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace da {

enum class DType : int { Float32 = 0, Float16 = 1, BFloat16 = 2 };

inline size_t dtype_size(DType t) { return t == DType::Float32 ? 4 : 2; }
const char* dtype_name(DType t);
// Throws E_DTYPE for an unknown name.
DType dtype_from_name(const std::string& name);

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t float_to_bf16(float f) {
  uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16_to_float(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

uint16_t float_to_half(float f);
float half_to_float(uint16_t h);

}  // namespace da
