// Capture maps (afm.md §2-3), from the per-row concentrations the row kernel wrote
// (concentration_rows [B, H, N], the mean of each row's top-K probabilities):
//   concentration[b, x] = mean over heads                                  -> [B, N]
//   spectrum[b, :]: c~ = c - mean_x c (mean in float64, so a flat map is exactly 0);
//                   C = DFT2(c~) over the [grid_h, grid_w] grid (dft.cuh); P = |C|^2 / sum P
//                   (all zeros when the sum is 0); bin k adds P(k) at min(floor(r(k) bins), bins-1)
//                                                                          -> [B, bins]
// Both are copied to the host at the end (they are small).
#include "dft.cuh"
#include "launch.cuh"
#include "spectral.cuh"

namespace da::cuda::attn {

namespace {

constexpr int kThreads = 256;

__global__ void head_mean_kernel(const float* __restrict__ rows, float* __restrict__ maps, int H, int N, long long total) {
  const long long step = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const long long b = i / N, x = i % N;
    float s = 0.f;
    for (int h = 0; h < H; ++h) s += rows[(b * H + h) * N + x];
    maps[i] = s / static_cast<float>(H);
  }
}

__device__ double power(float2 c) { return static_cast<double>(c.x) * c.x + static_cast<double>(c.y) * c.y; }

__device__ double block_sum(double v, double* scratch) {
  scratch[threadIdx.x] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) scratch[threadIdx.x] += scratch[threadIdx.x + s];
    __syncthreads();
  }
  const double total = scratch[0];
  __syncthreads();  // scratch is reused by the next call
  return total;
}

// One block per batch element.
__global__ void __launch_bounds__(kThreads)
    centre_kernel(const float* __restrict__ maps, float* __restrict__ centred, int N) {
  __shared__ double scratch[kThreads];
  const float* c = maps + static_cast<size_t>(blockIdx.x) * N;
  double s = 0.0;
  for (int x = threadIdx.x; x < N; x += kThreads) s += c[x];
  const double mean = block_sum(s, scratch) / N;
  for (int x = threadIdx.x; x < N; x += kThreads) {
    centred[static_cast<size_t>(blockIdx.x) * N + x] = static_cast<float>(c[x] - mean);
  }
}

// One block per batch element: the total power, then each thread sums its bins.
__global__ void __launch_bounds__(kThreads) spectrum_kernel(const float2* __restrict__ f, const int* __restrict__ bin_of,
                                                            float* __restrict__ spectrum, int N, int bins) {
  __shared__ double scratch[kThreads];
  const float2* fb = f + static_cast<size_t>(blockIdx.x) * N;
  double s = 0.0;
  for (int k = threadIdx.x; k < N; k += kThreads) s += power(fb[k]);
  const double total = block_sum(s, scratch);
  for (int bin = threadIdx.x; bin < bins; bin += kThreads) {
    double e = 0.0;
    for (int k = 0; k < N; ++k) {
      if (bin_of[k] == bin) e += power(fb[k]);
    }
    spectrum[static_cast<size_t>(blockIdx.x) * bins + bin] = total > 0.0 ? static_cast<float>(e / total) : 0.f;
  }
}

}  // namespace

void capture_maps(Workspace& ws, const float* concentration_rows, int B, int H, const CaptureParams& c,
                  AttentionResult& result) {
  const int gh = c.grid_h, gw = c.grid_w, N = gh * gw;
  const long long total = static_cast<long long>(B) * N;
  float* maps = ws.alloc<float>(total);
  float* centred = ws.alloc<float>(total);
  head_mean_kernel<<<ceil_div(total, kThreads), kThreads, 0, cuda::stream()>>>(concentration_rows, maps, H, N, total);
  DA_CUDA_CHECK(cudaGetLastError());
  centre_kernel<<<B, kThreads, 0, cuda::stream()>>>(maps, centred, N);
  DA_CUDA_CHECK(cudaGetLastError());

  float2* a = ws.alloc<float2>(total);
  float2* f = ws.alloc<float2>(total);
  DftAxis rows;  // along x: [B*gh, gw, 1]
  rows.outer = static_cast<long long>(B) * gh, rows.n_in = rows.n_out = gw, rows.inner = 1;
  rows.twiddle = upload_twiddles(ws, gw), rows.n = gw;
  DftAxis cols;  // along y: [B, gh, gw]
  cols.outer = B, cols.n_in = cols.n_out = gh, cols.inner = gw;
  cols.twiddle = upload_twiddles(ws, gh), cols.n = gh;
  dft_axis(static_cast<const float*>(centred), a, rows);
  dft_axis(static_cast<const float2*>(a), f, cols);

  float* spectrum = ws.alloc<float>(static_cast<size_t>(B) * c.bins);
  spectrum_kernel<<<B, kThreads, 0, cuda::stream()>>>(f, ws.upload(spectral::radial_bins(gh, gw, c.bins)), spectrum, N, c.bins);
  DA_CUDA_CHECK(cudaGetLastError());

  result.concentration.resize(total);
  result.spectrum.resize(static_cast<size_t>(B) * c.bins);
  DA_CUDA_CHECK(cudaMemcpyAsync(result.concentration.data(), maps, total * sizeof(float), cudaMemcpyDeviceToHost, cuda::stream()));
  DA_CUDA_CHECK(cudaMemcpyAsync(result.spectrum.data(), spectrum, result.spectrum.size() * sizeof(float), cudaMemcpyDeviceToHost,
                                cuda::stream()));
  DA_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
}

}  // namespace da::cuda::attn
