#include "attention.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "../core/error.h"

namespace da {

namespace {

std::string shape_str(const Tensor& t) { return t.describe(); }

[[noreturn]] void bad(const std::string& what) { fail(ErrorCode::InvalidArgument, what); }

void check_finite(float x, const char* name) {
  if (!std::isfinite(x)) bad(std::string(name) + " must be a finite number");
}

// Each batch row of a [B, T] mask attends to at least one key.
void check_mask(const std::vector<uint8_t>& mask, int64_t B, int64_t T, const char* name) {
  if (mask.empty()) return;
  if (static_cast<int64_t>(mask.size()) != B * T) {
    fail(ErrorCode::Shape, std::string(name) + " has " + std::to_string(mask.size()) + " entries, expected B*T = " +
                               std::to_string(B * T));
  }
  for (int64_t b = 0; b < B; ++b) {
    bool any = false;
    for (int64_t j = 0; j < T && !any; ++j) any = mask[b * T + j] != 0;
    if (!any) fail(ErrorCode::Shape, std::string(name) + " row " + std::to_string(b) + " masks every key");
  }
}

void check_kv(const Tensor& q, const Tensor& k, const Tensor& v, const char* kn, const char* vn) {
  if (k.shape.size() != 4 || v.shape.size() != 4) fail(ErrorCode::Shape, std::string(kn) + " and " + vn + " must be 4-D [B, heads, T, d]");
  if (k.dtype != q.dtype || v.dtype != q.dtype) fail(ErrorCode::DType, std::string("q, ") + kn + " and " + vn + " must have one dtype");
  if (k.device() != q.device() || v.device() != q.device()) fail(ErrorCode::Device, std::string("q, ") + kn + " and " + vn + " must be on one device");
  if (k.shape[0] != q.shape[0] || k.shape[1] != q.shape[1] || k.shape[3] != q.shape[3] || v.shape != k.shape) {
    fail(ErrorCode::Shape, std::string("expected ") + kn + " and " + vn + " [B, heads, T, d] matching q " + shape_str(q) +
                               ", got " + shape_str(k) + " and " + shape_str(v));
  }
  if (k.shape[2] < 1) fail(ErrorCode::Shape, std::string(kn) + " has no keys (T = 0)");
}

void check_grid(int h, int w, int64_t N, const char* name) {
  if (h < 1 || w < 1 || static_cast<int64_t>(h) * w != N) {
    fail(ErrorCode::Shape, std::string(name) + " [" + std::to_string(h) + ", " + std::to_string(w) +
                               "] does not cover the N = " + std::to_string(N) + " queries");
  }
}

}  // namespace

void check_call(const AttentionCall& c) {
  const Tensor& q = c.q;
  if (q.shape.size() != 4) fail(ErrorCode::Shape, "q must be 4-D [B, heads, N, d], got " + shape_str(q));
  const int64_t B = q.shape[0], N = q.shape[2], d = q.shape[3];
  if (d < 1 || d > 256) fail(ErrorCode::Shape, "head dim d must be in 1..256, got " + std::to_string(d));
  if (q.device() == Device::Cpu && q.dtype != DType::Float32) {
    fail(ErrorCode::DType, std::string("the CPU backend computes attention in float32, got ") + dtype_name(q.dtype));
  }
  if (c.cache_mode == CacheMode::Replay) {
    if (!c.cache) bad("replay needs a cache handle");
    if (c.afm.enabled || c.guidance.kind != GuidanceKind::None || c.capture.enabled || c.causal || !c.mask.empty()) {
      bad("replay returns the cached output: it cannot be combined with mask, causal, afm, guidance or capture");
    }
    return;  // the cached tensor itself is checked when it is read
  }
  check_kv(q, c.k, c.v, "k", "v");
  const int64_t T = c.k.shape[2];
  check_mask(c.mask, B, T, "mask");
  if (!(c.scale > 0) || !std::isfinite(c.scale)) bad("scale must be a positive finite number");
  // Sizes that keep every index computation far from 32-bit overflow in the kernels.
  // (Compared by division: an empty batch lets N and T each be huge, e.g. 2^33, and their product overflow.)
  if (N != 0 && std::max<int64_t>(T, d) > (int64_t(1) << 31) / N) fail(ErrorCode::Shape, "N * T is too large for one call");

  if (c.causal) {
    if (q.device() != Device::Cpu) bad("causal attention is implemented on the CPU backend only so far");
    // Query 0 sees key 0 alone: it must be attended, or that row has nothing to attend to.
    for (int64_t b = 0; b < B && !c.mask.empty(); ++b) {
      if (c.mask[b * T] == 0) fail(ErrorCode::Shape, "with causal attention the mask must attend to key 0 (row " + std::to_string(b) + " does not)");
    }
    if (c.afm.enabled || c.guidance.kind != GuidanceKind::None || c.capture.enabled || c.cache_mode != CacheMode::None) {
      bad("causal attention (a text encoder's) cannot be combined with afm, guidance, cache or capture");
    }
  }
  const AfmParams& a = c.afm;
  if (a.enabled) {
    check_grid(a.grid_h, a.grid_w, N, "afm.grid");
    check_finite(a.gain_low, "afm.gainLow");
    check_finite(a.gain_high, "afm.gainHigh");
    if (!(a.cutoff > 0 && a.cutoff <= 1)) bad("afm.cutoff must be in (0, 1]");
    if (!(a.width >= 0 && a.width < 1)) bad("afm.width must be in [0, 1)");
    if (a.entropy_gate) {
      for (float x : {a.strength, a.w_low, a.w_high, a.beta, a.gamma}) check_finite(x, "afm.entropyGate values");
    }
  }
  const GuidanceParams& g = c.guidance;
  switch (g.kind) {
    case GuidanceKind::None: break;
    case GuidanceKind::Gag:
      if (g.alpha != 1.5f && g.alpha != 2.f) bad("guidance.alpha must be 1.5 or 2 (the orders with an exact threshold)");
      check_finite(g.scale, "guidance.scale");
      check_finite(g.zeta, "guidance.zeta");
      if (!(g.eta > 0)) bad("guidance.eta must be positive (Infinity disables the cap)");
      break;
    case GuidanceKind::Nag:
      if (!g.k_neg || !g.v_neg) bad("NAG needs kNeg and vNeg");
      check_kv(q, *g.k_neg, *g.v_neg, "kNeg", "vNeg");
      check_mask(g.mask_neg, B, g.k_neg->shape[2], "maskNeg");
      check_finite(g.scale, "guidance.scale");
      check_finite(g.nag_alpha, "guidance.alpha");
      if (!(g.tau > 0) || !std::isfinite(g.tau)) bad("guidance.tau must be a positive finite number");
      break;
    case GuidanceKind::Pag:
      if (T != N) fail(ErrorCode::Shape, "PAG's identity attention needs N == T (self-attention)");
      if (g.pag_begin < 0 || g.pag_begin > g.pag_end || g.pag_end > B) bad("guidance.batch must satisfy 0 <= begin <= end <= B");
      if (c.capture.enabled) bad("capture cannot be combined with PAG (its rows have no attention map)");
      break;
  }
  if (c.cache_mode == CacheMode::Record) {
    if (!c.cache) bad("record needs a cache handle");
    if (B % 2 != 0) fail(ErrorCode::Shape, "record averages the two guidance halves of the batch: B must be even, got " + std::to_string(B));
  }
  if (c.capture.enabled) {
    check_grid(c.capture.grid_h, c.capture.grid_w, N, "capture.grid");
    if (c.capture.top_k < 1) bad("capture.topK must be at least 1");
    if (c.capture.bins < 1 || c.capture.bins > 4096) bad("capture.bins must be in 1..4096");
  }
}

AttentionResult attention(const AttentionCall& call) {
  check_call(call);
  if (call.cache_mode == CacheMode::Replay) {
    std::lock_guard<std::mutex> lock(call.cache->mutex);
    if (!call.cache->value) bad("replay before any record: the cache is empty");
    const Tensor& v = *call.cache->value;
    if (v.shape != call.q.shape || v.dtype != call.q.dtype || v.device() != call.q.device()) {
      fail(ErrorCode::Shape, "the cache holds " + v.describe() + " but q is " + call.q.describe());
    }
    AttentionResult r;
    r.out = v;  // shares the storage: tensors are immutable
    return r;
  }
  return call.q.device() == Device::Cpu ? cpu::attention(call) : cuda::attention(call);
}

}  // namespace da
