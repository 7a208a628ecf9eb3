// The row kernel: attention variants that need a query row's whole logit row at once, which the
// online softmax of the flash kernel cannot give. One warp per query row, R rows per block; the
// row's nk logits live in shared memory (float32), K and V are staged 32 keys at a time.
//
//   q [B, H, N, d], k/v [B, H, nk, d] (float32, float16, bfloat16); d <= 256.
//   Logits: scale q'.k computed here (q' AFM-edited on load as in the flash kernel), or read
//   from a materialised [B, H, N, nk] float32 buffer (the AFM reference path, already filtered).
//   Modes (RowMode):
//     Softmax: out = softmax(z) v                        (the AFM reference path)
//     Gag:     D = softmax(z) v, S = entmax_alpha(z) v, out = GAG(D, S)   (guidance.md §1-2)
//     Stats:   no output                                 (capture next to a flash pass)
//   Capture (any mode): concentration[b, h, x] = mean of the top-K probabilities of the row
//   (afm.md §2). PAG (never with capture) and T-GATE record as in the flash kernel (common.cuh).
//
// Shared memory: a 32-key tile (float32, odd row stride: lane j reads key j's row without bank
// conflicts), R query rows, R logit rows and, for GAG, R sort buffers of next_pow2(nk) floats.
// GAG is limited to nk <= 1024 on CUDA (attention.cu checks), which bounds the sort buffers.
#include "capture.cuh"
#include "common.cuh"
#include "entmax.cuh"
#include "guidance.cuh"
#include "launch.cuh"

