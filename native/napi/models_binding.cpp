#include "models_binding.h"

#include <map>
#include <memory>
#include <type_traits>

#include "../models/clip_text.h"
#include "../models/unet.h"
#include "../models/vae.h"
#include "attention_options.h"
#include "cache_wrap.h"
#include "errors.h"
#include "promise_job.h"
#include "tensor_wrap.h"
#include "typed_arrays.h"

namespace da::napi {

namespace {

int int_field(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) fail(ErrorCode::ModelFormat, std::string("config.") + key + " must be a number");
  return v.As<Napi::Number>().Int32Value();
}

template <typename T>
std::vector<T> array_field(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (!v.IsArray()) fail(ErrorCode::ModelFormat, std::string("config.") + key + " must be an array");
  const Napi::Array a = v.As<Napi::Array>();
  std::vector<T> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    if constexpr (std::is_same_v<T, bool>) {
      out.push_back(a.Get(i).ToBoolean().Value());
    } else {
      out.push_back(a.Get(i).ToNumber().Int32Value());
    }
  }
  return out;
}

Weights read_weights(const Napi::Value& v) {
  if (!v.IsObject()) fail(ErrorCode::InvalidArgument, "weights must be an object of tensors");
  const Napi::Object o = v.As<Napi::Object>();
  const Napi::Array names = o.GetPropertyNames();
  std::map<std::string, Tensor> tensors;
  for (uint32_t i = 0; i < names.Length(); ++i) {
    const std::string name = names.Get(i).ToString().Utf8Value();
    tensors.emplace(name, TensorWrap::TensorOf(o.Get(name)));
  }
  return Weights(std::move(tensors));
}

// The model of a wrap, or E_DISPOSED after dispose(). Jobs in flight hold their own reference, so
// dispose() never pulls weights from under a running forward pass.
template <typename M>
std::shared_ptr<M> live(const std::shared_ptr<M>& model) {
  if (!model) fail(ErrorCode::Disposed, "the model has been disposed (pipeline closed)");
  return model;
}

class TextEncoderWrap final : public Napi::ObjectWrap<TextEncoderWrap> {
 public:
  explicit TextEncoderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TextEncoderWrap>(info) {
    guard(info.Env(), [&] {
      if (info.Length() < 2 || !info[0].IsObject()) fail(ErrorCode::InvalidArgument, "NativeTextEncoder(config, weights)");
      const Napi::Object c = info[0].As<Napi::Object>();
      ClipTextConfig config;
      config.vocab_size = int_field(c, "vocabSize");
      config.hidden_size = int_field(c, "hiddenSize");
      config.intermediate_size = int_field(c, "intermediateSize");
      config.num_hidden_layers = int_field(c, "numHiddenLayers");
      config.num_attention_heads = int_field(c, "numAttentionHeads");
      config.max_position_embeddings = int_field(c, "maxPositionEmbeddings");
      config.quick_gelu = c.Get("quickGelu").ToBoolean().Value();
      config.layer_norm_eps = c.Get("layerNormEps").ToNumber().FloatValue();
      model_ = std::make_shared<ClipTextModel>(config, read_weights(info[1]));
    });
  }

  Napi::Value EncodeIds(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guard(env, [&]() -> Napi::Value {
      if (info.Length() < 4 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
        fail(ErrorCode::InvalidArgument, "encodeIds(ids: Int32Array, B, T, clipSkip)");
      }
      std::vector<int64_t> ids = copy_elements<int64_t>(info[0].As<Napi::Int32Array>());
      const int B = info[1].ToNumber().Int32Value(), T = info[2].ToNumber().Int32Value(), skip = info[3].ToNumber().Int32Value();
      auto model = live(model_);
      return TensorWrap::QueueJob(env, [model, ids, B, T, skip] { return model->encode(ids, B, T, skip); });
    });
  }

  void Dispose(const Napi::CallbackInfo&) { model_.reset(); }

 private:
  std::shared_ptr<ClipTextModel> model_;
};

class VaeWrap final : public Napi::ObjectWrap<VaeWrap> {
 public:
  explicit VaeWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<VaeWrap>(info) {
    guard(info.Env(), [&] {
      if (info.Length() < 2 || !info[0].IsObject()) fail(ErrorCode::InvalidArgument, "NativeVae(config, weights)");
      const Napi::Object c = info[0].As<Napi::Object>();
      VaeConfig config;
      config.in_channels = int_field(c, "inChannels");
      config.out_channels = int_field(c, "outChannels");
      config.latent_channels = int_field(c, "latentChannels");
      config.layers_per_block = int_field(c, "layersPerBlock");
      config.norm_num_groups = int_field(c, "normNumGroups");
      const Napi::Value blocks = c.Get("blockOutChannels");
      if (!blocks.IsArray()) fail(ErrorCode::ModelFormat, "config.blockOutChannels must be an array");
      for (uint32_t i = 0; i < blocks.As<Napi::Array>().Length(); ++i) {
        config.block_out_channels.push_back(blocks.As<Napi::Array>().Get(i).ToNumber().Int32Value());
      }
      model_ = std::make_shared<AutoencoderKL>(config, read_weights(info[1]));
    });
  }

