// Data movement on CUDA (ops.h): concat, slice, permute, upsample_nearest2x. These copy bits
// (16- or 32-bit words, whatever the dtype), so every result is exact.
//
//   concat, slice: strided row copies (rows of `width` elements between two pitches), one launch
//     per concat input; blockIdx.y walks rows, x walks a row, so no index is divided.
//   permute: the problem is first collapsed as the CPU backend does (size-1 dims dropped, output
//     dims adjacent and in order in the input merged). When the innermost dim stays innermost,
//     each output element's input offset is decoded from its index (reads stay coalesced along
//     rows). Otherwise it is a batch of 2-D transposes between the input's unit-stride dim and the
//     output's last dim, in 32 x 32 shared-memory tiles so that both the reads and the writes are
//     coalesced (the classic tiled transpose; a padded tile row avoids bank conflicts).
//   upsample_nearest2x: one thread per output element.
#include <vector>

#include "../../ops/ops.h"
#include "common.cuh"

namespace da::cuda::ops {

namespace {

// ---- strided row copies ----

template <typename B>
__global__ void copy_rows_kernel(const B* __restrict__ src, int64_t src_pitch, B* __restrict__ dst, int64_t dst_pitch,
                                 int64_t rows, int64_t width) {
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const B* s = src + r * src_pitch;
    B* d = dst + r * dst_pitch;
    for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < width;
         j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
      d[j] = s[j];
    }
  }
}

// dst[r * dst_pitch + j] = src[r * src_pitch + j] for r < rows, j < width (elements of `dtype`).
void copy_rows(DType dtype, const void* src, int64_t src_pitch, void* dst, int64_t dst_pitch, int64_t rows, int64_t width) {
  if (rows == 0 || width == 0) return;
  const int64_t xb = (width + kThreads - 1) / kThreads;
  const dim3 grid(static_cast<unsigned>(xb < 4096 ? xb : 4096), static_cast<unsigned>(rows < 65535 ? rows : 65535));
  with_bits(dtype, [&](auto tag) {
    using B = decltype(tag);
    copy_rows_kernel<B><<<grid, kThreads, 0, cuda::stream()>>>(static_cast<const B*>(src), src_pitch, static_cast<B*>(dst), dst_pitch,
                                                        rows, width);
    DA_CUDA_CHECK(cudaGetLastError());
  });
}

int64_t product(const std::vector<int64_t>& shape, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= shape[i];
  return p;
}

// ---- permute ----

// Collapsed output dims: extent and input stride of each (dims <= kMaxDims).
struct Collapsed {
  int dims = 0;
  int64_t size[kMaxDims] = {};
  int64_t in_stride[kMaxDims] = {};
  int64_t out_stride[kMaxDims] = {};  // of the collapsed output, row-major
};

template <typename B>
__global__ void permute_kernel(const B* __restrict__ x, B* __restrict__ y, int64_t n, Collapsed c) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t rest = i, off = 0;
    for (int d = c.dims - 1; d >= 0; --d) {
      const int64_t q = rest / c.size[d];
      off += (rest - q * c.size[d]) * c.in_stride[d];
      rest = q;
    }
    y[i] = x[off];
  }
}

constexpr int kTile = 32, kTileRows = 8;

// Batched transpose: dim q (input stride 1) and the last output dim L; `outer` combinations of the
// other dims. Tile t covers (outer index, 32 values of q, 32 values of L).
template <typename B>
__global__ void __launch_bounds__(kTile * kTileRows)
    transpose_kernel(const B* __restrict__ x, B* __restrict__ y, Collapsed c, int q, int64_t outer) {
  __shared__ uint32_t tile[kTile][kTile + 1];  // [l][q]
  const int L = c.dims - 1;
  const int64_t A = c.size[q], Bn = c.size[L];
  const int64_t a_tiles = (A + kTile - 1) / kTile, b_tiles = (Bn + kTile - 1) / kTile;
  const int64_t tiles = outer * a_tiles * b_tiles;
  const int tx = threadIdx.x % kTile, ty = threadIdx.x / kTile;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t bt = t % b_tiles, rest = t / b_tiles, at = rest % a_tiles;
    int64_t o = rest / a_tiles, in_off = 0, out_off = 0;
    for (int d = c.dims - 1; d >= 0; --d) {
      if (d == q || d == L) continue;
      const int64_t i = o % c.size[d];
      o /= c.size[d];
      in_off += i * c.in_stride[d];
      out_off += i * c.out_stride[d];
    }
    const int64_t a0 = at * kTile, b0 = bt * kTile;
    // Read along q (contiguous in x), write along L (contiguous in y).
    for (int k = ty; k < kTile; k += kTileRows) {
      const int64_t a = a0 + tx, b = b0 + k;
      if (a < A && b < Bn) tile[k][tx] = x[in_off + a + b * c.in_stride[L]];
    }
    __syncthreads();
    for (int k = ty; k < kTile; k += kTileRows) {
      const int64_t a = a0 + k, b = b0 + tx;
      if (a < A && b < Bn) y[out_off + a * c.out_stride[q] + b] = static_cast<B>(tile[tx][k]);
    }
    __syncthreads();
  }
}

