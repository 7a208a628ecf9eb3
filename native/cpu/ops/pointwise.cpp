// Element-wise ops on the CPU (activation, geglu, add, average_halves): the vector kernels of rowwise.inl over
// chunks of the flat array spread across the pool.
#include <algorithm>

#include "../../ops/ops.h"
#include "../thread_pool.h"
#include "kernels.h"

namespace da::cpu::ops {

namespace {

// Work per pool task; an op of a single chunk runs on the calling thread, since handing so little
// to the pool costs more than it saves.
constexpr size_t kChunk = size_t(1) << 16;

// fn(begin, end) over [0, n) in chunks of kChunk (whole multiples of `unit`), in parallel.
template <typename Fn>
void chunked(size_t n, size_t unit, Fn&& fn) {
  const size_t step = std::max<size_t>(kChunk / unit, 1) * unit;
  if (n <= step) {
    fn(size_t(0), n);
    return;
  }
  parallel_for((n + step - 1) / step, [&](size_t begin, size_t end, int) { fn(begin * step, std::min(n, end * step)); });
}

}  // namespace

void activation(const Tensor& x, Activation act, Tensor& out) {
  const float* xs = static_cast<const float*>(x.data());
  float* ys = static_cast<float*>(out.data());
  const RowwiseKernels& k = rowwise_kernels();
  chunked(static_cast<size_t>(x.numel()), 1, [&](size_t b, size_t e) { k.activation(xs + b, ys + b, e - b, act); });
}

void geglu(const Tensor& x, Tensor& out) {
  const size_t h = static_cast<size_t>(out.shape.back());
  if (h == 0) return;
  const size_t rows = static_cast<size_t>(out.numel()) / h;
  const float* xs = static_cast<const float*>(x.data());
  float* ys = static_cast<float*>(out.data());
  const RowwiseKernels& k = rowwise_kernels();
  chunked(rows * h, h, [&](size_t b, size_t e) { k.geglu(xs + 2 * b, ys + b, (e - b) / h, h); });
}

void add(const Tensor& a, const Tensor& b, Tensor& out) {
  const float* as = static_cast<const float*>(a.data());
  const float* bs = static_cast<const float*>(b.data());
  float* ys = static_cast<float*>(out.data());
  const RowwiseKernels& k = rowwise_kernels();
  const size_t n = static_cast<size_t>(a.numel());
  if (b.shape == a.shape) {
    chunked(n, 1, [&](size_t lo, size_t hi) { k.add(as + lo, bs + lo, ys + lo, hi - lo); });
    return;
  }
  // b [N, C] over a [N, C, *]: one scalar per (n, c) plane.
  const size_t planes = static_cast<size_t>(b.numel());
  if (planes == 0) return;
  const size_t plane = n / planes;
  if (plane == 0) return;
  chunked(n, plane, [&](size_t lo, size_t hi) {
    for (size_t p = lo / plane; p < hi / plane; ++p) k.add_scalar(as + p * plane, bs[p], ys + p * plane, plane);
  });
}

void average_halves(const Tensor& x, Tensor& out) {
  const float* xs = static_cast<const float*>(x.data());
  float* ys = static_cast<float*>(out.data());
  const size_t half = static_cast<size_t>(out.numel());
  chunked(half, 1, [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) ys[i] = 0.5f * (xs[i] + xs[half + i]);
  });
}

}  // namespace da::cpu::ops
