// conv2d on the CPU as an implicit-im2col GEMM: y[O][P] = W[O][K] . col[K][P] per image, with
// K = C*kh*kw and P = Ho*Wo, bias and epilogue fused.
//
// The im2col matrix is never formed whole: its K blocks are gathered for a range of output pixels
// straight from the image into the packed B micro-panels (kernels.h: pack_conv), the layout the
// micro-kernel reads anyway. The weight matrix is the A operand, read in place (row-major [O][K] is
// PyTorch's layout): a sliver of mr output channels stays in L1 while the packed pixels stream
// from L2. Two schedules:
//   large images (P >= kPixelBlock): tasks are (image, pixel range of at most kPixelBlock); each
//     packs its own kc x pixels block per K block into a per-thread buffer that stays in L2.
//   small images (P < kPixelBlock: the UNet's 8x8 and 4x4 levels): the batch's pixels are merged
//     into one row of N*P columns, so micro-panels fill up and each weight sliver is read once for
//     all images; the columns are packed once, in parallel, into a shared buffer (a K super-block
//     at a time), and tasks are ranges of output channels over all columns. Splitting channels
//     instead of pixels is what a small image needs to give every thread work, and packing per
//     task would then repeat the same gathering once per task. The GEMM writes [O][N*P], scattered
//     to [N][O][P] (adding the residual) at the end.
#include <algorithm>
#include <cstring>
#include <vector>

#include "../../ops/ops.h"
#include "../thread_pool.h"
#include "gemm.h"
#include "kernels.h"

namespace da::cpu::ops {

namespace {

// A packed B block per task is kKcLimit x kPixelBlock floats = 512 KiB, in L2 (as in linear.cpp;
// the longer K block halves the loads and stores of C per FMA and measured a few percent faster).
constexpr int kKcLimit = 512;
constexpr int kPixelBlock = 256;
// The shared buffer of the small-image schedule holds at most this many floats (16 MiB, in L3 on
// the machines this was tuned on): a K super-block of as many K blocks as fit.
constexpr size_t kSharedFloats = size_t(1) << 22;

// The runs of GEMM columns [p0, p0 + n) (column q is pixel q % P of image q / P; Wo pixels per
// output row), cut at every micro-panel boundary: the runs of panel b are runs[first[b]] ..
// runs[first[b + 1] - 1].
void make_runs(int p0, int n, int nr, int P, int Wo, int stride, int pad_top, int pad_left, std::vector<ConvRun>& runs,
               std::vector<int>& first) {
  runs.clear();
  first.clear();
  for (int p = 0; p < n; p += nr) {
    first.push_back(static_cast<int>(runs.size()));
    for (int q = p0 + p, end = p0 + std::min(n, p + nr); q < end;) {
      const int pixel = q % P, oy = pixel / Wo, ox = pixel % Wo, len = std::min(Wo - ox, end - q);
      runs.push_back({q - p0 - p, len, q / P, oy * stride - pad_top, ox * stride - pad_left});
      q += len;
    }
  }
  first.push_back(static_cast<int>(runs.size()));
}

// What both schedules need.
struct Conv {
  const GemmKernels& g = gemm_kernels();
  int N, O, K, P, kh, kw, stride, pad_top, pad_left;
  int rowH, rowW, rowWo;  // the input rows runs read, and output pixels per row (see make_runs)
  const float *x, *w, *residual;
  float* y;
  size_t in_image, out_image;
  EpilogueArgs e;
  KBlocks kb{1, 1};

