// embedding on CUDA (ops.h): rows of table [V, D] gathered by ids into y [ids, D]. The ids live on
// the host (checked by ops.cpp); they travel as kernel arguments, up to kIdsPerLaunch per launch,
// so there is no device buffer to allocate, fill and keep alive until the kernel has run (the op
// needs no synchronisation). The copy is bitwise, exact in every dtype.
#include <vector>

#include "../../ops/ops.h"
#include "common.cuh"

namespace da::cuda::ops {

namespace {

constexpr int kIdsPerLaunch = 256;  // 2 KiB of arguments, within the 4 KiB every architecture takes

struct Ids {
  int count;
  int64_t row[kIdsPerLaunch];
};

template <typename B>
__global__ void embedding_kernel(const B* __restrict__ table, B* __restrict__ y, int64_t D, const Ids ids) {
  for (int r = blockIdx.y; r < ids.count; r += gridDim.y) {
    const B* src = table + ids.row[r] * D;
    B* dst = y + r * D;
    for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < D;
         j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
      dst[j] = src[j];
    }
  }
}

}  // namespace

void embedding(const Tensor& table, const std::vector<int64_t>& ids, Tensor& out) {
  const int64_t D = table.shape[1];
  if (D == 0 || ids.empty()) return;
  const int64_t V = table.shape[0];
  const size_t es = dtype_size(table.dtype);
  const int64_t xb = (D + kThreads - 1) / kThreads;
  for (size_t i0 = 0; i0 < ids.size(); i0 += kIdsPerLaunch) {
    Ids batch{};
    batch.count = static_cast<int>(ids.size() - i0 < kIdsPerLaunch ? ids.size() - i0 : kIdsPerLaunch);
    for (int r = 0; r < batch.count; ++r) {
      const int64_t id = ids[i0 + r];
      require(id >= 0 && id < V, "embedding", "id " + std::to_string(id) + " is outside [0, " + std::to_string(V) + ")");
      batch.row[r] = id;
    }
    const dim3 grid(static_cast<unsigned>(xb < 1024 ? xb : 1024), static_cast<unsigned>(batch.count));
    void* dst = static_cast<char*>(out.data()) + i0 * static_cast<size_t>(D) * es;
    with_bits(table.dtype, [&](auto tag) {
      using B = decltype(tag);
      embedding_kernel<B><<<grid, kThreads, 0, cuda::stream()>>>(static_cast<const B*>(table.data()), static_cast<B*>(dst), D, batch);
      DA_CUDA_CHECK(cudaGetLastError());
    });
  }
}

}  // namespace da::cuda::ops
