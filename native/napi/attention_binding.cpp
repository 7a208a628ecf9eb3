#include "attention_binding.h"

#include <cstring>
#include <memory>

#include "../ops/attention.h"
#include "cache_wrap.h"
#include "errors.h"
#include "promise_job.h"
#include "tensor_wrap.h"

namespace da::napi {

namespace {

float num(const Napi::Object& o, const char* key, float fallback) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) fail(ErrorCode::InvalidArgument, std::string(key) + " must be a number");
  return static_cast<float>(v.As<Napi::Number>().DoubleValue());
}

int integer(const Napi::Object& o, const char* key, int fallback) {
  const double x = num(o, key, static_cast<float>(fallback));
  if (x != static_cast<double>(static_cast<int>(x))) fail(ErrorCode::InvalidArgument, std::string(key) + " must be an integer");
  return static_cast<int>(x);
}

bool flag(const Napi::Object& o, const char* key, bool fallback) {
  const Napi::Value v = o.Get(key);
  return v.IsUndefined() ? fallback : v.ToBoolean().Value();
}

std::vector<uint8_t> bytes(const Napi::Value& v, const char* name) {
  if (v.IsUndefined() || v.IsNull()) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    fail(ErrorCode::InvalidArgument, std::string(name) + " must be a Uint8Array");
  }
  const Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  return std::vector<uint8_t>(a.Data(), a.Data() + a.ElementLength());
}

void grid(const Napi::Object& o, int& h, int& w, const char* name) {
  const Napi::Value g = o.Get("grid");
  if (!g.IsArray() || g.As<Napi::Array>().Length() != 2) fail(ErrorCode::InvalidArgument, std::string(name) + ".grid must be [H, W]");
  const Napi::Array a = g.As<Napi::Array>();
  h = a.Get(0u).ToNumber().Int32Value();
  w = a.Get(1u).ToNumber().Int32Value();
}

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
  c.mask = bytes(o.Get("mask"), "mask");
  c.causal = flag(o, "causal", false);
  c.scale = num(o, "scale", 0.f);

  if (o.Get("afm").IsObject()) {
    const Napi::Object a = o.Get("afm").As<Napi::Object>();
    AfmParams& p = c.afm;
    p.enabled = true;
    grid(a, p.grid_h, p.grid_w, "afm");
    p.gain_low = num(a, "gainLow", 1.f);
    p.gain_high = num(a, "gainHigh", 1.f);
    p.cutoff = num(a, "cutoff", 0.25f);
    p.width = num(a, "width", 0.05f);
    p.preserve_dc = flag(a, "preserveDC", true);
    p.reference = a.Get("mode").IsString() && a.Get("mode").ToString().Utf8Value() == "reference";
    if (a.Get("entropyGate").IsObject()) {
      const Napi::Object e = a.Get("entropyGate").As<Napi::Object>();
      p.entropy_gate = true;
      p.strength = num(e, "strength", 0.f);
      p.w_low = num(e, "wLow", 0.f);
      p.w_high = num(e, "wHigh", 0.f);
      p.beta = num(e, "beta", 20.f);
      p.gamma = num(e, "gamma", 4.f);
    }
  }
  if (o.Get("guidance").IsObject()) {
    const Napi::Object g = o.Get("guidance").As<Napi::Object>();
    GuidanceParams& p = c.guidance;
    const std::string kind = g.Get("kind").ToString().Utf8Value();
    if (kind == "gag") {
      p.kind = GuidanceKind::Gag;
      p.scale = num(g, "scale", 5.f);
      p.alpha = num(g, "alpha", 1.5f);
      p.eta = num(g, "eta", 15.f);
      p.zeta = num(g, "zeta", 0.f);
    } else if (kind == "nag") {
      p.kind = GuidanceKind::Nag;
      p.k_neg = TensorWrap::TensorOf(g.Get("kNeg"));
      p.v_neg = TensorWrap::TensorOf(g.Get("vNeg"));
      p.mask_neg = bytes(g.Get("maskNeg"), "maskNeg");
      p.scale = num(g, "scale", 5.f);
      p.tau = num(g, "tau", 2.5f);
      p.nag_alpha = num(g, "alpha", 0.5f);
    } else if (kind == "pag") {
      p.kind = GuidanceKind::Pag;
      p.pag_begin = integer(g, "begin", 0);
      p.pag_end = integer(g, "end", static_cast<int>(c.q.shape.empty() ? 0 : c.q.shape[0]));
    } else {
      fail(ErrorCode::InvalidArgument, "guidance.kind must be gag, nag or pag");
    }
  }
  if (o.Get("cache").IsObject()) {
    const Napi::Object k = o.Get("cache").As<Napi::Object>();
    c.cache = CacheWrap::CacheOf(k.Get("handle"));
    c.cache_mode = replay ? CacheMode::Replay : CacheMode::Record;
  }
  if (o.Get("capture").IsObject()) {
    const Napi::Object k = o.Get("capture").As<Napi::Object>();
    c.capture.enabled = true;
    c.capture.top_k = integer(k, "topK", 8);
    c.capture.bins = integer(k, "bins", 16);
    grid(k, c.capture.grid_h, c.capture.grid_w, "capture");
  }
  return c;
}

Napi::Float32Array floats(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(float));
  return a;
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
            out.Set("concentration", floats(e, result->concentration));
            out.Set("spectrum", floats(e, result->spectrum));
          }
          return out;
        });
  });
}

}  // namespace da::napi