  // decode(latents) -> Promise<NativeTensor>
  Napi::Value Decode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guard(env, [&]() -> Napi::Value {
      const Tensor z = TensorWrap::TensorOf(info[0]);
      auto model = live(model_);
      return TensorWrap::QueueJob(env, [model, z] { return model->decode(z); });
    });
  }

  // encode(images) -> Promise<[mean, logvar]>
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guard(env, [&]() -> Napi::Value {
      const Tensor x = TensorWrap::TensorOf(info[0]);
      auto model = live(model_);
      auto result = std::make_shared<std::pair<Tensor, Tensor>>();
      return PromiseJob::Queue(
          env, [model, x, result] { *result = model->encode(x); },
          [result](Napi::Env e, Napi::Object) -> Napi::Value {
            Napi::Array out = Napi::Array::New(e, 2);
            out.Set(0u, TensorWrap::Wrap(e, std::move(result->first)));
            out.Set(1u, TensorWrap::Wrap(e, std::move(result->second)));
            return out;
          });
    });
  }

  void Dispose(const Napi::CallbackInfo&) { model_.reset(); }

 private:
  std::shared_ptr<AutoencoderKL> model_;
};

// controls: { layers?: { [name]: { afm?, guidance?, capture?, cache?: { handle, mode } } }, negativeContext? }
// (ts/models/unet.ts has validated the shapes of the options; ranges are checked natively).
UNetControls read_controls(const Napi::Value& v, int64_t batch) {
  UNetControls controls;
  if (v.IsUndefined() || v.IsNull()) return controls;
  if (!v.IsObject()) fail(ErrorCode::InvalidArgument, "controls must be an object");
  const Napi::Object o = v.As<Napi::Object>();
  if (o.Get("negativeContext").IsObject()) controls.negative_context = TensorWrap::TensorOf(o.Get("negativeContext"));
  if (!o.Get("layers").IsObject()) return controls;
  const Napi::Object layers = o.Get("layers").As<Napi::Object>();
  const Napi::Array names = layers.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); ++i) {
    const std::string name = names.Get(i).ToString().Utf8Value();
    if (!layers.Get(name).IsObject()) fail(ErrorCode::InvalidArgument, "controls.layers." + name + " must be an object");
    const Napi::Object l = layers.Get(name).As<Napi::Object>();
    LayerControl& c = controls.layers[name];
    if (l.Get("afm").IsObject()) c.afm = read_afm(l.Get("afm").As<Napi::Object>(), false);
    if (l.Get("guidance").IsObject()) c.guidance = read_guidance(l.Get("guidance").As<Napi::Object>(), batch, false);
    if (l.Get("capture").IsObject()) c.capture = read_capture(l.Get("capture").As<Napi::Object>(), false);
    if (l.Get("cache").IsObject()) {
      const Napi::Object k = l.Get("cache").As<Napi::Object>();
      c.cache = CacheWrap::CacheOf(k.Get("handle"));
      const std::string mode = k.Get("mode").ToString().Utf8Value();
      c.mean_rows = integer_field(k, "rows", 0);
      if (mode == "record") {
        c.cache_mode = LayerCacheMode::Record;
      } else if (mode == "record-mean") {
        c.cache_mode = LayerCacheMode::RecordMean;
      } else if (mode == "replay") {
        c.cache_mode = LayerCacheMode::Replay;
      } else {
        fail(ErrorCode::InvalidArgument, "controls.layers." + name + ".cache.mode must be record, record-mean or replay");
      }
    }
  }
  return controls;
}

class UNetWrap final : public Napi::ObjectWrap<UNetWrap> {
 public:
  explicit UNetWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UNetWrap>(info) {
    guard(info.Env(), [&] {
      if (info.Length() < 2 || !info[0].IsObject()) fail(ErrorCode::InvalidArgument, "NativeUNet(config, weights)");
      const Napi::Object c = info[0].As<Napi::Object>();
      UNetConfig config;
      config.in_channels = int_field(c, "inChannels");
      config.out_channels = int_field(c, "outChannels");
      config.block_out_channels = array_field<int>(c, "blockOutChannels");
      config.down_cross_attention = array_field<bool>(c, "downCrossAttention");
      config.up_cross_attention = array_field<bool>(c, "upCrossAttention");
      config.heads = array_field<int>(c, "heads");
      config.layers_per_block = int_field(c, "layersPerBlock");
      config.norm_num_groups = int_field(c, "normNumGroups");
      config.norm_eps = c.Get("normEps").ToNumber().FloatValue();
      config.cross_attention_dim = int_field(c, "crossAttentionDim");
      config.use_linear_projection = c.Get("useLinearProjection").ToBoolean().Value();
      config.flip_sin_to_cos = c.Get("flipSinToCos").ToBoolean().Value();
      config.freq_shift = c.Get("freqShift").ToNumber().FloatValue();
      model_ = std::make_shared<UNet2DConditionModel>(config, read_weights(info[1]));
    });
  }

