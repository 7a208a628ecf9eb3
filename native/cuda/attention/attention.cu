// da::cuda::attention: the CUDA backend of the attention family (native/ops/attention.h). It checks
// what memory safety depends on, uploads the small host inputs (masks, tables), then composes the
// kernels of this folder on cuda::stream() (stream.h) without synchronising (see the end of attention()):
//
//   T-GATE replay ........ the cached tensor, nothing computed (tgate.md §2)
//   AFM gains ............ fixed (uploaded) or entropy gate (entropy.cu), kept in device memory
//   AFM fused ............ band_split.cu -> L, D; the attention kernels edit Q on load (afm.md §12)
//   AFM reference ........ reference.cu -> filtered logits; the row kernel does softmax and P·V
//   plain / PAG .......... flash kernel (flash.cuh), PAG rows copy v
//   GAG .................. row kernel, softmax and exact alpha-entmax of one logit row (rows.cu)
//   NAG .................. two flash passes into float32, then guidance.cu combines
//   T-GATE record ........ epilogue of the final kernel (flash, row or NAG combine)
//   capture .............. row-kernel statistics (in the GAG / reference pass, else a pass of its
//                          own after the flash kernel), then capture.cu
//
// Dtypes float32, float16, bfloat16; float16/bfloat16 use tensor cores on sm_80+ (tile_math.cuh).
#include <cuda_runtime.h>

#include <climits>
#include <cmath>
#include <string>

#include "../../core/error.h"
#include "../../ops/attention.h"
#include "../check.h"
#include "../kernel_choice.h"
#include "launch.cuh"
#include "spectral.cuh"

