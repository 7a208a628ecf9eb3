// The attention family: one entry point, one variant struct, every backend.
//
// Layout as PyTorch SDPA: q [B, heads, N, d], k and v [B, heads, T, d], output [B, heads, N, d],
// contiguous. For a UNet layer the N queries are an H x W grid in row-major order. Variants compose:
// AFM edits the logits, guidance combines outputs, the T-GATE cache records the result, capture
// reads the final attention probabilities. Validation of shapes and options happens in
// ts/attention.ts first and again in check_call() here (native code never trusts its caller).
//
// Papers: AFM — Oh & Park, arXiv 2603.28114 (reference/afm.md); GAG — Kim, arXiv 2603.02531 and
// alpha-entmax, Peters et al. 2019 (reference/guidance.md §1-2); NAG — arXiv 2505.21179 (§4);
// PAG — arXiv 2403.17377 (§5); T-GATE — arXiv 2404.02747 (reference/tgate.md).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "../core/tensor.h"

namespace da {

// AFM: each token's logit map over the H x W grid is filtered by G = a_lf M_low + a_hf M_high
// (raised-cosine edge of `width` around `cutoff`, radius normalised so the grid corner is 1; the DC
// bin keeps gain 1 when preserve_dc) before the token softmax (afm.md §4-8). The fused path filters
// Q instead (afm.md §12); the reference path filters materialised logits (validation, benchmarks).
struct AfmParams {
  bool enabled = false;
  int grid_h = 0, grid_w = 0;  // H * W == N
  float gain_low = 1.f, gain_high = 1.f;  // a_lf, a_hf when no entropy gate
  float cutoff = 0.25f, width = 0.05f;
  bool preserve_dc = true;
  bool reference = false;  // the unfused logit-domain path
  // Entropy gate (afm.md §7): gains from the mean normalised token entropy H of the unedited
  // attention: a_lf = 1 + strength*w_low*(1 + beta*H), a_hf = 1 + strength*w_high*(1 + gamma*(1-H)).
  bool entropy_gate = false;
  float strength = 0.f, w_low = 0.f, w_high = 0.f, beta = 20.f, gamma = 4.f;
};

enum class GuidanceKind { None, Gag, Nag, Pag };

struct GuidanceParams {
  GuidanceKind kind = GuidanceKind::None;
  // GAG: out = S + scale * clip_eta(r_par + zeta * r_orth), r = S - D split against S, where S is
  // the alpha-entmax output and D the softmax output (guidance.md §2). alpha is 1.5 or 2 (exact).
  float scale = 5.f, alpha = 1.5f, eta = 15.f, zeta = 0.f;
  // NAG (guidance.md §4): Z~ = s Z+ - (s-1) Z-, rho = |Z~|_1 / |Z+|_1 over all heads of a query,
  // Z^ = Z~ * min(rho, tau) / rho, out = a Z^ + (1-a) Z+. Uses scale (s), tau, nag_alpha (a).
  std::optional<Tensor> k_neg, v_neg;           // [B, heads, T-, d]
  std::vector<uint8_t> mask_neg;                // [B, T-] or empty
  float tau = 2.5f, nag_alpha = 0.5f;
  // PAG (guidance.md §5): identity attention (out = v, needs N == T) for batch rows [pag_begin, pag_end).
  int pag_begin = 0, pag_end = 0;
};

// T-GATE (tgate.md §1-3): `Record` writes the mean of the two guidance halves of the output
// (first B/2 = unconditional, second B/2 = conditional) into the cache; `Replay` returns the cached
// tensor without computing.
enum class CacheMode { None, Record, Replay };

struct AttentionCache {
  std::mutex mutex;
  std::optional<Tensor> value;  // [B/2, heads, N, d]
};

// Capture (afm.md §2-3): concentration map c(x) = mean of the top-K token probabilities at x,
// averaged over heads, per batch element; and its radially binned power spectrum (DC removed,
// normalised to sum 1, `bins` equal bins of the corner-normalised radius on [0, 1]).
struct CaptureParams {
  bool enabled = false;
  int top_k = 8, bins = 16;
  int grid_h = 0, grid_w = 0;
};

struct AttentionCall {
  Tensor q, k, v;
  std::vector<uint8_t> mask;  // [B, T], nonzero = attend; empty = attend to all
  bool causal = false;        // query x attends keys j <= x only (CLIP's text encoder); CPU only
  float scale = 0.f;          // logit scale (1/sqrt(d) when the caller gives none)
  AfmParams afm;
  GuidanceParams guidance;
  CacheMode cache_mode = CacheMode::None;
  std::shared_ptr<AttentionCache> cache;
  CaptureParams capture;
};

struct AttentionResult {
  Tensor out;
  // AFM: the gains used, and the entropy H when the gate computed it (NaN otherwise).
  float entropy = std::numeric_limits<float>::quiet_NaN();
  float gain_low = 1.f, gain_high = 1.f;
  // Capture: concentration [B, N] and spectrum [B, bins], host float32.
  std::vector<float> concentration, spectrum;
};

// Checks shapes, dtypes, devices and option ranges; throws E_SHAPE, E_DTYPE, E_DEVICE or
// E_INVALID_ARGUMENT naming the problem.
void check_call(const AttentionCall& call);

// Runs the call on the backend of q's device (after check_call).
AttentionResult attention(const AttentionCall& call);

namespace cpu {
AttentionResult attention(const AttentionCall& call);
// The fused AFM path's band split alone, for its tests and the `fft` benchmark: the low band of q
// over the H x W grid, Q_low = IDFT2(M_low . DFT2(q)) per (batch, head, channel), DC included
// (afm.md §12). q float32 [B, heads, H*W, d] on the CPU; E_INVALID_ARGUMENT otherwise.
Tensor afm_low_band(const Tensor& q, int grid_h, int grid_w, float cutoff, float width);
}
namespace cuda {
AttentionResult attention(const AttentionCall& call);
}

}  // namespace da
