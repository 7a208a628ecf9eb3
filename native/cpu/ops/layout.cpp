// Data movement on the CPU: concat, slice, embedding (lists of contiguous copies), permute (row
// copies, or a tiled 2-D transpose when the innermost dim moves) and upsample_nearest2x.
#include <algorithm>
#include <cstring>
#include <vector>

#include "../../ops/ops.h"
#include "../thread_pool.h"

namespace da::cpu::ops {

namespace {

struct Copy {
  const float* src;
  float* dst;
  size_t n;
};

// Runs the copies across the pool, long ones cut into pieces so that one big copy (the two halves
// of a channel concat of a single image) still uses every thread.
void run_copies(const std::vector<Copy>& copies) {
  constexpr size_t kPiece = size_t(1) << 16;
  std::vector<Copy> pieces;
  for (const Copy& c : copies) {
    for (size_t i = 0; i < c.n; i += kPiece) pieces.push_back({c.src + i, c.dst + i, std::min(kPiece, c.n - i)});
  }
  parallel_for(pieces.size(), [&](size_t begin, size_t end, int) {
    for (size_t i = begin; i < end; ++i) std::memcpy(pieces[i].dst, pieces[i].src, sizeof(float) * pieces[i].n);
  });
}

size_t product(const std::vector<int64_t>& shape, size_t from, size_t to) {
  size_t p = 1;
  for (size_t i = from; i < to; ++i) p *= static_cast<size_t>(shape[i]);
  return p;
}

}  // namespace

void concat(const std::vector<Tensor>& inputs, int dim, Tensor& out) {
  const size_t outer = product(out.shape, 0, dim), inner = product(out.shape, dim + 1, out.shape.size());
  const size_t out_row = static_cast<size_t>(out.shape[dim]) * inner;
  float* ys = static_cast<float*>(out.data());
  std::vector<Copy> copies;
  size_t offset = 0;
  for (const Tensor& t : inputs) {
    const size_t row = static_cast<size_t>(t.shape[dim]) * inner;
    const float* src = static_cast<const float*>(t.data());
    for (size_t o = 0; o < outer && row > 0; ++o) copies.push_back({src + o * row, ys + o * out_row + offset, row});
    offset += row;
  }
  run_copies(copies);
}

void slice(const Tensor& x, int dim, int64_t begin, Tensor& out) {
  const size_t outer = product(x.shape, 0, dim), inner = product(x.shape, dim + 1, x.shape.size());
  const size_t in_row = static_cast<size_t>(x.shape[dim]) * inner, out_row = static_cast<size_t>(out.shape[dim]) * inner;
  if (out_row == 0) return;
  const float* xs = static_cast<const float*>(x.data()) + static_cast<size_t>(begin) * inner;
  float* ys = static_cast<float*>(out.data());
  std::vector<Copy> copies;
  for (size_t o = 0; o < outer; ++o) copies.push_back({xs + o * in_row, ys + o * out_row, out_row});
  run_copies(copies);
}

void embedding(const Tensor& table, const std::vector<int64_t>& ids, Tensor& out) {
  const size_t D = static_cast<size_t>(table.shape[1]);
  if (D == 0) return;
  const float* ts = static_cast<const float*>(table.data());
  float* ys = static_cast<float*>(out.data());
  std::vector<Copy> copies;
  for (size_t i = 0; i < ids.size(); ++i) copies.push_back({ts + static_cast<size_t>(ids[i]) * D, ys + i * D, D});
  run_copies(copies);
}

void upsample_nearest2x(const Tensor& x, Tensor& out) {
  const size_t planes = static_cast<size_t>(x.shape[0] * x.shape[1]), H = static_cast<size_t>(x.shape[2]), W = static_cast<size_t>(x.shape[3]);
  if (planes * H * W == 0) return;
  const float* xs = static_cast<const float*>(x.data());
  float* ys = static_cast<float*>(out.data());
  parallel_for(planes * H, [&](size_t begin, size_t end, int) {
    for (size_t r = begin; r < end; ++r) {
      const float* src = xs + r * W;
      float* dst = ys + r * 4 * W;  // input row r of a plane -> output rows 2r and 2r + 1
      for (size_t j = 0; j < W; ++j) dst[2 * j] = dst[2 * j + 1] = src[j];
      std::memcpy(dst + 2 * W, dst, sizeof(float) * 2 * W);
    }
  });
}

void permute(const Tensor& x, const std::vector<int>& perm, Tensor& out) {
  if (out.numel() == 0) return;
  // Collapse the problem: drop size-1 dims, merge output dims that stay adjacent and in order in
  // the input. What remains has no two neighbours that could be one dim.
  const size_t rank = x.shape.size();
  std::vector<size_t> in_stride(rank);
  for (size_t d = rank, s = 1; d-- > 0;) in_stride[d] = s, s *= static_cast<size_t>(x.shape[d]);
  std::vector<size_t> size, stride;  // per collapsed output dim: extent and input stride
  for (size_t i = 0; i < rank; ++i) {
    const size_t n = static_cast<size_t>(x.shape[perm[i]]), s = in_stride[perm[i]];
    if (n == 1) continue;
    if (!size.empty() && stride.back() == s * n) {
      size.back() *= n;
      stride.back() = s;
    } else {
      size.push_back(n);
      stride.push_back(s);
    }
  }
  const float* xs = static_cast<const float*>(x.data());
  float* ys = static_cast<float*>(out.data());
  if (size.empty()) {  // a single element
    ys[0] = xs[0];
    return;
  }
  if (stride.back() == 1) {
    // The innermost dim stays innermost: contiguous rows of size.back() floats.
    const size_t row = size.back();
    const size_t rows = static_cast<size_t>(out.numel()) / row;
    std::vector<Copy> copies;
    for (size_t r = 0; r < rows; ++r) {
      size_t off = 0, rest = r;
      for (size_t d = size.size() - 1; d-- > 0;) off += rest % size[d] * stride[d], rest /= size[d];
      copies.push_back({xs + off, ys + r * row, row});
    }
    run_copies(copies);
    return;
  }
  // The input's unit-stride dim q moves before the output's last dim L: for every combination of
  // the other dims, a 2-D transpose between q (read contiguously) and L (written contiguously), in
  // kTile x kTile tiles so both sides touch whole cache lines.
  constexpr size_t kTile = 16;
  const size_t dims = size.size(), L = dims - 1;
  size_t q = 0;
  while (stride[q] != 1) ++q;
  std::vector<size_t> out_stride(dims);
  for (size_t d = dims, s = 1; d-- > 0;) out_stride[d] = s, s *= size[d];
  const size_t A = size[q], B = size[L], a_tiles = (A + kTile - 1) / kTile;
  const size_t outer = static_cast<size_t>(out.numel()) / (A * B);
  parallel_for(outer * a_tiles, [&](size_t begin, size_t end, int) {
    for (size_t t = begin; t < end; ++t) {
      size_t in_off = 0, out_off = 0, rest = t / a_tiles;
      for (size_t d = dims; d-- > 0;) {
        if (d == q || d == L) continue;
        const size_t i = rest % size[d];
        rest /= size[d];
        in_off += i * stride[d];
        out_off += i * out_stride[d];
      }
      const size_t a0 = t % a_tiles * kTile, a1 = std::min(A, a0 + kTile);
      for (size_t b0 = 0; b0 < B; b0 += kTile) {
        const size_t b1 = std::min(B, b0 + kTile);
        for (size_t a = a0; a < a1; ++a) {
          const float* src = xs + in_off + a;
          float* dst = ys + out_off + a * out_stride[q];
          for (size_t b = b0; b < b1; ++b) dst[b] = src[b * stride[L]];
        }
      }
    }
  });
}

}  // namespace da::cpu::ops
