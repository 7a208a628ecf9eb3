#include "attention_binding.h"

#include <memory>

#include "../ops/attention.h"
#include "attention_options.h"
#include "cache_wrap.h"
#include "errors.h"
#include "promise_job.h"
#include "tensor_wrap.h"

namespace da::napi {

namespace {

AttentionCall read_call(const Napi::CallbackInfo& info) {
  if (info.Length() < 4 || !info[3].IsObject()) fail(ErrorCode::InvalidArgument, "attention(q, k, v, options): bad arguments");
  const Napi::Object o = info[3].As<Napi::Object>();
  AttentionCall c;
  c.q = TensorWrap::TensorOf(info[0]);
  const bool replay = o.Get("cache").IsObject() &&
                      o.Get("cache").As<Napi::Object>().Get("mode").ToString().Utf8Value() == "replay";
  if (!replay) {
    c.k = TensorWrap::TensorOf(info[1]);
    c.v = TensorWrap::TensorOf(info[2]);
  }
  c.mask = bytes_field(o.Get("mask"), "mask");
  c.causal = flag_field(o, "causal", false);
  c.scale = number_field(o, "scale", 0.f);

  if (o.Get("afm").IsObject()) c.afm = read_afm(o.Get("afm").As<Napi::Object>(), true);
  if (o.Get("guidance").IsObject()) {
    c.guidance = read_guidance(o.Get("guidance").As<Napi::Object>(), c.q.shape.empty() ? 0 : c.q.shape[0], true);
  }
  if (o.Get("cache").IsObject()) {
    const Napi::Object k = o.Get("cache").As<Napi::Object>();
    c.cache = CacheWrap::CacheOf(k.Get("handle"));
    c.cache_mode = replay ? CacheMode::Replay : CacheMode::Record;
  }
  if (o.Get("capture").IsObject()) c.capture = read_capture(o.Get("capture").As<Napi::Object>(), true);
  return c;
}

}  // namespace

Napi::Value Attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    auto call = std::make_shared<AttentionCall>(read_call(info));
    check_call(*call);  // fail now, before queueing, with the caller's stack
    if (call->q.device() == Device::Cuda) cuda_backend();
    auto result = std::make_shared<AttentionResult>();
    return PromiseJob::Queue(
        env, [call, result] { *result = attention(*call); },
        [result](Napi::Env e, Napi::Object) -> Napi::Value {
          Napi::Object out = Napi::Object::New(e);
          out.Set("out", TensorWrap::Wrap(e, result->out));
          out.Set("entropy", result->entropy);
          out.Set("gainLow", result->gain_low);
          out.Set("gainHigh", result->gain_high);
          if (!result->concentration.empty()) {
            out.Set("concentration", float_array(e, result->concentration));
            out.Set("spectrum", float_array(e, result->spectrum));
          }
          return out;
        });
  });
}

}  // namespace da::napi
