// A minimal float vector type for the kernels in native/cpu/attention/*.inl, defined for the ISA the
// including translation unit is compiled for: VecAvx512 (16 lanes) under -mavx512f, VecAvx2 (8 lanes)
// under -mavx2 -mfma, VecScalar (1 lane) always. Kernels are written once against this interface.
//
// Everything here is `static inline` inside the caller's namespace-scoped struct and must stay so:
// a non-inlined function compiled with AVX-512 flags and shared by name with a baseline TU could be
// picked by the linker for the baseline caller (one definition rule), and crash older CPUs.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace da::cpu::simd {

// exp(x) for x <= 0 (softmax arguments; larger x is clamped at 88), relative error below 2e-7:
// x = n ln2 + r with |r| <= ln2/2, e^r by a degree-6 polynomial (Cephes-style coefficients,
// re-fitted), 2^n through the exponent bits. Inputs below -87.3 (including -inf) give exactly 0.
constexpr float kExpLo = -87.33654f;
constexpr float kExpHi = 88.0f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f;
constexpr float kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

struct VecScalar {
  static constexpr int W = 1;
  float v;
  static inline VecScalar zero() { return {0.f}; }
  static inline VecScalar set1(float x) { return {x}; }
  static inline VecScalar load(const float* p) { return {*p}; }
  inline void store(float* p) const { *p = v; }
  static inline VecScalar fmadd(VecScalar a, VecScalar b, VecScalar c) { return {a.v * b.v + c.v}; }
  static inline VecScalar mul(VecScalar a, VecScalar b) { return {a.v * b.v}; }
  static inline VecScalar add(VecScalar a, VecScalar b) { return {a.v + b.v}; }
  static inline VecScalar sub(VecScalar a, VecScalar b) { return {a.v - b.v}; }
  static inline VecScalar max(VecScalar a, VecScalar b) { return {a.v > b.v ? a.v : b.v}; }
  static inline VecScalar min(VecScalar a, VecScalar b) { return {a.v < b.v ? a.v : b.v}; }
  // (a > b) ? x : y, per lane
  static inline VecScalar select_gt(VecScalar a, VecScalar b, VecScalar x, VecScalar y) { return {a.v > b.v ? x.v : y.v}; }
  inline float reduce_add() const { return v; }
  inline float reduce_min() const { return v; }
  inline float reduce_max() const { return v; }
  static inline VecScalar exp(VecScalar x) { return {x.v < kExpLo ? 0.f : std::exp(x.v < kExpHi ? x.v : kExpHi)}; }
};

#if defined(__AVX512F__)
struct VecAvx512 {
  static constexpr int W = 16;
  __m512 v;
  static inline VecAvx512 zero() { return {_mm512_setzero_ps()}; }
  static inline VecAvx512 set1(float x) { return {_mm512_set1_ps(x)}; }
  static inline VecAvx512 load(const float* p) { return {_mm512_loadu_ps(p)}; }
  inline void store(float* p) const { _mm512_storeu_ps(p, v); }
  static inline VecAvx512 fmadd(VecAvx512 a, VecAvx512 b, VecAvx512 c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
  static inline VecAvx512 mul(VecAvx512 a, VecAvx512 b) { return {_mm512_mul_ps(a.v, b.v)}; }
  static inline VecAvx512 add(VecAvx512 a, VecAvx512 b) { return {_mm512_add_ps(a.v, b.v)}; }
  static inline VecAvx512 sub(VecAvx512 a, VecAvx512 b) { return {_mm512_sub_ps(a.v, b.v)}; }
  static inline VecAvx512 max(VecAvx512 a, VecAvx512 b) { return {_mm512_max_ps(a.v, b.v)}; }
  static inline VecAvx512 min(VecAvx512 a, VecAvx512 b) { return {_mm512_min_ps(a.v, b.v)}; }
  static inline VecAvx512 select_gt(VecAvx512 a, VecAvx512 b, VecAvx512 x, VecAvx512 y) {
    return {_mm512_mask_blend_ps(_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ), y.v, x.v)};
  }
  inline float reduce_add() const { return _mm512_reduce_add_ps(v); }
  inline float reduce_min() const { return _mm512_reduce_min_ps(v); }
  inline float reduce_max() const { return _mm512_reduce_max_ps(v); }
  static inline VecAvx512 exp(VecAvx512 x) {
    const __mmask16 underflow = _mm512_cmp_ps_mask(x.v, _mm512_set1_ps(kExpLo), _CMP_LT_OQ);
    __m512 xs = _mm512_min_ps(_mm512_max_ps(x.v, _mm512_set1_ps(kExpLo)), _mm512_set1_ps(kExpHi));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xs, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    xs = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), xs);
    xs = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), xs);
    __m512 p = _mm512_set1_ps(kP0);
    p = _mm512_fmadd_ps(p, xs, _mm512_set1_ps(kP1));
    p = _mm512_fmadd_ps(p, xs, _mm512_set1_ps(kP2));
    p = _mm512_fmadd_ps(p, xs, _mm512_set1_ps(kP3));
    p = _mm512_fmadd_ps(p, xs, _mm512_set1_ps(kP4));
    p = _mm512_fmadd_ps(p, xs, _mm512_set1_ps(kP5));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(xs, xs), _mm512_add_ps(xs, _mm512_set1_ps(1.f)));
    const __m512 r = _mm512_scalef_ps(p, n);  // p * 2^n
    return {_mm512_maskz_mov_ps(static_cast<__mmask16>(~underflow), r)};
  }
};
#endif

