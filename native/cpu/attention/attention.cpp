// The CPU attention driver: packs K and V per (batch, head), runs the AFM band split and the
// entropy gate, then the tiles of the chosen path across the thread pool:
//   flash  streaming online softmax (plain, AFM fused, NAG's two branches)
//   rows   full logit rows per tile, never the whole N x T matrix (GAG, capture)
//   ref    materialised logits per head, 2-D DFT filter per token map (AFM reference path)
// T-GATE record is the epilogue of the tile loop: a work item computes the tile of batch b and of
// b + B/2 and writes their mean while both are hot.
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "../../core/error.h"
#include "../../ops/attention.h"
#include "../simd.h"
#include "../thread_pool.h"
#include "dft_plan.h"
#include "kernels.h"
#include "spectrum.h"

namespace da::cpu {

namespace {

using attn::kKeys;
using attn::kRows;

// K^T blocks and padded V of every (batch, head), plus each batch row's mask and entropy weight.
struct Packed {
  int T = 0, blocks = 0, dpad = 0;
  std::vector<float> kt, v;
  const uint8_t* mask = nullptr;  // [B][T] or null
  std::vector<float> inv_log_n;   // [B]: 1 / log(unmasked keys), 0 when there is one key

  const float* kt_of(size_t bh, int d) const { return kt.data() + bh * blocks * d * kKeys; }
  const float* v_of(size_t bh) const { return v.data() + bh * static_cast<size_t>(blocks) * kKeys * dpad; }
};

int vector_width() {
  switch (simd_level()) {
    case SimdLevel::Avx512: return 16;
    case SimdLevel::Avx2: return 8;
    case SimdLevel::Scalar: break;
  }
  return 1;
}

Packed pack(const Tensor& k, const Tensor& v, const std::vector<uint8_t>& mask) {
  const int B = static_cast<int>(k.shape[0]), H = static_cast<int>(k.shape[1]);
  const int T = static_cast<int>(k.shape[2]), d = static_cast<int>(k.shape[3]);
  const int w = vector_width();
  Packed p;
  p.T = T;
  p.blocks = (T + kKeys - 1) / kKeys;
  p.dpad = (d + w - 1) / w * w;
  const size_t BH = static_cast<size_t>(B) * H;
  p.kt.assign(BH * p.blocks * d * kKeys, 0.f);
  p.v.assign(BH * p.blocks * kKeys * p.dpad, 0.f);
  const float* ks = static_cast<const float*>(k.data());
  const float* vs = static_cast<const float*>(v.data());
  parallel_for(BH, [&](size_t begin, size_t end, int) {
    for (size_t bh = begin; bh < end; ++bh) {
      float* kt = p.kt.data() + bh * p.blocks * d * kKeys;
      float* vp = p.v.data() + bh * static_cast<size_t>(p.blocks) * kKeys * p.dpad;
      for (int j = 0; j < T; ++j) {
        const float* krow = ks + (bh * T + j) * d;
        float* kblk = kt + static_cast<size_t>(j / kKeys) * d * kKeys + j % kKeys;
        for (int c = 0; c < d; ++c) kblk[c * kKeys] = krow[c];
        std::memcpy(vp + static_cast<size_t>(j) * p.dpad, vs + (bh * T + j) * d, sizeof(float) * d);
      }
    }
  });
  if (!mask.empty()) p.mask = mask.data();
  p.inv_log_n.resize(B);
  for (int b = 0; b < B; ++b) {
    int n = T;
    if (p.mask) {
      n = 0;
      for (int j = 0; j < T; ++j) n += p.mask[b * T + j] != 0;
    }
    p.inv_log_n[b] = n > 1 ? static_cast<float>(1.0 / std::log(static_cast<double>(n))) : 0.f;
  }
  return p;
}

struct Problem {
  int B, H, N, d;
  bool causal;
  const float* q;
  // AFM fused: low band [N][dpad] and spatial mean [d] of q per (batch, head); null otherwise.
  std::unique_ptr<float[]> low, dc;
};

attn::Head head_of(const Problem& pr, const Packed& pk, size_t bh) {
  const int b = static_cast<int>(bh / pr.H);
  attn::Head h;
  h.q = pr.q + bh * pr.N * pr.d;
  h.low = pr.low ? pr.low.get() + bh * pr.N * pk.dpad : nullptr;
  h.dc = pr.dc ? pr.dc.get() + bh * pr.d : nullptr;
  h.kt = pk.kt_of(bh, pr.d);
  h.v = pk.v_of(bh);
  h.mask = pk.mask ? pk.mask + static_cast<size_t>(b) * pk.T : nullptr;
  return h;
}

attn::Dims dims_of(const Problem& pr, const Packed& pk) { return {pr.N, pk.T, pr.d, pk.dpad, pk.blocks, pr.causal}; }

void band_split(Problem& pr, const AfmParams& afm, int dpad) {
  const attn::BandPlan plan = attn::make_band_plan(afm.grid_h, afm.grid_w, afm.cutoff, afm.width);
  const size_t BH = static_cast<size_t>(pr.B) * pr.H, nd = static_cast<size_t>(pr.N) * pr.d;
  const size_t np = static_cast<size_t>(pr.N) * dpad;
  pr.low.reset(new float[BH * np]);  // every element is written by the band split
  pr.dc.reset(new float[BH * pr.d]);
  const attn::Kernels& K = attn::kernels();
  parallel_for(BH, [&](size_t begin, size_t end, int) {
    attn::Scratch sc;
    for (size_t bh = begin; bh < end; ++bh) {
      K.band_split(pr.q + bh * nd, pr.d, dpad, plan, pr.low.get() + bh * np, pr.dc.get() + bh * pr.d, sc);
    }
  });
}

// Mean normalised token entropy of the unedited attention (reference/afm.md §7).
double mean_entropy(const Problem& pr, const Packed& pk, float scale) {
  const attn::Kernels& K = attn::kernels();
  const size_t BH = static_cast<size_t>(pr.B) * pr.H;
  const int tiles = (pr.N + kRows - 1) / kRows;
  std::vector<double> partial(static_cast<size_t>(thread_count()), 0.0);
  Problem plain{pr.B, pr.H, pr.N, pr.d, pr.causal, pr.q, nullptr, nullptr};
  parallel_for(BH * tiles, [&](size_t begin, size_t end, int worker) {
    attn::Scratch sc;
    double sum = 0;
    for (size_t i = begin; i < end; ++i) {
      const size_t bh = i / tiles;
      const int x0 = static_cast<int>(i % tiles) * kRows;
      const int rows = pr.N - x0 < kRows ? pr.N - x0 : kRows;
      sum += K.entropy(head_of(plain, pk, bh), dims_of(pr, pk), {scale, 0.f, 0.f}, x0, rows,
                       pk.inv_log_n[bh / pr.H], sc);
    }
    partial[worker] += sum;
  });
  double total = 0;
  for (double s : partial) total += s;
  return total / (static_cast<double>(BH) * pr.N);
}

enum class Path { Flash, Rows, Reference };

// Computes the attention of every row of `pr` against `pk` into out [B][H][N][d] (and the top-K
// means into topk [B][H][N] when capturing). With `record`, also writes the T-GATE mean of the two
// batch halves into `cache` [B/2][H][N][d]. Rows of batches in [pag_begin, pag_end) are skipped
// (filled by the caller).
struct RunSpec {
  Path path = Path::Flash;
  attn::QForm form{};
  attn::RowOptions rows{};
  const attn::FilterPlan* filter = nullptr;  // Path::Reference
  float scale = 0.f;                         // Path::Reference: logits are scaled before filtering
  int pag_begin = 0, pag_end = 0;
  float* record = nullptr;
};

void run(const Problem& pr, const Packed& pk, const RunSpec& spec, float* out, float* topk) {
  const attn::Kernels& K = attn::kernels();
  const attn::Dims dm = dims_of(pr, pk);
  const size_t nd = static_cast<size_t>(pr.N) * pr.d;
  const int groups = spec.record ? pr.B / 2 : pr.B;
  // The reference path materialises a head's logits, so its work item is a whole head.
  const int tiles = spec.path == Path::Reference ? 1 : (pr.N + kRows - 1) / kRows;
  const size_t items = static_cast<size_t>(groups) * pr.H * tiles;
  parallel_for(items, [&](size_t begin, size_t end, int) {
    attn::Scratch sc;
    std::vector<float> logits;
    for (size_t i = begin; i < end; ++i) {
      const int g = static_cast<int>(i / (static_cast<size_t>(pr.H) * tiles));
      const int h = static_cast<int>(i / tiles % pr.H);
      const int x0 = spec.path == Path::Reference ? 0 : static_cast<int>(i % tiles) * kRows;
      const int rows = spec.path == Path::Reference ? pr.N : (pr.N - x0 < kRows ? pr.N - x0 : kRows);
      const int batches[2] = {g, g + pr.B / 2};
      for (int k = 0; k < (spec.record ? 2 : 1); ++k) {
        const int b = batches[k];
        if (b >= spec.pag_begin && b < spec.pag_end) continue;
        const size_t bh = static_cast<size_t>(b) * pr.H + h;
        const attn::Head hd = head_of(pr, pk, bh);
        float* o = out + bh * nd + static_cast<size_t>(x0) * pr.d;
        float* tk = topk ? topk + bh * pr.N + x0 : nullptr;
        switch (spec.path) {
          case Path::Flash:
            K.flash(hd, dm, spec.form, x0, rows, o, pr.d, sc);
            break;
          case Path::Rows:
            logits.resize(static_cast<size_t>(rows) * pk.T);
            K.logits(hd, dm, spec.form, x0, rows, logits.data(), pk.T, sc);
            K.rows(hd, dm, logits.data(), pk.T, rows, spec.rows, o, pr.d, tk, sc);
            break;
          case Path::Reference:
            logits.resize(static_cast<size_t>(pr.N) * pk.T);
            for (int x = 0; x < pr.N; x += kRows) {
              K.logits(hd, dm, {spec.scale, 0.f, 0.f}, x, pr.N - x < kRows ? pr.N - x : kRows,
                       logits.data() + static_cast<size_t>(x) * pk.T, pk.T, sc);
            }
            // The filter needs finite maps: masked columns are filtered as zeros and re-masked.
            if (hd.mask)
              for (int x = 0; x < pr.N; ++x)
                for (int j = 0; j < pk.T; ++j) if (!hd.mask[j]) logits[static_cast<size_t>(x) * pk.T + j] = 0.f;
            K.dft_filter(logits.data(), pk.T, *spec.filter, sc);
            if (hd.mask)
              for (int x = 0; x < pr.N; ++x)
                for (int j = 0; j < pk.T; ++j)
                  if (!hd.mask[j]) logits[static_cast<size_t>(x) * pk.T + j] = -std::numeric_limits<float>::infinity();
            for (int x = 0; x < pr.N; x += kRows) {
              const int r = pr.N - x < kRows ? pr.N - x : kRows;
              K.rows(hd, dm, logits.data() + static_cast<size_t>(x) * pk.T, pk.T, r, spec.rows,
                     o + static_cast<size_t>(x) * pr.d, pr.d, tk ? tk + x : nullptr, sc);
            }
            break;
        }
      }
      if (spec.record) {
        const size_t off = static_cast<size_t>(h) * nd + static_cast<size_t>(x0) * pr.d;
        const float* a = out + static_cast<size_t>(batches[0]) * pr.H * nd + off;
        const float* c = out + static_cast<size_t>(batches[1]) * pr.H * nd + off;
        float* dst = spec.record + static_cast<size_t>(g) * pr.H * nd + off;
        for (size_t e = 0; e < static_cast<size_t>(rows) * pr.d; ++e) dst[e] = 0.5f * (a[e] + c[e]);
      }
    }
  });
}

// NAG (reference/guidance.md §4) over each query's full feature (all heads), in place on zp.
void nag_combine(float* zp, const float* zn, int B, int H, int N, int d, const GuidanceParams& g) {
  const size_t nd = static_cast<size_t>(N) * d;
  parallel_for(static_cast<size_t>(B) * N, [&](size_t begin, size_t end, int) {
    for (size_t i = begin; i < end; ++i) {
      const size_t b = i / N, x = i % N;
      double a = 0, p = 0;
      for (int h = 0; h < H; ++h) {
        const size_t off = (b * H + h) * nd + x * d;
        for (int c = 0; c < d; ++c) {
          a += std::fabs(g.scale * static_cast<double>(zp[off + c]) - (g.scale - 1) * static_cast<double>(zn[off + c]));
          p += std::fabs(static_cast<double>(zp[off + c]));
        }
      }
      const double factor = a <= g.tau * p ? 1.0 : g.tau * p / a;
      for (int h = 0; h < H; ++h) {
        const size_t off = (b * H + h) * nd + x * d;
        for (int c = 0; c < d; ++c) {
          const double zt = g.scale * static_cast<double>(zp[off + c]) - (g.scale - 1) * static_cast<double>(zn[off + c]);
          zp[off + c] = static_cast<float>(g.nag_alpha * zt * factor + (1 - g.nag_alpha) * zp[off + c]);
        }
      }
    }
  });
}

}  // namespace

AttentionResult attention(const AttentionCall& call) {
  Problem pr{static_cast<int>(call.q.shape[0]), static_cast<int>(call.q.shape[1]), static_cast<int>(call.q.shape[2]),
             static_cast<int>(call.q.shape[3]), call.causal, static_cast<const float*>(call.q.data()), nullptr, nullptr};
  AttentionResult result;
  result.out = tensor_empty(call.q.shape, DType::Float32, Device::Cpu);
  float* out = static_cast<float*>(result.out.data());
  if (result.out.numel() == 0) return result;

  const Packed pk = pack(call.k, call.v, call.mask);
  const AfmParams& afm = call.afm;
  float a_lf = afm.gain_low, a_hf = afm.gain_high;
  if (afm.enabled && afm.entropy_gate) {
    const double H = mean_entropy(pr, pk, call.scale);
    result.entropy = static_cast<float>(H);
    a_lf = static_cast<float>(1 + afm.strength * afm.w_low * (1 + afm.beta * H));
    a_hf = static_cast<float>(1 + afm.strength * afm.w_high * (1 + afm.gamma * (1 - H)));
  }
  result.gain_low = afm.enabled ? a_lf : 1.f;
  result.gain_high = afm.enabled ? a_hf : 1.f;

  RunSpec spec;
  spec.form = {call.scale, 0.f, 0.f};
  attn::FilterPlan filter;
  if (afm.enabled && afm.reference) {
    filter = attn::make_filter_plan(afm.grid_h, afm.grid_w, afm.cutoff, afm.width, a_lf, a_hf, afm.preserve_dc);
    spec.path = Path::Reference;
    spec.filter = &filter;
    spec.scale = call.scale;
  } else if (afm.enabled) {
    band_split(pr, afm, pk.dpad);
    const double m0 = attn::low_mask(0.0, afm.cutoff, afm.width);
    const double g0 = afm.preserve_dc ? 1.0 : a_lf * m0 + a_hf * (1 - m0);
    spec.form = {call.scale * a_hf, call.scale * (a_lf - a_hf), static_cast<float>(call.scale * (g0 - a_hf))};
  }
  const GuidanceParams& g = call.guidance;
  const bool capture = call.capture.enabled;
  if (g.kind == GuidanceKind::Gag || capture) {
    if (spec.path == Path::Flash) spec.path = Path::Rows;
    spec.rows.gag = g.kind == GuidanceKind::Gag;
    spec.rows.alpha = g.alpha;
    spec.rows.scale = g.scale;
    spec.rows.eta = g.eta;
    spec.rows.zeta = g.zeta;
    spec.rows.top_k = capture ? call.capture.top_k : 0;
  }
  if (g.kind == GuidanceKind::Pag) {
    spec.pag_begin = g.pag_begin;
    spec.pag_end = g.pag_end;
    const size_t nd = static_cast<size_t>(pr.N) * pr.d;
    const float* v = static_cast<const float*>(call.v.data());
    for (int b = g.pag_begin; b < g.pag_end; ++b) std::memcpy(out + b * pr.H * nd, v + b * pr.H * nd, sizeof(float) * pr.H * nd);
  }
  std::vector<float> topk(capture ? static_cast<size_t>(pr.B) * pr.H * pr.N : 0);

  std::optional<Tensor> cache;
  if (call.cache_mode == CacheMode::Record) {
    std::vector<int64_t> shape = call.q.shape;
    shape[0] /= 2;
    cache = tensor_empty(shape, DType::Float32, Device::Cpu);
  }
  if (g.kind == GuidanceKind::Nag) {
    // Both branches in full first: the combination needs every head of a query at once. The
    // record (if any) is then taken from the combined output in one pass.
    run(pr, pk, spec, out, topk.empty() ? nullptr : topk.data());
    const Packed neg = pack(*g.k_neg, *g.v_neg, g.mask_neg);
    std::vector<float> zn(static_cast<size_t>(result.out.numel()));
    RunSpec nspec = spec;
    nspec.rows.top_k = 0;
    run(pr, neg, nspec, zn.data(), nullptr);
    nag_combine(out, zn.data(), pr.B, pr.H, pr.N, pr.d, g);
    if (cache) {
      const size_t half = static_cast<size_t>(result.out.numel()) / 2;
      float* dst = static_cast<float*>(cache->data());
      for (size_t e = 0; e < half; ++e) dst[e] = 0.5f * (out[e] + out[e + half]);
    }
  } else {
    spec.record = cache ? static_cast<float*>(cache->data()) : nullptr;
    run(pr, pk, spec, out, topk.empty() ? nullptr : topk.data());
  }
  if (cache) {
    std::lock_guard<std::mutex> lock(call.cache->mutex);
    call.cache->value = std::move(*cache);
  }

  if (capture) {
    const int hh = call.capture.grid_h, ww = call.capture.grid_w, bins = call.capture.bins;
    result.concentration.assign(static_cast<size_t>(pr.B) * pr.N, 0.f);
    result.spectrum.assign(static_cast<size_t>(pr.B) * bins, 0.f);
    for (int b = 0; b < pr.B; ++b) {
      float* c = result.concentration.data() + static_cast<size_t>(b) * pr.N;
      for (int h = 0; h < pr.H; ++h)
        for (int x = 0; x < pr.N; ++x) c[x] += topk[(static_cast<size_t>(b) * pr.H + h) * pr.N + x] / pr.H;
      attn::radial_spectrum(c, hh, ww, bins, result.spectrum.data() + static_cast<size_t>(b) * bins);
    }
  }
  return result;
}

Tensor afm_low_band(const Tensor& q, int grid_h, int grid_w, float cutoff, float width) {
  if (q.device() != Device::Cpu || q.dtype != DType::Float32 || q.shape.size() != 4 || q.shape[2] != int64_t(grid_h) * grid_w ||
      grid_h < 1 || grid_w < 1 || q.shape[3] < 1 || !(cutoff > 0.f && cutoff <= 1.f) || !(width >= 0.f && width < 1.f)) {
    fail(ErrorCode::InvalidArgument, "afm_low_band: q must be float32 [B, heads, H*W, d] on the CPU, cutoff in (0, 1], width in [0, 1)");
  }
  Problem pr{static_cast<int>(q.shape[0]), static_cast<int>(q.shape[1]), static_cast<int>(q.shape[2]), static_cast<int>(q.shape[3]),
             false, static_cast<const float*>(q.data()), nullptr, nullptr};
  const int vw = vector_width(), dpad = (pr.d + vw - 1) / vw * vw;
  AfmParams afm;
  afm.grid_h = grid_h;
  afm.grid_w = grid_w;
  afm.cutoff = cutoff;
  afm.width = width;
  band_split(pr, afm, dpad);
  Tensor out = tensor_empty(q.shape, DType::Float32, Device::Cpu);
  float* o = static_cast<float*>(out.data());
  const size_t BH = static_cast<size_t>(pr.B) * pr.H;
  for (size_t bh = 0; bh < BH; ++bh) {
    for (int n = 0; n < pr.N; ++n) {
      for (int c = 0; c < pr.d; ++c) {
        o[(bh * pr.N + n) * pr.d + c] = pr.low[(bh * pr.N + n) * dpad + c] + pr.dc[bh * pr.d + c];
      }
    }
  }
  return out;
}

}  // namespace da::cpu