  ConvPanel panel(int n, int k0, int kc, int cols, const std::vector<ConvRun>& runs, const std::vector<int>& first, int q,
                  float* dst) const {
    return {x + n * in_image, in_image, rowH, rowW, kh, kw, stride, k0, kc, cols, runs.data() + first[q], first[q + 1] - first[q], dst};
  }
};

void large_images(const Conv& cv) {
  const int nr = cv.g.nr, P = cv.P;
  const int panels = (P + nr - 1) / nr;
  const int pieces = std::max((P + kPixelBlock - 1) / kPixelBlock, pieces_for_threads(panels, cv.N));
  const int block_panels = (panels + pieces - 1) / pieces;
  const int ranges = (panels + block_panels - 1) / block_panels;
  const size_t panel_floats = static_cast<size_t>((cv.K + cv.kb.count - 1) / cv.kb.count) * block_panels * nr;
  const bool has_epilogue = cv.e.row_bias || cv.e.residual || cv.e.act != Activation::None;
  parallel_for(static_cast<size_t>(cv.N) * ranges, [&](size_t begin, size_t end, int) {
    // Per pool thread and kept across calls (fresh memory costs a page fault per 4 KiB).
    thread_local Scratch scratch;
    thread_local std::vector<ConvRun> runs;
    thread_local std::vector<int> first;
    float* buf = scratch.get(panel_floats);
    for (size_t t = begin; t < end; ++t) {
      const int n = static_cast<int>(t / ranges), p0 = static_cast<int>(t % ranges) * block_panels * nr;
      const int pn = std::min(P, p0 + block_panels * nr) - p0;
      EpilogueArgs et = cv.e;
      if (et.residual) et.residual += n * cv.out_image + p0;
      make_runs(p0, pn, nr, P, cv.rowWo, cv.stride, cv.pad_top, cv.pad_left, runs, first);
      for (int b = 0; b < cv.kb.count; ++b) {
        const int k0 = cv.kb.begin(b), kc = cv.kb.size(b);
        for (int q = 0; q * nr < pn; ++q) cv.g.pack_conv(cv.panel(n, k0, kc, std::min(nr, pn - q * nr), runs, first, q, buf + static_cast<size_t>(q) * kc * nr));
        const GemmBlock blk{cv.w + k0, static_cast<size_t>(cv.K), buf, static_cast<size_t>(kc) * nr, cv.y + n * cv.out_image + p0,
                            static_cast<size_t>(P), cv.O, pn, kc, b > 0, b + 1 == cv.kb.count, has_epilogue ? &et : nullptr};
        cv.g.block(blk);
      }
    }
  });
}

void small_images(const Conv& cv) {
  const int nr = cv.g.nr, mr = cv.g.mr, cols = cv.N * cv.P;
  const int panels = (cols + nr - 1) / nr, row_panels = (cv.O + mr - 1) / mr;
  const size_t padded = static_cast<size_t>(panels) * nr;
  std::vector<ConvRun> runs;
  std::vector<int> first;
  make_runs(0, cols, nr, cv.P, cv.rowWo, cv.stride, cv.pad_top, cv.pad_left, runs, first);
  // With one image the GEMM writes y itself; with several it writes [O][N*P] and scatters.
  PooledScratch shared, merged;
  float* c = cv.N == 1 ? cv.y : merged.get(static_cast<size_t>(cv.O) * cols);
  EpilogueArgs e = cv.e;
  if (cv.N > 1) e.residual = nullptr;
  const bool has_epilogue = e.row_bias || e.residual || e.act != Activation::None;
  const int channel_ranges = pieces_for_threads(row_panels, 1);
  const int col_ranges = pieces_for_threads(panels, channel_ranges);
  for (int b0 = 0; b0 < cv.kb.count;) {
    int b1 = b0 + 1;
    while (b1 < cv.kb.count && (cv.kb.begin(b1 + 1) - cv.kb.begin(b0)) * padded <= kSharedFloats) ++b1;
    const int base = cv.kb.begin(b0);
    float* buf = shared.get((cv.kb.begin(b1) - base) * padded);
    parallel_for(static_cast<size_t>(b1 - b0) * panels, [&](size_t begin, size_t end, int) {
      for (size_t t = begin; t < end; ++t) {
        const int b = b0 + static_cast<int>(t / panels), q = static_cast<int>(t % panels);
        const int k0 = cv.kb.begin(b), kc = cv.kb.size(b);
        cv.g.pack_conv(cv.panel(0, k0, kc, std::min(nr, cols - q * nr), runs, first, q, buf + (k0 - base) * padded + static_cast<size_t>(q) * kc * nr));
      }
    });
    parallel_for(static_cast<size_t>(channel_ranges) * col_ranges, [&](size_t begin, size_t end, int) {
      for (size_t t = begin; t < end; ++t) {
        const int cr = static_cast<int>(t / col_ranges), pr = static_cast<int>(t % col_ranges);
        const int o0 = static_cast<int>(static_cast<int64_t>(row_panels) * cr / channel_ranges) * mr;
        const int o1 = std::min(cv.O, static_cast<int>(static_cast<int64_t>(row_panels) * (cr + 1) / channel_ranges) * mr);
        const int q0 = static_cast<int>(static_cast<int64_t>(panels) * pr / col_ranges);
        const int q1 = static_cast<int>(static_cast<int64_t>(panels) * (pr + 1) / col_ranges);
        if (o0 >= o1 || q0 >= q1) continue;
        EpilogueArgs et = e;
        if (et.row_bias) et.row_bias += o0;
        if (et.residual) et.residual += static_cast<size_t>(o0) * cv.P + q0 * nr;
        for (int b = b0; b < b1; ++b) {
          const int k0 = cv.kb.begin(b), kc = cv.kb.size(b);
          const GemmBlock blk{cv.w + static_cast<size_t>(o0) * cv.K + k0, static_cast<size_t>(cv.K),
                              buf + (k0 - base) * padded + static_cast<size_t>(q0) * kc * nr, static_cast<size_t>(kc) * nr,
                              c + static_cast<size_t>(o0) * cols + q0 * nr, static_cast<size_t>(cols), o1 - o0,
                              std::min(cols, q1 * nr) - q0 * nr, kc, b > 0, b + 1 == cv.kb.count, has_epilogue ? &et : nullptr};
          cv.g.block(blk);
        }
      }
    });
    b0 = b1;
  }
  if (cv.N == 1) return;
  const RowwiseKernels& k = rowwise_kernels();
  parallel_for(static_cast<size_t>(cv.N) * cv.O, [&](size_t begin, size_t end, int) {
    for (size_t t = begin; t < end; ++t) {
      const size_t n = t / cv.O, o = t % cv.O;
      const float* src = c + o * cols + n * cv.P;
      float* dst = cv.y + n * cv.out_image + o * cv.P;
      if (cv.residual) {
        k.add(src, cv.residual + n * cv.out_image + o * cv.P, dst, cv.P);
      } else {
        std::memcpy(dst, src, sizeof(float) * cv.P);
      }
    }
  });
}

}  // namespace

void conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p, const Epilogue& ep, Tensor& out) {
  Conv cv;
  cv.N = static_cast<int>(x.shape[0]);
  cv.O = static_cast<int>(weight.shape[0]);
  cv.kh = static_cast<int>(weight.shape[2]);
  cv.kw = static_cast<int>(weight.shape[3]);
  const int C = static_cast<int>(x.shape[1]), H = static_cast<int>(x.shape[2]), W = static_cast<int>(x.shape[3]);
  const int Wo = static_cast<int>(out.shape[3]);
  cv.K = C * cv.kh * cv.kw;
  cv.P = static_cast<int>(out.shape[2]) * Wo;
  if (cv.N == 0 || cv.O == 0 || cv.P == 0) return;
  cv.stride = p.stride;
  cv.pad_top = p.pad_top;
  cv.pad_left = p.pad_left;
  // A 1x1 stride-1 conv reads each channel plane as one row of H*W pixels: its runs then span
  // output rows, and a micro-panel row is a single copy.
  const bool pointwise = cv.kh == 1 && cv.kw == 1 && p.stride == 1;
  cv.rowH = pointwise ? 1 : H;
  cv.rowW = pointwise ? H * W : W;
  cv.rowWo = pointwise ? cv.P : Wo;
  cv.x = static_cast<const float*>(x.data());
  cv.w = static_cast<const float*>(weight.data());
  cv.residual = ep.residual ? static_cast<const float*>(ep.residual->data()) : nullptr;
  cv.y = static_cast<float*>(out.data());
  cv.in_image = static_cast<size_t>(C) * H * W;
  cv.out_image = static_cast<size_t>(cv.O) * cv.P;
  cv.e.row_bias = bias ? static_cast<const float*>(bias->data()) : nullptr;
  cv.e.act = ep.act;
  cv.e.residual = cv.residual;
  cv.e.ldr = cv.P;
  cv.kb = KBlocks(cv.K, kKcLimit);
  if (cv.P >= kPixelBlock) {
    large_images(cv);
  } else {
    small_images(cv);
  }
}

}  // namespace da::cpu::ops