#if defined(__AVX2__) && defined(__FMA__)
struct VecAvx2 {
  static constexpr int W = 8;
  __m256 v;
  static inline VecAvx2 zero() { return {_mm256_setzero_ps()}; }
  static inline VecAvx2 set1(float x) { return {_mm256_set1_ps(x)}; }
  static inline VecAvx2 load(const float* p) { return {_mm256_loadu_ps(p)}; }
  inline void store(float* p) const { _mm256_storeu_ps(p, v); }
  static inline VecAvx2 fmadd(VecAvx2 a, VecAvx2 b, VecAvx2 c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
  static inline VecAvx2 mul(VecAvx2 a, VecAvx2 b) { return {_mm256_mul_ps(a.v, b.v)}; }
  static inline VecAvx2 add(VecAvx2 a, VecAvx2 b) { return {_mm256_add_ps(a.v, b.v)}; }
  static inline VecAvx2 sub(VecAvx2 a, VecAvx2 b) { return {_mm256_sub_ps(a.v, b.v)}; }
  static inline VecAvx2 max(VecAvx2 a, VecAvx2 b) { return {_mm256_max_ps(a.v, b.v)}; }
  static inline VecAvx2 min(VecAvx2 a, VecAvx2 b) { return {_mm256_min_ps(a.v, b.v)}; }
  static inline VecAvx2 select_gt(VecAvx2 a, VecAvx2 b, VecAvx2 x, VecAvx2 y) {
    return {_mm256_blendv_ps(y.v, x.v, _mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ))};
  }
  inline float reduce_min() const {
    __m128 s = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_min_ps(s, _mm_movehl_ps(s, s));
    s = _mm_min_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  inline float reduce_add() const {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  inline float reduce_max() const {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static inline VecAvx2 exp(VecAvx2 x) {
    const __m256 underflow = _mm256_cmp_ps(x.v, _mm256_set1_ps(kExpLo), _CMP_LT_OQ);
    __m256 xs = _mm256_min_ps(_mm256_max_ps(x.v, _mm256_set1_ps(kExpLo)), _mm256_set1_ps(kExpHi));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(xs, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    xs = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), xs);
    xs = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), xs);
    __m256 p = _mm256_set1_ps(kP0);
    p = _mm256_fmadd_ps(p, xs, _mm256_set1_ps(kP1));
    p = _mm256_fmadd_ps(p, xs, _mm256_set1_ps(kP2));
    p = _mm256_fmadd_ps(p, xs, _mm256_set1_ps(kP3));
    p = _mm256_fmadd_ps(p, xs, _mm256_set1_ps(kP4));
    p = _mm256_fmadd_ps(p, xs, _mm256_set1_ps(kP5));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(xs, xs), _mm256_add_ps(xs, _mm256_set1_ps(1.f)));
    // 2^n: n is in [-126, 127] after the clamp, so (n + 127) << 23 is a valid exponent field.
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    const __m256 r = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return {_mm256_andnot_ps(underflow, r)};
  }
};
#endif

}  // namespace da::cpu::simd
