// Tables for the 2-D DFTs of AFM and capture on an H x W grid (any sizes, not only powers of two).
// Frequencies follow numpy's fftfreq; the radius is corner-normalised, r = sqrt(fx^2+fy^2)/sqrt(0.5)
// (reference/afm.md §3-5).
#pragma once

#include <vector>

namespace da::cpu::attn {

// numpy.fft.fftfreq(n)[k] in cycles per sample.
double fftfreq(int n, int k);
// Corner-normalised radius of DFT bin (ky, kx) on an h x w grid.
double radius(int h, int w, int ky, int kx);
// The raised-cosine low-band mask M_low(r) (afm.md §5); width 0 is the hard edge r <= cutoff.
double low_mask(double r, double cutoff, double width);

// The pruned, Hermitian-halved transform of the fused band split, as matrix products: only the
// bins where the low mask is non-zero are computed. Forward along W for kx in [0, kx_count) (real
// input, so the negative kx are conjugates), then along H for the ky in `ky`; mask; the inverse
// along H, then along W. Real and imaginary parts are interleaved as rows (index 2*i + part), so
// each stage is one real product C = A . B (kernels.inl band_split), with row = kx_count * channels:
//   S1 [h][2 kx][c]   per m:  fw [2 kx][w]      . X[m] [w][c]
//   S2 [ky][2][row]           fh_re|fh_im [ky][2h] . S1 viewed as [2h][row], then times gain
//   S3 [h][2][row]            gh_re|gh_im [h][2ky] . S2 viewed as [2ky][row]
//   L  [h][w][c]      per m:  gw [w][2 kx]      . S3[m] viewed as [2 kx][c]
struct BandPlan {
  int h = 0, w = 0;
  int kx_count = 0;
  std::vector<int> ky;               // kept rows, as bin indices in [0, h)
  std::vector<float> fw;             // [2 kx][w]: rows cos, then -sin (2 pi kx n / w)
  std::vector<float> fh_re, fh_im;   // [ky][2h], columns (m, part): (cos, sin) and (-sin, cos) of 2 pi ky m / h
  std::vector<float> gh_re, gh_im;   // [h][2ky], columns (ky, part): (cos, -sin) and (sin, cos)
  std::vector<float> gw;             // [w][2 kx]: columns cos, then -sin (2 pi kx n / w)
  std::vector<float> gain;           // [ky][kx]: M_low without DC, times the Hermitian weight of kx
                                     // (1 or 2) and 1/(h*w)
};
BandPlan make_band_plan(int h, int w, double cutoff, double width);

// The full transform of the unfused reference path: every bin, filter gain G(k).
struct FilterPlan {
  int h = 0, w = 0;
  std::vector<float> cos_w, sin_w;  // [w][w]
  std::vector<float> cos_h, sin_h;  // [h][h]
  std::vector<float> gain;          // [h][w]: G(ky, kx) / (h*w)
};
FilterPlan make_filter_plan(int h, int w, double cutoff, double width, double gain_low, double gain_high, bool preserve_dc);

}  // namespace da::cpu::attn