// ---- upsample ----

template <typename B>
__global__ void upsample_kernel(const B* __restrict__ x, B* __restrict__ y, int64_t n, int64_t H, int64_t W) {
  const int64_t W2 = 2 * W, H2 = 2 * H;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t ox = i % W2, rest = i / W2, oy = rest % H2, plane = rest / H2;
    y[i] = x[(plane * H + (oy >> 1)) * W + (ox >> 1)];
  }
}

}  // namespace

void concat(const std::vector<Tensor>& inputs, int dim, Tensor& out) {
  if (out.numel() == 0) return;
  const int64_t outer = product(out.shape, 0, dim), inner = product(out.shape, dim + 1, out.shape.size());
  const int64_t out_row = out.shape[dim] * inner;
  const size_t es = dtype_size(out.dtype);
  int64_t offset = 0;
  for (const Tensor& t : inputs) {
    const int64_t row = t.shape[dim] * inner;
    copy_rows(out.dtype, t.data(), row, static_cast<char*>(out.data()) + static_cast<size_t>(offset) * es, out_row, outer, row);
    offset += row;
  }
}

void slice(const Tensor& x, int dim, int64_t begin, Tensor& out) {
  if (out.numel() == 0) return;
  const int64_t outer = product(x.shape, 0, dim), inner = product(x.shape, dim + 1, x.shape.size());
  const int64_t in_row = x.shape[dim] * inner, out_row = out.shape[dim] * inner;
  const size_t es = dtype_size(x.dtype);
  copy_rows(x.dtype, static_cast<const char*>(x.data()) + static_cast<size_t>(begin * inner) * es, in_row, out.data(), out_row,
            outer, out_row);
}

void permute(const Tensor& x, const std::vector<int>& perm, Tensor& out) {
  const int64_t n = static_cast<int64_t>(out.numel());
  if (n == 0) return;
  const size_t rank = x.shape.size();
  std::vector<int64_t> in_stride(rank);
  for (size_t d = rank, s = 1; d-- > 0;) in_stride[d] = static_cast<int64_t>(s), s *= static_cast<size_t>(x.shape[d]);
  Collapsed c;
  for (size_t i = 0; i < rank; ++i) {
    const int64_t sz = x.shape[perm[i]], st = in_stride[perm[i]];
    if (sz == 1) continue;
    if (c.dims > 0 && c.in_stride[c.dims - 1] == st * sz) {
      c.size[c.dims - 1] *= sz;
      c.in_stride[c.dims - 1] = st;
    } else {
      c.size[c.dims] = sz, c.in_stride[c.dims] = st;
      ++c.dims;
    }
  }
  int64_t s = 1;
  for (int d = c.dims; d-- > 0;) c.out_stride[d] = s, s *= c.size[d];

  with_bits(x.dtype, [&](auto tag) {
    using B = decltype(tag);
    const B* xs = static_cast<const B*>(x.data());
    B* ys = static_cast<B*>(out.data());
    if (c.dims == 0 || c.in_stride[c.dims - 1] == 1) {  // a single element, or rows stay rows
      permute_kernel<B><<<grid_for(n), kThreads, 0, cuda::stream()>>>(xs, ys, n, c);
    } else {
      int q = 0;
      while (c.in_stride[q] != 1) ++q;
      const int64_t A = c.size[q], Bn = c.size[c.dims - 1];
      const int64_t outer = n / (A * Bn);
      const int64_t tiles = outer * ((A + kTile - 1) / kTile) * ((Bn + kTile - 1) / kTile);
      const unsigned grid = static_cast<unsigned>(tiles < (int64_t(1) << 20) ? tiles : (int64_t(1) << 20));
      transpose_kernel<B><<<grid, kTile * kTileRows, 0, cuda::stream()>>>(xs, ys, c, q, outer);
    }
    DA_CUDA_CHECK(cudaGetLastError());
  });
}

void upsample_nearest2x(const Tensor& x, Tensor& out) {
  const int64_t n = static_cast<int64_t>(out.numel());
  if (n == 0) return;
  with_bits(x.dtype, [&](auto tag) {
    using B = decltype(tag);
    upsample_kernel<B><<<grid_for(n), kThreads, 0, cuda::stream()>>>(static_cast<const B*>(x.data()), static_cast<B*>(out.data()), n,
                                                             x.shape[2], x.shape[3]);
    DA_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace da::cuda::ops
