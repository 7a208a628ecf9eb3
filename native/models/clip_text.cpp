#include "clip_text.h"

#include <cmath>
#include <string>

#include "../core/error.h"
#include "../ops/attention.h"
#include "../ops/ops.h"

namespace da {

namespace {

std::string layer(int l) { return "text_model.encoder.layers." + std::to_string(l) + "."; }

}  // namespace

ClipTextModel::ClipTextModel(const ClipTextConfig& c, Weights weights) : config_(c), weights_(std::move(weights)) {
  if (c.hidden_size <= 0 || c.num_attention_heads <= 0 || c.hidden_size % c.num_attention_heads != 0 || c.num_hidden_layers <= 0 ||
      c.vocab_size <= 0 || c.max_position_embeddings <= 0 || c.intermediate_size <= 0) {
    fail(ErrorCode::ModelFormat, "text encoder config: sizes must be positive and heads must divide hidden_size");
  }
  const int64_t D = c.hidden_size, I = c.intermediate_size;
  weights_.need("text_model.embeddings.token_embedding.weight", {c.vocab_size, D});
  weights_.need("text_model.embeddings.position_embedding.weight", {c.max_position_embeddings, D});
  weights_.need("text_model.final_layer_norm.weight", {D});
  weights_.need("text_model.final_layer_norm.bias", {D});
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = layer(l);
    for (const char* n : {"layer_norm1", "layer_norm2"}) {
      weights_.need(p + n + ".weight", {D});
      weights_.need(p + n + ".bias", {D});
    }
    for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      weights_.need(p + "self_attn." + n + ".weight", {D, D});
      weights_.need(p + "self_attn." + n + ".bias", {D});
    }
    weights_.need(p + "mlp.fc1.weight", {I, D});
    weights_.need(p + "mlp.fc1.bias", {I});
    weights_.need(p + "mlp.fc2.weight", {D, I});
    weights_.need(p + "mlp.fc2.bias", {D});
  }
}

Tensor ClipTextModel::encode(const std::vector<int64_t>& ids, int B, int T, int clip_skip) const {
  const ClipTextConfig& c = config_;
  if (B < 1 || T < 1 || T > c.max_position_embeddings || static_cast<int64_t>(ids.size()) != static_cast<int64_t>(B) * T) {
    fail(ErrorCode::Shape, "token ids must be [B, T] with 1 <= T <= " + std::to_string(c.max_position_embeddings));
  }
  for (int64_t id : ids) {
    if (id < 0 || id >= c.vocab_size) fail(ErrorCode::InvalidArgument, "token id " + std::to_string(id) + " outside the vocabulary");
  }
  if (clip_skip < 1 || clip_skip > c.num_hidden_layers) {
    fail(ErrorCode::InvalidArgument, "clipSkip must be in 1.." + std::to_string(c.num_hidden_layers));
  }
  const int64_t D = c.hidden_size, H = c.num_attention_heads, dh = D / H, rows = static_cast<int64_t>(B) * T;
  const auto W = [&](const std::string& n, std::vector<int64_t> shape) -> const Tensor* { return &weights_.need(n, shape); };

  std::vector<int64_t> positions(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) positions[r] = r % T;
  Tensor x = ops::add(ops::embedding(*W("text_model.embeddings.token_embedding.weight", {c.vocab_size, D}), ids),
                      ops::embedding(*W("text_model.embeddings.position_embedding.weight", {c.max_position_embeddings, D}), positions));

  // [B*T, D] <-> [B, H, T, dh] for the attention op.
  const auto heads = [&](const Tensor& t) { return ops::permute(tensor_view(t, {B, T, H, dh}), {0, 2, 1, 3}); };
  const auto merge = [&](const Tensor& t) { return tensor_view(ops::permute(t, {0, 2, 1, 3}), {rows, D}); };

  const int run = c.num_hidden_layers - clip_skip + 1;
  const Activation act = c.quick_gelu ? Activation::QuickGelu : Activation::Gelu;
  for (int l = 0; l < run; ++l) {
    const std::string p = layer(l);
    const Tensor h = ops::layer_norm(x, c.layer_norm_eps, W(p + "layer_norm1.weight", {D}), W(p + "layer_norm1.bias", {D}));
    AttentionCall call;
    call.q = heads(ops::linear(h, *W(p + "self_attn.q_proj.weight", {D, D}), W(p + "self_attn.q_proj.bias", {D})));
    call.k = heads(ops::linear(h, *W(p + "self_attn.k_proj.weight", {D, D}), W(p + "self_attn.k_proj.bias", {D})));
    call.v = heads(ops::linear(h, *W(p + "self_attn.v_proj.weight", {D, D}), W(p + "self_attn.v_proj.bias", {D})));
    call.scale = 1.f / std::sqrt(static_cast<float>(dh));
    call.causal = true;
    const Tensor a = merge(attention(call).out);
    x = ops::linear(a, *W(p + "self_attn.out_proj.weight", {D, D}), W(p + "self_attn.out_proj.bias", {D}), {Activation::None, &x});
    const Tensor h2 = ops::layer_norm(x, c.layer_norm_eps, W(p + "layer_norm2.weight", {D}), W(p + "layer_norm2.bias", {D}));
    const Tensor f = ops::linear(h2, *W(p + "mlp.fc1.weight", {c.intermediate_size, D}), W(p + "mlp.fc1.bias", {c.intermediate_size}), {act, nullptr});
    x = ops::linear(f, *W(p + "mlp.fc2.weight", {D, c.intermediate_size}), W(p + "mlp.fc2.bias", {D}), {Activation::None, &x});
  }
  x = ops::layer_norm(x, c.layer_norm_eps, W("text_model.final_layer_norm.weight", {D}), W("text_model.final_layer_norm.bias", {D}));
  return tensor_view(x, {B, T, D});
}

}  // namespace da
