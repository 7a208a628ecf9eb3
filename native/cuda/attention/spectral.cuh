// Frequency-grid geometry shared by the AFM band split, the AFM reference path and the capture
// spectrum, computed on the host in double precision (afm.md §3-5):
//   f = numpy.fft.fftfreq(n)[k]: k/n for k <= (n-1)/2, (k-n)/n above (even n: -1/2 at k = n/2);
//   r = sqrt(fx^2 + fy^2) / sqrt(0.5) (the grid corner is r = 1);
//   M_low(r) = 1 for r <= cutoff - width/2, 0 for r >= cutoff + width/2, raised cosine
//   0.5 (1 + cos(pi (r - cutoff + width/2) / width)) between; width 0: r <= cutoff.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace da::cuda::attn::spectral {

inline double fftfreq(int k, int n) { return (k <= (n - 1) / 2 ? k : k - n) / static_cast<double>(n); }

inline double radius(double fy, double fx) { return std::sqrt(fx * fx + fy * fy) / std::sqrt(0.5); }

inline double low_mask(double r, double cutoff, double width) {
  if (width <= 0.0) return r <= cutoff ? 1.0 : 0.0;
  if (r <= cutoff - width / 2) return 1.0;
  if (r >= cutoff + width / 2) return 0.0;
  return 0.5 * (1.0 + std::cos(M_PI * (r - cutoff + width / 2) / width));
}

// M_low over the whole [h, w] frequency grid, row-major (ky, kx).
inline std::vector<float> low_mask_grid(int h, int w, double cutoff, double width) {
  std::vector<float> m(static_cast<size_t>(h) * w);
  for (int ky = 0; ky < h; ++ky) {
    for (int kx = 0; kx < w; ++kx) {
      m[static_cast<size_t>(ky) * w + kx] =
          static_cast<float>(low_mask(radius(fftfreq(ky, h), fftfreq(kx, w)), cutoff, width));
    }
  }
  return m;
}

// The frequencies k of an axis of length n where M_low can be nonzero: M_low falls with r and
// r(ky, kx) >= r(0, kx), so these per-axis sets bound the low band. Ascending; k = 0 first.
inline std::vector<int> low_band_axis(int n, double cutoff, double width) {
  std::vector<int> ks;
  for (int k = 0; k < n; ++k) {
    if (low_mask(radius(0.0, fftfreq(k, n)), cutoff, width) > 0.0) ks.push_back(k);
  }
  return ks;
}

// Radial bin of every frequency of the [h, w] grid: min(floor(r * bins), bins - 1).
inline std::vector<int> radial_bins(int h, int w, int bins) {
  std::vector<int> bin(static_cast<size_t>(h) * w);
  for (int ky = 0; ky < h; ++ky) {
    for (int kx = 0; kx < w; ++kx) {
      const double r = radius(fftfreq(ky, h), fftfreq(kx, w));
      bin[static_cast<size_t>(ky) * w + kx] = std::min(static_cast<int>(std::floor(r * bins)), bins - 1);
    }
  }
  return bin;
}

// (cos, sin)(2 pi k / n) for k < n.
inline std::vector<float2> twiddles(int n) {
  std::vector<float2> tw(n);
  for (int k = 0; k < n; ++k) {
    const double a = 2.0 * M_PI * k / n;
    tw[k] = make_float2(static_cast<float>(std::cos(a)), static_cast<float>(std::sin(a)));
  }
  return tw;
}

}  // namespace da::cuda::attn::spectral
