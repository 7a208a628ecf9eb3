// Vector math shared by the op kernels (gemm.inl's epilogue, rowwise.inl): division, sigmoid and
// the activations, on top of the vector type V of native/cpu/simd/vec.h. Included inside the
// per-ISA namespace (and an anonymous namespace) of each kernel translation unit, so every level
// gets its own copy and nothing here is shared by name across levels (see vec.h).
//
// Requires: V (the vector type) and W (its lane count) declared by the including file.

inline ::da::cpu::simd::VecScalar vdiv(::da::cpu::simd::VecScalar a, ::da::cpu::simd::VecScalar b) { return {a.v / b.v}; }
#if defined(__AVX2__) && defined(__FMA__)
inline ::da::cpu::simd::VecAvx2 vdiv(::da::cpu::simd::VecAvx2 a, ::da::cpu::simd::VecAvx2 b) { return {_mm256_div_ps(a.v, b.v)}; }
#endif
#if defined(__AVX512F__)
inline ::da::cpu::simd::VecAvx512 vdiv(::da::cpu::simd::VecAvx512 a, ::da::cpu::simd::VecAvx512 b) { return {_mm512_div_ps(a.v, b.v)}; }
#endif

// 1 / (1 + e^-x). V::exp clamps its argument at 88, so very negative x gives about 6e-39 instead
// of underflowing further: an absolute error far below float32 resolution of any sum it enters.
inline V sigmoid(V x) {
  const V one = V::set1(1.f);
  return vdiv(one, V::add(one, V::exp(V::sub(V::zero(), x))));
}

inline V silu(V x) { return V::mul(x, sigmoid(x)); }
inline V quick_gelu(V x) { return V::mul(x, sigmoid(V::mul(V::set1(1.702f), x))); }

// Exact GELU, 0.5 x (1 + erf(x / sqrt 2)). With z = |x| / sqrt 2, erfc(z) = t exp(-z^2 + P(t)),
// t = 1 / (1 + z / 2), P a degree-9 polynomial (the Chebyshev fit published in Press et al.,
// Numerical Recipes, 2nd ed., section 6.2), with relative error below 1.2e-7 for every z >= 0.
// Then 1 + erf is 2 - erfc for x >= 0 and erfc itself for x < 0, so the negative tail keeps its
// relative accuracy instead of being the difference of two numbers near 1 (as 1 + erf(x) in
// float32 would be).
inline V gelu(V x) {
  const V a = V::max(x, V::sub(V::zero(), x));
  const V z = V::mul(a, V::set1(0.70710678118654752f));
  const V t = vdiv(V::set1(1.f), V::fmadd(V::set1(0.5f), z, V::set1(1.f)));
  V p = V::set1(0.17087277f);
  p = V::fmadd(p, t, V::set1(-0.82215223f));
  p = V::fmadd(p, t, V::set1(1.48851587f));
  p = V::fmadd(p, t, V::set1(-1.13520398f));
  p = V::fmadd(p, t, V::set1(0.27886807f));
  p = V::fmadd(p, t, V::set1(-0.18628806f));
  p = V::fmadd(p, t, V::set1(0.09678418f));
  p = V::fmadd(p, t, V::set1(0.37409196f));
  p = V::fmadd(p, t, V::set1(1.00002368f));
  p = V::fmadd(p, t, V::set1(-1.26551223f));
  const V erfc = V::mul(t, V::exp(V::sub(p, V::mul(z, z))));
  const V one_plus_erf = V::select_gt(V::zero(), x, erfc, V::sub(V::set1(2.f), erfc));
  return V::mul(V::mul(V::set1(0.5f), x), one_plus_erf);
}

// act(x) for an activation known at compile time; callers switch once per loop, not per vector.
template <Activation A>
inline V activate(V x) {
  if constexpr (A == Activation::Silu) return silu(x);
  if constexpr (A == Activation::Gelu) return gelu(x);
  if constexpr (A == Activation::QuickGelu) return quick_gelu(x);
  return x;
}

// Loads and stores of the first `n` (< W) lanes, for row tails: the tail goes through the same
// vector code as the body, so every element of a row is rounded the same way.
inline V load_part(const float* p, int n) {
  float buf[W] = {};
  for (int i = 0; i < n; ++i) buf[i] = p[i];
  return V::load(buf);
}
inline void store_part(V x, float* p, int n) {
  float buf[W];
  x.store(buf);
  for (int i = 0; i < n; ++i) p[i] = buf[i];
}
