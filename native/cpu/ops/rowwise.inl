// The streaming kernels of the model ops (activations, GEGLU, adds, the statistics and the
// normalisation of group and layer norm), written once against the vector type V and included by
// one translation unit per SIMD level inside its own namespace (see kernels.h). Row tails go through
// the same vector code as the body (load_part / store_part), so results do not depend on where an
// element falls in a row.
//
// Requires: KERNEL_V (the vector type) defined by the including file.

namespace {

using V = KERNEL_V;
constexpr int W = V::W;

#include "vmath.inl"

inline V load_n(const float* p, size_t n) { return n >= static_cast<size_t>(W) ? V::load(p) : load_part(p, static_cast<int>(n)); }
inline void store_n(V x, float* p, size_t n) {
  if (n >= static_cast<size_t>(W)) {
    x.store(p);
  } else {
    store_part(x, p, static_cast<int>(n));
  }
}

template <Activation A>
void activation_loop(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; i += W) store_n(activate<A>(load_n(x + i, n - i)), y + i, n - i);
}

void activation(const float* x, float* y, size_t n, Activation act) {
  switch (act) {
    case Activation::Silu: activation_loop<Activation::Silu>(x, y, n); break;
    case Activation::Gelu: activation_loop<Activation::Gelu>(x, y, n); break;
    case Activation::QuickGelu: activation_loop<Activation::QuickGelu>(x, y, n); break;
    case Activation::None: activation_loop<Activation::None>(x, y, n); break;
  }
}

void geglu(const float* x, float* y, size_t rows, size_t h) {
  for (size_t r = 0; r < rows; ++r) {
    const float* value = x + r * 2 * h;
    const float* gate = value + h;
    float* out = y + r * h;
    for (size_t j = 0; j < h; j += W) {
      store_n(V::mul(load_n(value + j, h - j), gelu(load_n(gate + j, h - j))), out + j, h - j);
    }
  }
}

void add(const float* a, const float* b, float* y, size_t n) {
  for (size_t i = 0; i < n; i += W) store_n(V::add(load_n(a + i, n - i), load_n(b + i, n - i)), y + i, n - i);
}

void add_scalar(const float* a, float s, float* y, size_t n) {
  const V sv = V::set1(s);
  for (size_t i = 0; i < n; i += W) store_n(V::add(load_n(a + i, n - i), sv), y + i, n - i);
}

// Sums of x - shift and of its square (kernels.h: moments). Four vector accumulators per sum hide
// the add latency; each chunk of float sums is short enough (kChunk / (4 W) terms per lane) for its
// rounding error to be negligible before the fold into double.
void shifted_sums(const float* x, size_t n, float shift, double* s1, double* s2) {
  constexpr size_t kChunk = 4096;
  const V sh = V::set1(shift);
  double t1 = 0, t2 = 0;
  for (size_t c0 = 0; c0 < n; c0 += kChunk) {
    const size_t c1 = n - c0 < kChunk ? n : c0 + kChunk;
    V a[4] = {V::zero(), V::zero(), V::zero(), V::zero()}, q[4] = {V::zero(), V::zero(), V::zero(), V::zero()};
    size_t i = c0;
    for (; i + 4 * W <= c1; i += 4 * W) {
      for (int u = 0; u < 4; ++u) {
        const V d = V::sub(V::load(x + i + u * W), sh);
        a[u] = V::add(a[u], d);
        q[u] = V::fmadd(d, d, q[u]);
      }
    }
    for (; i + W <= c1; i += W) {
      const V d = V::sub(V::load(x + i), sh);
      a[0] = V::add(a[0], d);
      q[0] = V::fmadd(d, d, q[0]);
    }
    for (; i < c1; ++i) {
      const double d = static_cast<double>(x[i]) - shift;
      t1 += d;
      t2 += d * d;
    }
    t1 += static_cast<double>(V::add(V::add(a[0], a[1]), V::add(a[2], a[3])).reduce_add());
    t2 += static_cast<double>(V::add(V::add(q[0], q[1]), V::add(q[2], q[3])).reduce_add());
  }
  *s1 = t1;
  *s2 = t2;
}

void moments(const float* x, size_t n, float eps, float* mean, float* rstd) {
  double s1 = 0, s2 = 0;
  shifted_sums(x, n, x[0], &s1, &s2);
  const double d = s1 / static_cast<double>(n);
  const double var = s2 / static_cast<double>(n) - d * d;
  *mean = static_cast<float>(x[0] + d);
  *rstd = static_cast<float>(1.0 / std::sqrt((var > 0 ? var : 0) + eps));
}

void scale_shift(const float* x, float* y, size_t n, float mean, float scale, float bias, bool silu_after) {
  const V m = V::set1(mean), s = V::set1(scale), b = V::set1(bias);
  if (silu_after) {
    for (size_t i = 0; i < n; i += W) store_n(silu(V::fmadd(V::sub(load_n(x + i, n - i), m), s, b)), y + i, n - i);
  } else {
    for (size_t i = 0; i < n; i += W) store_n(V::fmadd(V::sub(load_n(x + i, n - i), m), s, b), y + i, n - i);
  }
}

void layer_norm(const float* x, float* y, size_t rows, size_t D, float eps, const float* w, const float* b) {
  for (size_t r = 0; r < rows; ++r, x += D, y += D) {
    float mean, rstd;
    moments(x, D, eps, &mean, &rstd);
    const V m = V::set1(mean), rs = V::set1(rstd);
    size_t i = 0;
    if (w) {
      for (; i + W <= D; i += W) V::fmadd(V::mul(V::sub(V::load(x + i), m), rs), V::load(w + i), V::load(b + i)).store(y + i);
    } else {
      for (; i + W <= D; i += W) V::mul(V::sub(V::load(x + i), m), rs).store(y + i);
    }
    if (i < D) {
      const int n = static_cast<int>(D - i);
      const V t = V::mul(V::sub(load_part(x + i, n), m), rs);
      store_part(w ? V::fmadd(t, load_part(w + i, n), load_part(b + i, n)) : t, y + i, n);
    }
  }
}

}  // namespace

extern const RowwiseKernels kRowwise;
const RowwiseKernels kRowwise = {activation, geglu, add, add_scalar, moments, scale_shift, layer_norm};
