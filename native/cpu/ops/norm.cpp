// group_norm and layer_norm on the CPU. Statistics are one pass of shifted sums folded into double
// (kernels.h: moments), so large means do not cost precision; the normalisation is a second pass,
// fused with the affine and, for group_norm, with the SiLU that follows it in every UNet and VAE
// resnet.
#include "../../ops/ops.h"
#include "../thread_pool.h"
#include "kernels.h"

namespace da::cpu::ops {

void group_norm(const Tensor& x, int num_groups, float eps, const Tensor* weight, const Tensor* bias, bool silu, Tensor& out) {
  if (out.numel() == 0) return;
  const size_t N = static_cast<size_t>(x.shape[0]), C = static_cast<size_t>(x.shape[1]);
  const size_t S = static_cast<size_t>(x.numel()) / (N * C);  // positions per channel
  const size_t per_group = C / num_groups;
  const float* xs = static_cast<const float*>(x.data());
  float* ys = static_cast<float*>(out.data());
  const float* w = weight ? static_cast<const float*>(weight->data()) : nullptr;
  const float* b = bias ? static_cast<const float*>(bias->data()) : nullptr;
  const RowwiseKernels& k = rowwise_kernels();
  // One task per (image, group): its channels are contiguous, C/G * S elements.
  parallel_for(N * num_groups, [&](size_t begin, size_t end, int) {
    for (size_t t = begin; t < end; ++t) {
      const size_t c0 = (t % num_groups) * per_group;
      const size_t offset = (t / num_groups * C + c0) * S;
      float mean, rstd;
      k.moments(xs + offset, per_group * S, eps, &mean, &rstd);
      for (size_t c = 0; c < per_group; ++c) {
        const float scale = w ? rstd * w[c0 + c] : rstd;
        k.scale_shift(xs + offset + c * S, ys + offset + c * S, S, mean, scale, b ? b[c0 + c] : 0.f, silu);
      }
    }
  });
}

void layer_norm(const Tensor& x, float eps, const Tensor* weight, const Tensor* bias, Tensor& out) {
  if (out.numel() == 0) return;
  const size_t D = static_cast<size_t>(x.shape.back()), rows = static_cast<size_t>(x.numel()) / D;
  const float* xs = static_cast<const float*>(x.data());
  float* ys = static_cast<float*>(out.data());
  const float* w = weight ? static_cast<const float*>(weight->data()) : nullptr;
  const float* b = bias ? static_cast<const float*>(bias->data()) : nullptr;
  const RowwiseKernels& k = rowwise_kernels();
  parallel_for(rows, [&](size_t begin, size_t end, int) { k.layer_norm(xs + begin * D, ys + begin * D, end - begin, D, eps, w, b); });
}

}  // namespace da::cpu::ops
