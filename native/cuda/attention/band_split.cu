// AFM band split, fused path (afm.md §5 and §12): for every (b, h) query map Q [grid_h x grid_w, d]
//   L = IDFT2(M'_low . DFT2(Q)) per channel, M'_low = the raised-cosine low mask with its DC bin 0,
//   D[c] = the spatial mean of channel c,
// both float32. The attention kernels then form Q' = a_hf Q + (a_lf - a_hf) L + (g0 - a_hf) D on
// load, which equals filtering every token's logit map by G = a_lf M_low + a_hf M_high with G(0) = g0.
//
// The DFT is restricted to the frequencies where M_low can be nonzero (kx in Kx, ky in Ky, see
// spectral::low_band_axis), as four separable matrix products with the twiddle tables (dft.cuh):
//   A  [S, gh, Kx, d] = Q   along x, forward      (S = B*H slices)
//   F  [S, Ky, Kx, d] = A   along y, forward;  D = F(0,0) / N;  F *= M'_low
//   A' [S, gh, Kx, d] = F   along y, inverse
//   L  [S, gh, gw, d] = Re(A' along x, inverse) / N
// The band is symmetric (M_low(k) = M_low(-k)), so the imaginary part of L is round-off only.
// For SD1.5 at 64 x 64 with cutoff 0.25, width 0.05: |Kx| = |Ky| = 25 of 64.
#include "dft.cuh"
#include "launch.cuh"
#include "spectral.cuh"

namespace da::cuda::attn {

namespace {

// F [S, bins, d] (bins = Ky x Kx, bin 0 = DC): take D from the DC bin, then apply M'_low.
__global__ void band_mask_kernel(float2* __restrict__ f, const float* __restrict__ mask, float* __restrict__ mean,
                                 long long total, int bins, int d, float inv_n) {
  const long long step = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int bin = static_cast<int>((i / d) % bins);
    if (bin == 0) mean[(i / (static_cast<long long>(d) * bins)) * d + i % d] = f[i].x * inv_n;
    f[i].x *= mask[bin];
    f[i].y *= mask[bin];
  }
}

template <typename T>
void forward_rows(const void* q, float2* a, const DftAxis& axis) {
  dft_axis(static_cast<const T*>(q), a, axis);
}

}  // namespace

BandSplit band_split(Workspace& ws, DType dtype, const void* q, int slices, int d, const AfmParams& afm) {
  const int gh = afm.grid_h, gw = afm.grid_w;
  const long long n = static_cast<long long>(gh) * gw;
  const std::vector<int> kx = spectral::low_band_axis(gw, afm.cutoff, afm.width);
  const std::vector<int> ky = spectral::low_band_axis(gh, afm.cutoff, afm.width);
  const int nkx = static_cast<int>(kx.size()), nky = static_cast<int>(ky.size());  // >= 1: k = 0 is always in
  std::vector<float> mask(static_cast<size_t>(nky) * nkx);
  for (int y = 0; y < nky; ++y) {
    for (int x = 0; x < nkx; ++x) {
      const double r = spectral::radius(spectral::fftfreq(ky[y], gh), spectral::fftfreq(kx[x], gw));
      mask[static_cast<size_t>(y) * nkx + x] = static_cast<float>(spectral::low_mask(r, afm.cutoff, afm.width));
    }
  }
  mask[0] = 0.f;  // L is the low band without DC; D carries the DC part

  const int* kx_dev = ws.upload(kx);
  const int* ky_dev = ws.upload(ky);
  const float2* tw_x = upload_twiddles(ws, gw);
  const float2* tw_y = upload_twiddles(ws, gh);
  const long long band = static_cast<long long>(nkx) * d;
  float2* a = ws.alloc<float2>(static_cast<size_t>(slices) * gh * band);
  float2* f = ws.alloc<float2>(static_cast<size_t>(slices) * nky * band);
  BandSplit out{ws.alloc<float>(static_cast<size_t>(slices) * n * d), ws.alloc<float>(static_cast<size_t>(slices) * d)};

  DftAxis rows_fwd;
  rows_fwd.outer = static_cast<long long>(slices) * gh, rows_fwd.n_in = gw, rows_fwd.n_out = nkx, rows_fwd.inner = d;
  rows_fwd.f_out = kx_dev, rows_fwd.twiddle = tw_x, rows_fwd.n = gw;
  switch (dtype) {
    case DType::Float32: forward_rows<float>(q, a, rows_fwd); break;
    case DType::Float16: forward_rows<__half>(q, a, rows_fwd); break;
    case DType::BFloat16: forward_rows<__nv_bfloat16>(q, a, rows_fwd); break;
  }

  DftAxis cols_fwd;
  cols_fwd.outer = slices, cols_fwd.n_in = gh, cols_fwd.n_out = nky, cols_fwd.inner = band;
  cols_fwd.f_out = ky_dev, cols_fwd.twiddle = tw_y, cols_fwd.n = gh;
  dft_axis(static_cast<const float2*>(a), f, cols_fwd);

  const long long spectrum = static_cast<long long>(slices) * nky * band;
  band_mask_kernel<<<static_cast<unsigned>(std::min<long long>((spectrum + 255) / 256, 1 << 20)), 256, 0, cuda::stream()>>>(
      f, ws.upload(mask), out.mean, spectrum, nky * nkx, d, static_cast<float>(1.0 / n));
  DA_CUDA_CHECK(cudaGetLastError());

  DftAxis cols_inv = cols_fwd;
  cols_inv.n_in = nky, cols_inv.n_out = gh, cols_inv.f_in = ky_dev, cols_inv.f_out = nullptr, cols_inv.inverse = true;
  dft_axis(static_cast<const float2*>(f), a, cols_inv);

  DftAxis rows_inv = rows_fwd;
  rows_inv.n_in = nkx, rows_inv.n_out = gw, rows_inv.f_in = kx_dev, rows_inv.f_out = nullptr, rows_inv.inverse = true;
  rows_inv.scale = static_cast<float>(1.0 / n);
  dft_axis(static_cast<const float2*>(a), out.low, rows_inv);
  return out;
}

}  // namespace da::cuda::attn
