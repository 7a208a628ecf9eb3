// Discrete Fourier transform along one axis of a [outer, n_in, inner] array, as a small dense
// matrix product with a precomputed twiddle table (no cuFFT): for every (o, j, i)
//   out[o, j, i] = scale * sum_t in[o, t, i] * exp(sign 2 pi i f_out[j] f_in[t] / n),
// sign = -1 forward, +1 inverse. f_in / f_out list the positions or frequencies taking part
// (nullptr = 0, 1, 2, ...), so a transform restricted to a band costs only the band's size.
// In: float, __half, __nv_bfloat16 (real) or float2 (complex); Out: float2, or float (real part).
// Used by the AFM band split (afm.md §12), the AFM reference path (§4) and the capture spectrum (§3).
#pragma once

#include "launch.cuh"

namespace da::cuda::attn {

struct DftAxis {
  long long outer = 0;
  int n_in = 0, n_out = 0;
  long long inner = 0;
  const int* f_in = nullptr;
  const int* f_out = nullptr;
  const float2* twiddle = nullptr;  // (cos, sin)(2 pi k / n), k < n
  int n = 0;
  bool inverse = false;
  float scale = 1.f;
};

template <typename In, typename Out>
void dft_axis(const In* in, Out* out, const DftAxis& axis);

// spectral::twiddles(n) on the device.
const float2* upload_twiddles(Workspace& ws, int n);

}  // namespace da::cuda::attn
