// AFM entropy gate (afm.md §7): the gains from the mean normalised token entropy of the UNEDITED
// attention of the call,
//   H = mean over (b, h, x) of (-sum_j p_j log p_j) / log(n_b)   (n_b unmasked keys of row b; 0 if n_b = 1),
//   a_lf = 1 + strength w_low (1 + beta H),  a_hf = 1 + strength w_high (1 + gamma (1 - H)),
//   g0 = 1 if preserve_dc, else a_lf M_low(0) + a_hf (1 - M_low(0)).
// The per-row entropies come from the flash kernel in its Entropy kind (online, no V, no output);
// one block reduces them and writes the gains to device memory, where the band-edit kernels read
// them: no host round trip between the kernels.
#include <cmath>

#include "launch.cuh"
#include "spectral.cuh"

namespace da::cuda::attn {

namespace {

struct GateParams {
  float strength, w_low, w_high, beta, gamma;
  float mask_dc;  // M_low at DC
  bool preserve_dc;
};

constexpr int kGateThreads = 256;

__global__ void __launch_bounds__(kGateThreads)
    gate_kernel(const float* __restrict__ rows, long long count, const GateParams g, AfmGains* __restrict__ gains) {
  __shared__ double partial[kGateThreads];
  double sum = 0.0;
  for (long long i = threadIdx.x; i < count; i += kGateThreads) sum += rows[i];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int s = kGateThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const float h = static_cast<float>(partial[0] / static_cast<double>(count));
    const float low = 1.f + g.strength * g.w_low * (1.f + g.beta * h);
    const float high = 1.f + g.strength * g.w_high * (1.f + g.gamma * (1.f - h));
    const float dc = g.preserve_dc ? 1.f : low * g.mask_dc + high * (1.f - g.mask_dc);
    *gains = AfmGains{low, high, dc, h};
  }
}

}  // namespace

void entropy_gate(Workspace& ws, DType dtype, bool tensor_cores, const AttnParams& p, const AfmParams& afm,
                  const std::vector<uint8_t>& mask, AfmGains* gains) {
  std::vector<float> inv_log_keys(p.B);
  for (int b = 0; b < p.B; ++b) {
    long long keys = p.nk;
    if (!mask.empty()) {
      keys = 0;
      for (int j = 0; j < p.nk; ++j) keys += mask[static_cast<size_t>(b) * p.nk + j] != 0;
    }
    inv_log_keys[b] = keys > 1 ? static_cast<float>(1.0 / std::log(static_cast<double>(keys))) : 0.f;
  }
  const long long rows = static_cast<long long>(p.B) * p.H * p.N;
  AttnParams e = p;
  e.low = nullptr, e.mean = nullptr, e.gains = nullptr;  // the unedited attention
  e.out = nullptr, e.cache = nullptr, e.pag_begin = e.pag_end = 0;
  e.row_entropy = ws.alloc<float>(rows);
  e.inv_log_keys = ws.upload(inv_log_keys);
  launch_flash(dtype, e, FlashKind::Entropy, tensor_cores);

  const GateParams g{afm.strength, afm.w_low, afm.w_high, afm.beta, afm.gamma,
                     static_cast<float>(spectral::low_mask(0.0, afm.cutoff, afm.width)), afm.preserve_dc};
  gate_kernel<<<1, kGateThreads, 0, cuda::stream()>>>(e.row_entropy, rows, g, gains);
  DA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace da::cuda::attn
