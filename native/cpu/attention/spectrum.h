// The radially binned power spectrum of a concentration map (reference/afm.md §3): subtract the
// map's mean, 2-D DFT (any H x W), |C(k)|^2 normalised to sum 1 (all zeros for a flat map), summed
// into `bins` equal bins of the corner-normalised radius on [0, 1].
#pragma once

namespace da::cpu::attn {

void radial_spectrum(const float* map, int h, int w, int bins, float* out);

}  // namespace da::cpu::attn
