// timestep_embedding on the CPU, step for step as diffusers' get_timestep_embedding computes it in
// float32 (embeddings.py): each float32 rounding of the exponent, the frequency and the argument is
// reproduced, because sin and cos of arguments near 1000 amplify a one-ulp difference in the
// argument about a thousandfold. exp, sin and cos are evaluated in double and rounded once, i.e.
// correctly rounded in practice (PyTorch's vectorised float32 versions are within 1 ulp of that).
#include <cmath>

#include "../../ops/ops.h"

namespace da::cpu::ops {

void timestep_embedding(const Tensor& timesteps, const TimestepParams& p, Tensor& out) {
  const int half = p.dim / 2;
  const size_t n = static_cast<size_t>(timesteps.shape[0]);
  const float* ts = static_cast<const float*>(timesteps.data());
  float* ys = static_cast<float*>(out.data());
  // exponent = -math.log(max_period) * arange(half) (float32), then / (half - shift) (float32).
  const float neg_log_period = static_cast<float>(-std::log(static_cast<double>(p.max_period)));
  const float divisor = static_cast<float>(half) - p.downscale_freq_shift;
  for (size_t r = 0; r < n; ++r) {
    float* row = ys + r * p.dim;
    for (int i = 0; i < half; ++i) {
      const float exponent = neg_log_period * static_cast<float>(i);
      const float freq = static_cast<float>(std::exp(static_cast<double>(exponent / divisor)));
      const float arg = p.scale * (ts[r] * freq);
      const float s = static_cast<float>(std::sin(static_cast<double>(arg)));
      const float c = static_cast<float>(std::cos(static_cast<double>(arg)));
      row[i] = p.flip_sin_to_cos ? c : s;
      row[half + i] = p.flip_sin_to_cos ? s : c;
    }
    if (p.dim % 2 == 1) row[p.dim - 1] = 0.f;  // F.pad(emb, (0, 1, 0, 0))
  }
}

}  // namespace da::cpu::ops
