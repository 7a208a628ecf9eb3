// What the sampler asks of the UNet's attention layers for one forward pass (DESIGN.md: the per-step
// AttentionControls, crossing N-API once per model call). Layers are named as diffusers names the
// modules, e.g. `down_blocks.0.attentions.1.transformer_blocks.0.attn2`; a layer without an entry
// runs plain attention.
#pragma once

#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../core/tensor.h"
#include "../ops/attention.h"

namespace da {

// T-GATE (reference/tgate.md §1-3): the cache holds the attention module's output after to_out, as
// tokens [B', N, C], before the block's residual add. `Record` stores the whole batch (self-attention
// before the gate, keep_shape), `RecordMean` the mean of the two guidance halves (every layer on the
// gate step: first B/2 unconditional, second B/2 conditional), `Replay` skips the layer's q/k/v
// projections, attention and to_out and returns the stored tensor (its batch must match).
enum class LayerCacheMode { None, Record, RecordMean, Replay };

struct LayerControl {
  AfmParams afm;             // cross-attention only; the model fills in the grid
  GuidanceParams guidance;   // GAG any layer; NAG cross-attention (k_neg, v_neg from negative_context); PAG self-attention
  CaptureParams capture;     // the model fills in the grid
  LayerCacheMode cache_mode = LayerCacheMode::None;
  // RecordMean over the first `mean_rows` rows only (0 = the whole batch): the guidance halves when
  // a PAG branch follows them in the batch.
  int64_t mean_rows = 0;
  std::shared_ptr<AttentionCache> cache;
};

struct UNetControls {
  std::map<std::string, LayerControl> layers;
  // NAG's negative conditioning [B, T-, cross_attention_dim]; projected by each NAG layer's to_k / to_v.
  std::optional<Tensor> negative_context;
};

// What a layer reports back when it ran AFM or capture (attention.h AttentionResult, by layer).
struct LayerReport {
  std::string name;
  float entropy = std::numeric_limits<float>::quiet_NaN(), gain_low = 1.f, gain_high = 1.f;
  int grid_h = 0, grid_w = 0;
  std::vector<float> concentration, spectrum;  // [B, N], [B, bins]; empty without capture
};

}  // namespace da