namespace da::cuda::attn {

namespace {

constexpr int kKeyTile = 32;
constexpr int kMaxRowsPerBlock = 8;

// Keys [0, valid) of a row-major [*, d] global block into a [kKeyTile, stride] float32 tile; the
// rows past `valid` are zero (they are skipped, but must not hold NaN bits).
template <typename T>
__device__ void stage_keys(float* tile, const T* src, int valid, int d, int stride) {
  for (int i = threadIdx.x; i < kKeyTile * d; i += blockDim.x) {
    const int key = i / d, c = i - key * d;
    tile[key * stride + c] = key < valid ? to_float(src[i]) : 0.f;
  }
}

template <typename T>
__global__ void row_kernel(const AttnParams p, const RowParams r, int stride, int sort_cap) {
  extern __shared__ __align__(16) float smem[];
  const int rows_per_block = blockDim.x >> 5, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  float* tile = smem;
  float* q = tile + kKeyTile * stride + warp * p.d;
  float* z = tile + kKeyTile * stride + rows_per_block * p.d + static_cast<size_t>(warp) * p.nk;
  float* sort_buf = tile + kKeyTile * stride + rows_per_block * (p.d + p.nk) + static_cast<size_t>(warp) * sort_cap;

  const int h = blockIdx.y, x0 = blockIdx.x * rows_per_block, x = x0 + warp;
  const int rows = min(rows_per_block, p.N - x0);
  const bool active = x < p.N;  // inactive warps still take part in every __syncthreads
  const bool gag = r.mode == RowMode::Gag, output = r.mode != RowMode::Stats;
  const int top_k = min(r.top_k, p.nk);
  const AfmGains gains = load_gains(p);

  for (int pass = 0; pass < passes(p); ++pass) {
    const int b = batch_of_pass(p, pass);
    const size_t bh = static_cast<size_t>(b) * p.H + h;
    const size_t row = bh * p.N + x;
    __syncthreads();  // the previous pass is done with shared memory
    if (is_pag_row(p, b)) {  // only with an output: capture is never combined with PAG
      copy_identity_rows<T>(p, bh, x0, rows);
      continue;
    }
    const uint8_t* mask = p.mask ? p.mask + static_cast<size_t>(b) * p.nk : nullptr;

    // 1. The logit row z (masked keys -inf).
    if (r.logits) {
      if (active) {
        for (int j = lane; j < p.nk; j += 32) z[j] = !mask || mask[j] ? r.logits[row * p.nk + j] : -kInf;
      }
    } else {
      if (active) {
        for (int c = lane; c < p.d; c += 32) q[c] = load_query<T>(p, gains, bh, x, c);
      }
      const T* kg = static_cast<const T*>(p.k) + bh * p.nk * p.d;
      for (int kv0 = 0; kv0 < p.nk; kv0 += kKeyTile) {
        __syncthreads();  // the tile is free (and the query rows are written)
        stage_keys(tile, kg + static_cast<size_t>(kv0) * p.d, min(kKeyTile, p.nk - kv0), p.d, stride);
        __syncthreads();
        const int j = kv0 + lane;
        if (active && j < p.nk) {
          const float* kr = tile + lane * stride;
          float dot = 0.f;
          for (int c = 0; c < p.d; ++c) dot = fmaf(q[c], kr[c], dot);
          z[j] = !mask || mask[j] ? dot * p.scale : -kInf;
        }
      }
    }
    __syncwarp();

    // 2. Row statistics (warp): max, softmax sum, entmax threshold, capture.
    float m = 0.f, inv_l = 0.f, tau = 0.f;
    if (active) {
      float mx = -kInf;
      for (int j = lane; j < p.nk; j += 32) mx = fmaxf(mx, z[j]);
      m = warp_max(mx);  // finite: every batch row keeps at least one key
      float l = 0.f;
      for (int j = lane; j < p.nk; j += 32) l += expf(z[j] - m);
      inv_l = 1.f / warp_sum(l);
      if (gag) tau = entmax_threshold(z, p.nk, m, r.sparsemax, sort_buf);
      if (r.concentration) {
        const float c = topk_exp_mass(z, p.nk, top_k, m) * inv_l / static_cast<float>(top_k);
        if (lane == 0) r.concentration[row] = c;
      }
    }
    if (!output) continue;

    // 3. P·V for the softmax weights (and the entmax weights), V staged 32 keys at a time.
    float dense[kMaxLaneChannels] = {}, sparse[kMaxLaneChannels] = {};
    const T* vg = static_cast<const T*>(p.v) + bh * p.nk * p.d;
    for (int kv0 = 0; kv0 < p.nk; kv0 += kKeyTile) {
      const int valid = min(kKeyTile, p.nk - kv0);
      __syncthreads();
      stage_keys(tile, vg + static_cast<size_t>(kv0) * p.d, valid, p.d, stride);
      __syncthreads();
      if (!active) continue;
      for (int j = 0; j < valid; ++j) {
        const float zj = z[kv0 + j];
        if (zj == -kInf) continue;  // masked: weight 0 in both (warp-uniform branch)
        const float pd = expf(zj - m) * inv_l;
        const float ps = gag ? entmax_weight(zj, m, tau, r.sparsemax) : 0.f;
        const float* vr = tile + j * stride;
#pragma unroll
        for (int i = 0; i < kMaxLaneChannels; ++i) {
          const int c = lane + 32 * i;
          if (c < p.d) {
            dense[i] = fmaf(pd, vr[c], dense[i]);
            sparse[i] = fmaf(ps, vr[c], sparse[i]);
          }
        }
      }
    }

    // 4. Epilogue.
    if (active) {
      if (gag) gag_combine(dense, sparse, p.d, r.gag_scale, r.eta, r.zeta);
#pragma unroll
      for (int i = 0; i < kMaxLaneChannels; ++i) {
        const int c = lane + 32 * i;
        if (c < p.d) store_out<T>(p, row * p.d + c, gag ? sparse[i] : dense[i]);
      }
    }
  }

  if (p.cache) {
    __syncthreads();
    record_tile<T>(p, blockIdx.z, h, x0, rows);
  }
}

template <typename T>
void launch_typed(const AttnParams& p, const RowParams& r, int rows_per_block, int stride, int sort_cap, size_t smem) {
  const auto kernel = row_kernel<T>;
  if (smem > 48 * 1024) {
    DA_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  }
  const dim3 grid(ceil_div(p.N, rows_per_block), p.H, p.cache ? p.B / 2 : p.B);
  kernel<<<grid, 32 * rows_per_block, smem, cuda::stream()>>>(p, r, stride, sort_cap);
  DA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void launch_rows(DType dtype, const AttnParams& p, const RowParams& r) {
  const int stride = p.d % 2 == 0 ? p.d + 1 : p.d;
  int sort_cap = 0;
  if (r.mode == RowMode::Gag) {
    sort_cap = 1;
    while (sort_cap < p.nk) sort_cap <<= 1;
  }
  int device = 0, limit = 0;
  DA_CUDA_CHECK(cudaGetDevice(&device));
  DA_CUDA_CHECK(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  const auto bytes = [&](int rows) {
    return sizeof(float) * (static_cast<size_t>(kKeyTile) * stride + static_cast<size_t>(rows) * (p.d + p.nk + sort_cap));
  };
  int rows = kMaxRowsPerBlock;
  while (rows > 1 && bytes(rows) > static_cast<size_t>(limit)) rows /= 2;
  if (bytes(rows) > static_cast<size_t>(limit)) {
    fail(ErrorCode::InvalidArgument, "attention on CUDA: a row of " + std::to_string(p.nk) +
                                         " keys does not fit in shared memory for this variant (capture, GAG or the AFM "
                                         "reference path); use fewer keys or the CPU backend");
  }
  switch (dtype) {
    case DType::Float32: return launch_typed<float>(p, r, rows, stride, sort_cap, bytes(rows));
    case DType::Float16: return launch_typed<__half>(p, r, rows, stride, sort_cap, bytes(rows));
    case DType::BFloat16: return launch_typed<__nv_bfloat16>(p, r, rows, stride, sort_cap, bytes(rows));
  }
}

}  // namespace da::cuda::attn