namespace da::cuda {

namespace {

using attn::AfmGains;
using attn::AttnParams;
using attn::RowMode;
using attn::RowParams;
using attn::Workspace;

void require(bool ok, ErrorCode code, const std::string& what) {
  if (!ok) fail(code, "attention on CUDA: " + what);
}

struct Dims {
  int B, H, N, nk, d;
};

void require_keys(const Tensor& k, const Tensor& v, const Tensor& q, const std::vector<uint8_t>& mask, const char* name) {
  require(k.shape.size() == 4 && v.shape == k.shape, ErrorCode::Shape, std::string(name) + ": k and v must be [B, H, T, d]");
  require(k.shape[0] == q.shape[0] && k.shape[1] == q.shape[1] && k.shape[3] == q.shape[3], ErrorCode::Shape,
          std::string(name) + ": k and v must match q in B, H and d");
  require(k.dtype == q.dtype && v.dtype == q.dtype, ErrorCode::DType, std::string(name) + ": q, k and v must share a dtype");
  require(k.device() == Device::Cuda && v.device() == Device::Cuda, ErrorCode::Device,
          std::string(name) + ": k and v must be on cuda");
  require(k.shape[2] >= 1 && k.shape[2] <= INT_MAX, ErrorCode::Shape, std::string(name) + ": T must be in 1..2^31-1");
  const int64_t B = k.shape[0], T = k.shape[2];
  if (mask.empty()) return;
  require(static_cast<int64_t>(mask.size()) == B * T, ErrorCode::Shape, std::string(name) + ": the mask must be [B, T]");
  for (int64_t b = 0; b < B; ++b) {
    bool any = false;
    for (int64_t j = 0; j < T && !any; ++j) any = mask[b * T + j] != 0;
    require(any, ErrorCode::InvalidArgument, std::string(name) + ": every batch row must attend to at least one key");
  }
}

// What the kernels rely on for memory safety (check_call has validated the call before; this
// repeats the parts whose violation would read or write out of bounds).
Dims validate(const AttentionCall& c) {
  const Tensor& q = c.q;
  require(q.shape.size() == 4, ErrorCode::Shape, "q must be [B, H, N, d]");
  require(q.device() == Device::Cuda, ErrorCode::Device, "q must be on cuda");
  require(q.shape[0] <= 65535 && q.shape[1] <= 65535 && q.shape[2] <= INT_MAX, ErrorCode::Shape,
          "B and H must be at most 65535 and N at most 2^31-1");
  require(q.shape[3] >= 1 && q.shape[3] <= 256, ErrorCode::Shape, "the head dim d must be in 1..256");
  require_keys(c.k, c.v, q, c.mask, "keys");
  const Dims dims{static_cast<int>(q.shape[0]), static_cast<int>(q.shape[1]), static_cast<int>(q.shape[2]),
                  static_cast<int>(c.k.shape[2]), static_cast<int>(q.shape[3])};
  if (c.afm.enabled) {
    require(c.afm.grid_h >= 1 && c.afm.grid_w >= 1 && static_cast<int64_t>(c.afm.grid_h) * c.afm.grid_w == dims.N,
            ErrorCode::Shape, "afm grid H x W must equal N");
    require(c.afm.cutoff > 0.f && c.afm.width >= 0.f, ErrorCode::InvalidArgument, "afm cutoff must be > 0, width >= 0");
  }
  const GuidanceParams& g = c.guidance;
  switch (g.kind) {
    case GuidanceKind::Gag:
      require(g.alpha == 1.5f || g.alpha == 2.f, ErrorCode::InvalidArgument, "GAG alpha must be 1.5 or 2");
      require(dims.nk <= 1024, ErrorCode::InvalidArgument, "GAG supports at most 1024 keys on CUDA");
      break;
    case GuidanceKind::Nag:
      require(g.k_neg.has_value() && g.v_neg.has_value(), ErrorCode::InvalidArgument, "NAG needs k_neg and v_neg");
      require_keys(*g.k_neg, *g.v_neg, q, g.mask_neg, "negative keys");
      break;
    case GuidanceKind::Pag:
      require(g.pag_begin >= 0 && g.pag_begin <= g.pag_end && g.pag_end <= dims.B, ErrorCode::InvalidArgument,
              "PAG batch range must lie in [0, B]");
      require(g.pag_begin == g.pag_end || dims.N == dims.nk, ErrorCode::Shape, "PAG needs N == T");
      require(!c.capture.enabled, ErrorCode::InvalidArgument, "capture cannot be combined with PAG");
      break;
    case GuidanceKind::None:
      break;
  }
  if (c.cache_mode != CacheMode::None) require(c.cache != nullptr, ErrorCode::InvalidArgument, "T-GATE needs a cache");
  if (c.cache_mode == CacheMode::Record) require(dims.B % 2 == 0, ErrorCode::Shape, "T-GATE record needs an even batch");
  if (c.capture.enabled) {
    require(c.capture.grid_h >= 1 && c.capture.grid_w >= 1 &&
                static_cast<int64_t>(c.capture.grid_h) * c.capture.grid_w == dims.N,
            ErrorCode::Shape, "capture grid H x W must equal N");
    require(c.capture.top_k >= 1 && c.capture.bins >= 1, ErrorCode::InvalidArgument, "capture top_k and bins must be >= 1");
  }
  return dims;
}

}  // namespace

AttentionResult attention(const AttentionCall& call) {
  const Dims dims = validate(call);
  const AfmParams& afm = call.afm;
  const GuidanceParams& guidance = call.guidance;
  AttentionResult result;
  if (call.cache_mode == CacheMode::Replay) {
    std::lock_guard<std::mutex> lock(call.cache->mutex);
    require(call.cache->value.has_value(), ErrorCode::InvalidArgument, "the T-GATE cache holds nothing to replay");
    result.out = *call.cache->value;
    return result;
  }

  const DType dtype = call.q.dtype;
  const bool record = call.cache_mode == CacheMode::Record;
  result.out = tensor_empty(call.q.shape, dtype, Device::Cuda);
  Tensor cache;
  if (record) cache = tensor_empty({dims.B / 2, dims.H, dims.N, dims.d}, dtype, Device::Cuda);
  if (static_cast<int64_t>(dims.B) * dims.H * dims.N == 0) {  // nothing to launch
    if (record) {
      std::lock_guard<std::mutex> lock(call.cache->mutex);
      call.cache->value = cache;
    }
    return result;
  }

  int device = 0, major = 0;
  DA_CUDA_CHECK(cudaGetDevice(&device));
  DA_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  const bool tensor_cores = cuda::tensor_cores(major);

  Workspace ws;
  AttnParams base{};
  base.q = call.q.data(), base.k = call.k.data(), base.v = call.v.data();
  base.mask = call.mask.empty() ? nullptr : ws.upload(call.mask);
  base.scale = call.scale;
  base.B = dims.B, base.H = dims.H, base.N = dims.N, base.nk = dims.nk, base.d = dims.d;
  if (guidance.kind == GuidanceKind::Pag) base.pag_begin = guidance.pag_begin, base.pag_end = guidance.pag_end;

  // AFM: gains in device memory first (the gate reads the unedited attention), then the band split.
  AfmGains* gains = nullptr;
  if (afm.enabled) {
    gains = ws.alloc<AfmGains>(1);
    if (afm.entropy_gate) {
      attn::entropy_gate(ws, dtype, tensor_cores, base, afm, call.mask, gains);
    } else {
      const float m0 = static_cast<float>(attn::spectral::low_mask(0.0, afm.cutoff, afm.width));
      const float dc = afm.preserve_dc ? 1.f : afm.gain_low * m0 + afm.gain_high * (1.f - m0);
      const AfmGains fixed{afm.gain_low, afm.gain_high, dc, 0.f};
      DA_CUDA_CHECK(cudaMemcpyAsync(gains, &fixed, sizeof fixed, cudaMemcpyHostToDevice, cuda::stream()));
    }
    base.gains = gains;
    if (!afm.reference) {
      const attn::BandSplit split = attn::band_split(ws, dtype, call.q.data(), dims.B * dims.H, dims.d, afm);
      base.low = split.low, base.mean = split.mean;
    }
  }

  const bool capture = call.capture.enabled;
  float* concentration = capture ? ws.alloc<float>(static_cast<size_t>(dims.B) * dims.H * dims.N) : nullptr;
  const auto row_params = [&](RowMode mode, float* conc, const AttnParams& p) {
    RowParams r;
    r.mode = mode;
    r.concentration = conc;
    r.top_k = call.capture.top_k;
    if (afm.enabled && afm.reference) r.logits = attn::reference_logits(ws, dtype, p, afm);
    return r;
  };
  // One attention (these keys, values and mask): the flash kernel, or softmax over the filtered
  // logits of the AFM reference path; conc: capture this attention's probabilities.
  const auto attend = [&](const AttnParams& p, float* conc) {
    if (afm.enabled && afm.reference) return attn::launch_rows(dtype, p, row_params(RowMode::Softmax, conc, p));
    attn::launch_flash(dtype, p, attn::FlashKind::Attend, tensor_cores);
    if (conc) {
      AttnParams stats = p;
      stats.out = nullptr, stats.cache = nullptr;
      attn::launch_rows(dtype, stats, row_params(RowMode::Stats, conc, stats));
    }
  };

  AttnParams last = base;  // the call's final kernel: writes the output (and the record)
  last.out = result.out.data();
  last.cache = record ? cache.data() : nullptr;
  switch (guidance.kind) {
    case GuidanceKind::Gag: {
      RowParams r = row_params(RowMode::Gag, concentration, last);
      r.sparsemax = guidance.alpha == 2.f;
      r.gag_scale = guidance.scale, r.eta = guidance.eta, r.zeta = guidance.zeta;
      attn::launch_rows(dtype, last, r);
      break;
    }
    case GuidanceKind::Nag: {
      const size_t elems = static_cast<size_t>(call.q.numel());
      AttnParams pos = base;
      pos.out = ws.alloc<float>(elems), pos.out_f32 = true;
      AttnParams neg = pos;
      neg.out = ws.alloc<float>(elems);
      neg.k = guidance.k_neg->data(), neg.v = guidance.v_neg->data();
      neg.nk = static_cast<int>(guidance.k_neg->shape[2]);
      neg.mask = guidance.mask_neg.empty() ? nullptr : ws.upload(guidance.mask_neg);
      attend(pos, concentration);
      attend(neg, nullptr);
      attn::nag_combine(dtype, static_cast<const float*>(pos.out), static_cast<const float*>(neg.out), last.out,
                        last.cache, guidance, dims.B, dims.H, dims.N, dims.d);
      break;
    }
    case GuidanceKind::None:
    case GuidanceKind::Pag:
      attend(last, concentration);
      break;
  }

  if (capture) attn::capture_maps(ws, concentration, dims.B, dims.H, call.capture, result);
  // No synchronisation: the output stays queued on the stream for the next op, the
  // workspace's memory returns to the stream-ordered pool after the kernels that use it, and the
  // host waits only where it reads (the AFM gains and the capture maps, when asked for; otherwise
  // the model call's output). A launch error is still caught here.
  DA_CUDA_CHECK(cudaGetLastError());

  if (afm.enabled) {  // the gains the kernels used (fixed, or the gate's), read once
    AfmGains used{};
    DA_CUDA_CHECK(cudaMemcpyAsync(&used, gains, sizeof used, cudaMemcpyDeviceToHost, cuda::stream()));
    DA_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
    result.gain_low = used.gain_low, result.gain_high = used.gain_high;
    if (afm.entropy_gate) result.entropy = used.entropy;
  }
  if (record) {
    std::lock_guard<std::mutex> lock(call.cache->mutex);
    call.cache->value = cache;
  }
  return result;
}

}  // namespace da::cuda
