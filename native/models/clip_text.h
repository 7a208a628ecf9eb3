// CLIPTextModel (transformers' modeling_clip.py semantics): token and position embeddings, pre-LN
// encoder layers (layer_norm1 -> causal self-attention -> residual; layer_norm2 -> fc1 -> act ->
// fc2 -> residual), final_layer_norm. Weight names are transformers' (`text_model.encoder.layers.N.
// self_attn.q_proj.weight`, ...), as in a diffusers folder's text_encoder/.
#pragma once

#include <cstdint>
#include <vector>

#include "../core/tensor.h"
#include "weights.h"

namespace da {

struct ClipTextConfig {
  int vocab_size = 0, hidden_size = 0, intermediate_size = 0;
  int num_hidden_layers = 0, num_attention_heads = 0, max_position_embeddings = 0;
  bool quick_gelu = true;  // hidden_act: quick_gelu (SD 1.x) or gelu (SD 2.x)
  float layer_norm_eps = 1e-5f;
};

class ClipTextModel {
 public:
  // Checks that every weight the config needs is present with its shape (E_MODEL_FORMAT).
  ClipTextModel(const ClipTextConfig& config, Weights weights);

  // ids: B*T token ids (row-major [B, T]), T <= max_position_embeddings, each in [0, vocab).
  // Returns the hidden state [B, T, hidden] of layer (num_hidden_layers - clip_skip + 1) through
  // final_layer_norm: clip_skip 1 is the last layer, 2 the penultimate (SD 2.x's conditioning
  // from an original checkpoint). Throws E_SHAPE / E_INVALID_ARGUMENT for bad ids or clip_skip.
  Tensor encode(const std::vector<int64_t>& ids, int B, int T, int clip_skip) const;

  const ClipTextConfig& config() const { return config_; }

 private:
  ClipTextConfig config_;
  Weights weights_;
};

}  // namespace da
