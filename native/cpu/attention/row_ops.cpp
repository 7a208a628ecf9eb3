#include "row_ops.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

namespace da::cpu::attn {

void entmax(const float* z, int T, float alpha, float* p) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int j = 0; j < T; ++j) mx = std::max(mx, z[j]);
  const bool sparsemax = alpha == 2.f;
  // In the scaled frame (z' = z for sparsemax, (z - max)/2 for entmax15) the threshold is at least
  // max z' - 1, so a logit at or below that bound is never in the support.
  const double top = sparsemax ? mx : 0.0;
  thread_local std::vector<double> cand;
  cand.clear();
  for (int j = 0; j < T; ++j) {
    const double zj = sparsemax ? z[j] : (static_cast<double>(z[j]) - mx) / 2;
    if (zj > top - 1) cand.push_back(zj);
  }
  std::sort(cand.begin(), cand.end(), std::greater<double>());
  double tau = top - 1;
  double sum = 0, sq = 0;
  for (size_t k = 1; k <= cand.size(); ++k) {
    const double x = cand[k - 1];
    sum += x;
    sq += x * x;
    double tk;
    if (sparsemax) {
      tk = (sum - 1) / static_cast<double>(k);
    } else {
      const double mu = sum / k, s = sq / k;
      const double delta = (1 - k * (s - mu * mu)) / k;
      tk = mu - std::sqrt(std::max(delta, 0.0));
    }
    if (tk > x) break;  // k is past the support: the condition holds exactly on a prefix
    tau = tk;
  }
  for (int j = 0; j < T; ++j) {
    if (sparsemax) {
      p[j] = static_cast<float>(std::max(static_cast<double>(z[j]) - tau, 0.0));
    } else {
      const double u = std::max((static_cast<double>(z[j]) - mx) / 2 - tau, 0.0);
      p[j] = static_cast<float>(u * u);
    }
  }
}

}  // namespace da::cpu::attn
