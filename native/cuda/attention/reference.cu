// AFM reference path (afm.md §4), for validation and benchmarks: the logit-domain edit exactly as
// the paper states it, with nothing moved onto Q.
//   logits [B, H, N, nk] = scale q k^T   (float32, materialised, unmasked: the mask is applied at
//                                         the softmax, since -inf would poison the transform)
//   every token map logits[b, h, :, j] over the [grid_h, grid_w] grid is filtered:
//     F = DFT2(map) (full, unnormalised);  F *= G,  G = a_lf M_low + a_hf (1 - M_low),
//     G(0) = 1 if preserve_dc;  map = Re(IDFT2(F)) (1/N)
// The softmax and P·V that follow run in the row kernel (rows.cu) over these logits. The DFTs are
// dense matrix products along one axis at a time (dft.cuh), with the token index j as the
// innermost (coalesced) dimension. Gains come from device memory (fixed or entropy-gated).
#include "dft.cuh"
#include "launch.cuh"
#include "spectral.cuh"

namespace da::cuda::attn {

namespace {

template <typename T>
__global__ void logits_kernel(const T* __restrict__ q, const T* __restrict__ k, float* __restrict__ logits,
                              long long total, int n, int nk, int d, float scale) {
  const long long step = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const long long j = i % nk, row = i / nk;  // row = (b h) * N + x
    const T* qr = q + row * d;
    const T* kr = k + ((row / n) * nk + j) * d;
    float dot = 0.f;
    for (int c = 0; c < d; ++c) dot = fmaf(to_float(qr[c]), to_float(kr[c]), dot);
    logits[i] = dot * scale;
  }
}

// spectrum [B*H, N (ky, kx), nk] *= G(ky, kx).
__global__ void apply_gain_kernel(float2* __restrict__ spectrum, const float* __restrict__ mask_low,
                                  const AfmGains* __restrict__ gains, long long total, int n, int nk, bool preserve_dc) {
  const AfmGains g = *gains;
  const long long step = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int bin = static_cast<int>((i / nk) % n);
    const float m = mask_low[bin];
    const float gain = bin == 0 && preserve_dc ? 1.f : g.gain_low * m + g.gain_high * (1.f - m);
    spectrum[i].x *= gain;
    spectrum[i].y *= gain;
  }
}

unsigned blocks_for(long long total) { return static_cast<unsigned>(std::min<long long>((total + 255) / 256, 1 << 20)); }

template <typename T>
void launch_logits(const AttnParams& p, float* logits, long long total) {
  logits_kernel<<<blocks_for(total), 256, 0, cuda::stream()>>>(static_cast<const T*>(p.q), static_cast<const T*>(p.k), logits,
                                                        total, p.N, p.nk, p.d, p.scale);
  DA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

float* reference_logits(Workspace& ws, DType dtype, const AttnParams& p, const AfmParams& afm) {
  const int gh = afm.grid_h, gw = afm.grid_w;
  const long long slices = static_cast<long long>(p.B) * p.H;
  const long long total = slices * p.N * p.nk;
  float* logits = ws.alloc<float>(total);
  switch (dtype) {
    case DType::Float32: launch_logits<float>(p, logits, total); break;
    case DType::Float16: launch_logits<__half>(p, logits, total); break;
    case DType::BFloat16: launch_logits<__nv_bfloat16>(p, logits, total); break;
  }

  float2* a = ws.alloc<float2>(total);
  float2* f = ws.alloc<float2>(total);
  DftAxis rows;  // along x: [B*H*gh, gw, nk]
  rows.outer = slices * gh, rows.n_in = rows.n_out = gw, rows.inner = p.nk;
  rows.twiddle = upload_twiddles(ws, gw), rows.n = gw;
  DftAxis cols;  // along y: [B*H, gh, gw*nk]
  cols.outer = slices, cols.n_in = cols.n_out = gh, cols.inner = static_cast<long long>(gw) * p.nk;
  cols.twiddle = upload_twiddles(ws, gh), cols.n = gh;

  dft_axis(static_cast<const float*>(logits), a, rows);
  dft_axis(static_cast<const float2*>(a), f, cols);
  const float* mask_low = ws.upload(spectral::low_mask_grid(gh, gw, afm.cutoff, afm.width));
  apply_gain_kernel<<<blocks_for(total), 256, 0, cuda::stream()>>>(f, mask_low, p.gains, total, p.N, p.nk, afm.preserve_dc);
  DA_CUDA_CHECK(cudaGetLastError());
  cols.inverse = rows.inverse = true;
  rows.scale = static_cast<float>(1.0 / p.N);
  dft_axis(static_cast<const float2*>(f), a, cols);
  dft_axis(static_cast<const float2*>(a), logits, rows);
  return logits;
}

}  // namespace da::cuda::attn