  // attentionLayers() -> [{ name, cross, heads, headDim, level }]
  Napi::Value AttentionLayers(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guard(env, [&]() -> Napi::Value {
      const auto model = live(model_);
      const auto& layers = model->attention_layers();
      Napi::Array out = Napi::Array::New(env, layers.size());
      for (uint32_t i = 0; i < layers.size(); ++i) {
        Napi::Object l = Napi::Object::New(env);
        l.Set("name", layers[i].name);
        l.Set("cross", layers[i].cross);
        l.Set("heads", layers[i].heads);
        l.Set("headDim", static_cast<double>(layers[i].head_dim));
        l.Set("level", layers[i].level);
        out.Set(i, l);
      }
      return out;
    });
  }

  // forward(sample, timesteps: Float32Array [B], context, controls?) ->
  //   Promise<{ out, layers: [{ name, entropy, gainLow, gainHigh, grid, concentration?, spectrum? }] }>
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guard(env, [&]() -> Napi::Value {
      if (info.Length() < 3 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
        fail(ErrorCode::InvalidArgument, "forward(sample, timesteps: Float32Array, context, controls?)");
      }
      const Tensor sample = TensorWrap::TensorOf(info[0]);
      std::vector<float> timesteps = copy_elements<float>(info[1].As<Napi::Float32Array>());
      const Tensor context = TensorWrap::TensorOf(info[2]);
      auto controls = std::make_shared<UNetControls>(read_controls(info[3], sample.shape.empty() ? 0 : sample.shape[0]));
      auto model = live(model_);
      auto out = std::make_shared<Tensor>();
      auto reports = std::make_shared<std::vector<LayerReport>>();
      return PromiseJob::Queue(
          env, [=] { *out = model->forward(sample, timesteps, context, *controls, reports.get()); },
          [out, reports](Napi::Env e, Napi::Object) -> Napi::Value {
            Napi::Object result = Napi::Object::New(e);
            result.Set("out", TensorWrap::Wrap(e, std::move(*out)));
            Napi::Array layers = Napi::Array::New(e, reports->size());
            for (uint32_t i = 0; i < reports->size(); ++i) {
              const LayerReport& r = (*reports)[i];
              Napi::Object l = Napi::Object::New(e);
              l.Set("name", r.name);
              l.Set("entropy", r.entropy);
              l.Set("gainLow", r.gain_low);
              l.Set("gainHigh", r.gain_high);
              Napi::Array grid = Napi::Array::New(e, 2);
              grid.Set(0u, r.grid_h);
              grid.Set(1u, r.grid_w);
              l.Set("grid", grid);
              if (!r.concentration.empty()) {
                l.Set("concentration", float_array(e, r.concentration));
                l.Set("spectrum", float_array(e, r.spectrum));
              }
              layers.Set(i, l);
            }
            result.Set("layers", layers);
            return result;
          });
    });
  }

  // setCudaGraphs(enabled: boolean)
  Napi::Value SetCudaGraphs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guard(env, [&]() -> Napi::Value {
      if (info.Length() < 1 || !info[0].IsBoolean()) fail(ErrorCode::InvalidArgument, "setCudaGraphs(enabled: boolean)");
      live(model_)->set_cuda_graphs(info[0].As<Napi::Boolean>().Value());
      return env.Undefined();
    });
  }

  // cudaGraphs() -> { enabled, replays }
  Napi::Value CudaGraphs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guard(env, [&]() -> Napi::Value {
      const auto model = live(model_);
      Napi::Object out = Napi::Object::New(env);
      out.Set("enabled", model->cuda_graphs());
      out.Set("replays", static_cast<double>(model->cuda_graph_replays()));
      return out;
    });
  }

  void Dispose(const Napi::CallbackInfo&) { model_.reset(); }

 private:
  std::shared_ptr<UNet2DConditionModel> model_;
};

}  // namespace

void RegisterModels(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeVae", VaeWrap::DefineClass(env, "NativeVae",
                                                {VaeWrap::InstanceMethod<&VaeWrap::Decode>("decode"),
                                                 VaeWrap::InstanceMethod<&VaeWrap::Encode>("encode"),
                                                 VaeWrap::InstanceMethod<&VaeWrap::Dispose>("dispose")}));
  exports.Set("NativeUNet", UNetWrap::DefineClass(env, "NativeUNet",
                                                  {UNetWrap::InstanceMethod<&UNetWrap::AttentionLayers>("attentionLayers"),
                                                   UNetWrap::InstanceMethod<&UNetWrap::Forward>("forward"),
                                                   UNetWrap::InstanceMethod<&UNetWrap::SetCudaGraphs>("setCudaGraphs"),
                                                   UNetWrap::InstanceMethod<&UNetWrap::CudaGraphs>("cudaGraphs"),
                                                   UNetWrap::InstanceMethod<&UNetWrap::Dispose>("dispose")}));
  exports.Set("NativeTextEncoder", TextEncoderWrap::DefineClass(env, "NativeTextEncoder",
                                                                {TextEncoderWrap::InstanceMethod<&TextEncoderWrap::EncodeIds>("encodeIds"),
                                                                 TextEncoderWrap::InstanceMethod<&TextEncoderWrap::Dispose>("dispose")}));
}

}  // namespace da::napi
