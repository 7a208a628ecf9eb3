// linear on the CPU: y[M][N] = x[M][K] . W[N][K]^T + b with the epilogue fused, as one GEMM.
//
// The weight is the B operand, packed once per call into k-major micro-panels of nr output
// features (register transposes; at the UNet's row counts packing is a few percent of the work).
// x is the A operand, read in place. Tasks are blocks of rows times ranges of micro-panels: the
// task's B block (kc x kColBlock floats) stays in L2 while the macro-kernel walks the task's rows in
// slivers of mr (kernels.h, gemm.inl). A few rows (a batch's time embedding) skip the packing and
// take the dot-product kernel instead.
#include <algorithm>

#include "../../ops/ops.h"
#include "../thread_pool.h"
#include "gemm.h"
#include "kernels.h"

namespace da::cpu::ops {

namespace {

// Tuned on Zen 5 (48 KiB L1d, 1 MiB L2 per core) and sensible for any core with >= 512 KiB of L2:
// a B block is kKcLimit x kColBlock floats = 512 KiB; a task's rows of x (kRowBlock x kc) are read
// from memory once per K block.
constexpr int kKcLimit = 256;
constexpr int kColBlock = 512;
constexpr int kRowBlock = 256;
constexpr int kDotBlock = 64;  // weight rows per task of the dot path

}  // namespace

void linear(const Tensor& x, const Tensor& weight, const Tensor* bias, const Epilogue& ep, Tensor& out) {
  const int K = static_cast<int>(weight.shape[1]), N = static_cast<int>(weight.shape[0]);
  const int M = static_cast<int>(out.numel() / std::max<uint64_t>(N, 1));
  if (M == 0 || N == 0) return;
  const GemmKernels& g = gemm_kernels();
  const float* a = static_cast<const float*>(x.data());
  const float* w = static_cast<const float*>(weight.data());
  float* c = static_cast<float*>(out.data());
  EpilogueArgs e;
  e.col_bias = bias ? static_cast<const float*>(bias->data()) : nullptr;
  e.act = ep.act;
  e.residual = ep.residual ? static_cast<const float*>(ep.residual->data()) : nullptr;
  e.ldr = N;
  const bool has_epilogue = e.col_bias || e.residual || e.act != Activation::None;

  if (M <= kDotRows) {
    parallel_for((N + kDotBlock - 1) / kDotBlock, [&](size_t begin, size_t end, int) {
      for (size_t t = begin; t < end; ++t) {
        const int j0 = static_cast<int>(t) * kDotBlock;
        EpilogueArgs et = e;
        if (et.col_bias) et.col_bias += j0;
        if (et.residual) et.residual += j0;
        GemmBlock blk{a, static_cast<size_t>(K), w + static_cast<size_t>(j0) * K, static_cast<size_t>(K), c + j0,
                      static_cast<size_t>(N), M, std::min(kDotBlock, N - j0), K, false, true, has_epilogue ? &et : nullptr};
        g.dots(blk);
      }
    });
    return;
  }

  const int nr = g.nr, mr = g.mr, panels = (N + nr - 1) / nr;
  const size_t panel_size = static_cast<size_t>(K) * nr;
  PooledScratch packed_b;
  float* packed = packed_b.get(panel_size * panels);
  parallel_for(panels, [&](size_t begin, size_t end, int) {
    for (size_t p = begin; p < end; ++p) {
      g.pack(w + p * nr * static_cast<size_t>(K), K, std::min(nr, N - static_cast<int>(p) * nr), K, packed + p * panel_size);
    }
  });

  // Ranges of whole micro-panels (at most kColBlock columns) times ranges of whole slivers (at most
  // kRowBlock rows); rows are cut finer first if that is needed to give every thread several tasks,
  // columns only after that (each column range reads all of its rows of x again).
  const int slivers = (M + mr - 1) / mr;
  int col_ranges = (panels * nr + kColBlock - 1) / kColBlock;
  const int row_ranges = std::max((M + kRowBlock - 1) / kRowBlock, pieces_for_threads(slivers, col_ranges));
  col_ranges = std::max(col_ranges, pieces_for_threads(panels, row_ranges));
  const KBlocks kb(K, kKcLimit);
  parallel_for(static_cast<size_t>(row_ranges) * col_ranges, [&](size_t begin, size_t end, int) {
    for (size_t t = begin; t < end; ++t) {
      const int rr = static_cast<int>(t / col_ranges), cr = static_cast<int>(t % col_ranges);
      const int i0 = static_cast<int>(static_cast<int64_t>(slivers) * rr / row_ranges) * mr;
      const int i1 = std::min(M, static_cast<int>(static_cast<int64_t>(slivers) * (rr + 1) / row_ranges) * mr);
      const int p0 = static_cast<int>(static_cast<int64_t>(panels) * cr / col_ranges);
      const int p1 = static_cast<int>(static_cast<int64_t>(panels) * (cr + 1) / col_ranges);
      if (i0 >= i1 || p0 >= p1) continue;
      const int c0 = p0 * nr;
      EpilogueArgs et = e;
      if (et.col_bias) et.col_bias += c0;
      if (et.residual) et.residual += static_cast<size_t>(i0) * N + c0;
      for (int b = 0; b < kb.count; ++b) {
        const int k0 = kb.begin(b);
        const GemmBlock blk{a + static_cast<size_t>(i0) * K + k0, static_cast<size_t>(K),
                            packed + p0 * panel_size + static_cast<size_t>(k0) * nr, panel_size,
                            c + static_cast<size_t>(i0) * N + c0, static_cast<size_t>(N),
                            i1 - i0, std::min(N, p1 * nr) - c0, kb.size(b), b > 0, b + 1 == kb.count,
                            has_epilogue ? &et : nullptr};
        g.block(blk);
      }
    }
  });
}

}  // namespace da::cpu::ops
