// The CPU attention kernels, written once in kernels.inl and compiled per SIMD level (scalar,
// AVX2, AVX-512) into separate translation units; kernels() returns the table of the level chosen
// at run time. The driver (attention.cpp) prepares packed operands per (batch, head) and hands the
// kernels tiles of up to kRows query rows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dft_plan.h"

namespace da::cpu::attn {

constexpr int kRows = 16;   // query rows per tile
constexpr int kKeys = 64;   // keys per block of the streaming loop

// One (batch, head) slice, packed by the driver.
struct Head {
  const float* q;        // [N][d]
  const float* low;      // AFM: low band L of q without its DC [N][dpad], or null
  const float* dc;       // AFM: spatial mean D of q [d], or null
  const float* kt;       // keys transposed per block: [blocks][d][kKeys], zero padded
  const float* v;        // values [blocks * kKeys][dpad], zero padded
  const uint8_t* mask;   // [T] nonzero = attend, or null
};

struct Dims {
  int N, T, d;
  int dpad;    // d rounded up to the vector width
  int blocks;  // ceil(T / kKeys)
  bool causal; // query x attends only keys j <= x
};

// The query a tile is formed from on load: Q' = cq*Q + clow*L + cdc*D (the logit scale folded in).
// Plain attention: cq = scale, clow = cdc = 0. AFM (reference/afm.md §12): cq = scale*a_hf,
// clow = scale*(a_lf - a_hf), cdc = scale*(g0 - a_hf).
struct QForm {
  float cq, clow, cdc;
};

// A growable float buffer. Plain data on purpose: the SIMD translation units must not instantiate
// standard-library templates (a copy compiled for AVX-512 could be the one the linker keeps for
// baseline callers), so growing and freeing happen in kernels.cpp.
struct Buffer {
  float* data = nullptr;
  size_t size = 0;
};
// Returns b.data with room for at least n floats (contents not preserved).
float* grow(Buffer& b, size_t n);

// Per-thread buffers, reused across tiles.
struct Scratch {
  Buffer q, s, o, p;
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch();
};

// The GAG combination (reference/guidance.md §2) and capture settings for rows().
struct RowOptions {
  bool gag = false;
  float alpha = 1.5f, scale = 5.f, eta = 15.f, zeta = 0.f;
  int top_k = 0;  // > 0: write the mean of the top-K probabilities of each row to topk[r]
};

struct Kernels {
  // Streaming (online-softmax) attention for rows [x0, x0 + rows) (rows <= kRows): out[r * ostride + c].
  void (*flash)(const Head&, const Dims&, QForm, int x0, int rows, float* out, size_t ostride, Scratch&);
  // Sum over rows [x0, x0 + rows) (rows <= kRows) of the softmax entropy times inv_log_n (the entropy gate).
  double (*entropy)(const Head&, const Dims&, QForm, int x0, int rows, float inv_log_n, Scratch&);
  // Scaled logits of rows [x0, x0 + rows) (rows <= kRows) into dst[r * lstride + j] for j < T; masked keys -inf.
  void (*logits)(const Head&, const Dims&, QForm, int x0, int rows, float* dst, size_t lstride, Scratch&);
  // From full logit rows: softmax output (and GAG, top-K) into out[r * ostride + c].
  void (*rows)(const Head&, const Dims&, const float* logits, size_t lstride, int rows, const RowOptions&,
               float* out, size_t ostride, float* topk, Scratch&);
  // AFM band split of one head (reference/afm.md §12): low[N][dpad] = IDFT2(M'_low . DFT2(q)) per
  // channel of q [N][d], with M'_low the low mask without its DC bin, over the plan's kept bins;
  // dc[d] = the spatial mean of each channel.
  void (*band_split)(const float* q, int d, int dpad, const BandPlan& plan, float* low, float* dc, Scratch&);
  // Full 2-D DFT filter of `channels` maps laid out [N][channels]: x <- Re IDFT2(G . DFT2(x)).
  void (*dft_filter)(float* x, int channels, const FilterPlan& plan, Scratch&);
};

// The table of the SIMD level chosen at run time (cpu/simd.h).
const Kernels& kernels();

namespace scalar_impl { extern const Kernels kKernels; }
namespace avx2_impl { extern const Kernels kKernels; }
namespace avx512_impl { extern const Kernels kKernels; }

}  // namespace da::cpu::attn
