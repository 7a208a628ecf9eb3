#include "spectrum.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "dft_plan.h"

namespace da::cpu::attn {

void radial_spectrum(const float* map, int h, int w, int bins, float* out) {
  constexpr double kPi = 3.14159265358979323846;
  const int n = h * w;
  double mean = 0;
  for (int i = 0; i < n; ++i) mean += map[i];
  mean /= n;
  // Separable DFT in double: along W, then along H, with the twiddles tabulated once.
  auto table = [&](int n, std::vector<double>& c, std::vector<double>& sn) {
    c.resize(static_cast<size_t>(n) * n);
    sn.resize(c.size());
    for (int k = 0; k < n; ++k)
      for (int j = 0; j < n; ++j) {
        const double t = 2 * kPi * ((static_cast<long>(k) * j) % n) / n;
        c[k * n + j] = std::cos(t);
        sn[k * n + j] = std::sin(t);
      }
  };
  std::vector<double> cw, sw, ch, sh;
  table(w, cw, sw);
  table(h, ch, sh);
  std::vector<double> ar(static_cast<size_t>(n)), ai(static_cast<size_t>(n));
  for (int m = 0; m < h; ++m)
    for (int k = 0; k < w; ++k) {
      double re = 0, im = 0;
      for (int j = 0; j < w; ++j) {
        const double x = map[m * w + j] - mean;
        re += x * cw[k * w + j];
        im -= x * sw[k * w + j];
      }
      ar[m * w + k] = re;
      ai[m * w + k] = im;
    }
  std::vector<double> power(static_cast<size_t>(n));
  double total = 0;
  for (int ky = 0; ky < h; ++ky)
    for (int kx = 0; kx < w; ++kx) {
      double re = 0, im = 0;
      for (int m = 0; m < h; ++m) {
        const double c = ch[ky * h + m], s = sh[ky * h + m];
        re += ar[m * w + kx] * c + ai[m * w + kx] * s;
        im += ai[m * w + kx] * c - ar[m * w + kx] * s;
      }
      power[ky * w + kx] = re * re + im * im;
      total += power[ky * w + kx];
    }
  std::fill(out, out + bins, 0.f);
  if (total <= 0) return;
  std::vector<double> acc(static_cast<size_t>(bins), 0.0);
  for (int ky = 0; ky < h; ++ky)
    for (int kx = 0; kx < w; ++kx) {
      const int bin = std::min(static_cast<int>(radius(h, w, ky, kx) * bins), bins - 1);
      acc[bin] += power[ky * w + kx] / total;
    }
  for (int b = 0; b < bins; ++b) out[b] = static_cast<float>(acc[b]);
}

}  // namespace da::cpu::attn
