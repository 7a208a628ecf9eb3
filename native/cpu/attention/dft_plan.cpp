#include "dft_plan.h"

#include <cmath>

namespace da::cpu::attn {

namespace {
constexpr double kPi = 3.14159265358979323846;
}

double fftfreq(int n, int k) { return (k < (n + 1) / 2 ? k : k - n) / static_cast<double>(n); }

double radius(int h, int w, int ky, int kx) {
  const double fy = fftfreq(h, ky), fx = fftfreq(w, kx);
  return std::sqrt(fx * fx + fy * fy) / std::sqrt(0.5);
}

double low_mask(double r, double cutoff, double width) {
  if (width <= 0) return r <= cutoff ? 1.0 : 0.0;
  if (r <= cutoff - width / 2) return 1.0;
  if (r >= cutoff + width / 2) return 0.0;
  return 0.5 * (1.0 + std::cos(kPi * (r - cutoff + width / 2) / width));
}

BandPlan make_band_plan(int h, int w, double cutoff, double width) {
  BandPlan p;
  p.h = h;
  p.w = w;
  // Largest |kx| and |ky| with a non-zero mask anywhere on their line (the mask decreases with r).
  int kx_max = 0, ky_max = 0;
  for (int kx = 0; kx <= w / 2; ++kx) if (low_mask(radius(h, w, 0, kx), cutoff, width) > 0) kx_max = kx;
  for (int ky = 0; ky <= h / 2; ++ky) if (low_mask(radius(h, w, ky, 0), cutoff, width) > 0) ky_max = ky;
  const int KX = p.kx_count = kx_max + 1;
  for (int ky = 0; ky < h; ++ky) {
    const int a = ky <= h / 2 ? ky : h - ky;  // |frequency index|
    if (a <= ky_max) p.ky.push_back(ky);
  }
  const int KY = static_cast<int>(p.ky.size());
  auto angle = [](long k, long j, int n) { return 2 * kPi * ((k * j) % n) / n; };
  p.fw.resize(static_cast<size_t>(2 * KX) * w);
  p.gw.resize(static_cast<size_t>(w) * 2 * KX);
  for (int kx = 0; kx < KX; ++kx) {
    for (int n = 0; n < w; ++n) {
      const double t = angle(kx, n, w);
      p.fw[kx * w + n] = p.gw[n * 2 * KX + kx] = static_cast<float>(std::cos(t));
      p.fw[(KX + kx) * w + n] = p.gw[n * 2 * KX + KX + kx] = static_cast<float>(-std::sin(t));
    }
  }
  p.fh_re.resize(static_cast<size_t>(KY) * 2 * h);
  p.fh_im.resize(p.fh_re.size());
  p.gh_re.resize(static_cast<size_t>(h) * 2 * KY);
  p.gh_im.resize(p.gh_re.size());
  for (int i = 0; i < KY; ++i) {
    for (int m = 0; m < h; ++m) {
      const double t = angle(p.ky[i], m, h);
      const float c = static_cast<float>(std::cos(t)), s = static_cast<float>(std::sin(t));
      p.fh_re[i * 2 * h + 2 * m] = c;
      p.fh_re[i * 2 * h + 2 * m + 1] = s;
      p.fh_im[i * 2 * h + 2 * m] = -s;
      p.fh_im[i * 2 * h + 2 * m + 1] = c;
      p.gh_re[m * 2 * KY + 2 * i] = c;
      p.gh_re[m * 2 * KY + 2 * i + 1] = -s;
      p.gh_im[m * 2 * KY + 2 * i] = s;
      p.gh_im[m * 2 * KY + 2 * i + 1] = c;
    }
  }
  p.gain.resize(static_cast<size_t>(KY) * KX);
  for (int i = 0; i < KY; ++i) {
    for (int kx = 0; kx < KX; ++kx) {
      // A real signal's bins -kx are the conjugates of kx: count kx in (0, w/2) twice.
      const double hermitian = (kx == 0 || 2 * kx == w) ? 1.0 : 2.0;
      const bool dc = p.ky[i] == 0 && kx == 0;
      const double m = dc ? 0.0 : low_mask(radius(h, w, p.ky[i], kx), cutoff, width);
      p.gain[i * KX + kx] = static_cast<float>(m * hermitian / (static_cast<double>(h) * w));
    }
  }
  return p;
}

FilterPlan make_filter_plan(int h, int w, double cutoff, double width, double gain_low, double gain_high, bool preserve_dc) {
  FilterPlan p;
  p.h = h;
  p.w = w;
  auto table = [](int n, std::vector<float>& c, std::vector<float>& s) {
    c.resize(static_cast<size_t>(n) * n);
    s.resize(c.size());
    for (int k = 0; k < n; ++k) {
      for (int j = 0; j < n; ++j) {
        const double t = 2 * kPi * ((static_cast<long>(k) * j) % n) / n;
        c[k * n + j] = static_cast<float>(std::cos(t));
        s[k * n + j] = static_cast<float>(std::sin(t));
      }
    }
  };
  table(w, p.cos_w, p.sin_w);
  table(h, p.cos_h, p.sin_h);
  p.gain.resize(static_cast<size_t>(h) * w);
  for (int ky = 0; ky < h; ++ky) {
    for (int kx = 0; kx < w; ++kx) {
      const double m = low_mask(radius(h, w, ky, kx), cutoff, width);
      double g = gain_low * m + gain_high * (1 - m);
      if (ky == 0 && kx == 0 && preserve_dc) g = 1.0;
      p.gain[ky * w + kx] = static_cast<float>(g / (static_cast<double>(h) * w));
    }
  }
  return p;
}

}  // namespace da::cpu::attn
