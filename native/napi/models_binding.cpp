#include "models_binding.h"

#include <map>
#include <memory>

#include "../models/clip_text.h"
#include "../models/vae.h"
#include "errors.h"
#include "promise_job.h"
#include "tensor_wrap.h"

namespace da::napi {

namespace {

int int_field(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) fail(ErrorCode::ModelFormat, std::string("config.") + key + " must be a number");
  return v.As<Napi::Number>().Int32Value();
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
      const Napi::Int32Array a = info[0].As<Napi::Int32Array>();
      std::vector<int64_t> ids(a.Data(), a.Data() + a.ElementLength());
      const int B = info[1].ToNumber().Int32Value(), T = info[2].ToNumber().Int32Value(), skip = info[3].ToNumber().Int32Value();
      auto model = model_;
      return TensorWrap::QueueJob(env, [model, ids, B, T, skip] { return model->encode(ids, B, T, skip); });
    });
  }

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
      auto model = model_;
      return TensorWrap::QueueJob(env, [model, z] { return model->decode(z); });
    });
  }

  // encode(images) -> Promise<[mean, logvar]>
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guard(env, [&]() -> Napi::Value {
      const Tensor x = TensorWrap::TensorOf(info[0]);
      auto model = model_;
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

 private:
  std::shared_ptr<AutoencoderKL> model_;
};

}  // namespace

void RegisterModels(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeVae", VaeWrap::DefineClass(env, "NativeVae",
                                                {VaeWrap::InstanceMethod<&VaeWrap::Decode>("decode"),
                                                 VaeWrap::InstanceMethod<&VaeWrap::Encode>("encode")}));
  exports.Set("NativeTextEncoder", TextEncoderWrap::DefineClass(env, "NativeTextEncoder",
                                                                {TextEncoderWrap::InstanceMethod<&TextEncoderWrap::EncodeIds>("encodeIds")}));
}

}  // namespace da::napi
