#include "attention_options.h"

#include <cmath>
#include <cstring>

#include "errors.h"
#include "tensor_wrap.h"
#include "typed_arrays.h"

namespace da::napi {

float number_field(const Napi::Object& o, const char* key, float fallback) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) fail(ErrorCode::InvalidArgument, std::string(key) + " must be a number");
  return static_cast<float>(v.As<Napi::Number>().DoubleValue());
}

int integer_field(const Napi::Object& o, const char* key, int fallback) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) fail(ErrorCode::InvalidArgument, std::string(key) + " must be a number");
  // Range first: converting a double outside int's range is undefined behaviour.
  const double x = v.As<Napi::Number>().DoubleValue();
  if (!(x >= -2147483648.0 && x <= 2147483647.0) || x != std::floor(x)) {
    fail(ErrorCode::InvalidArgument, std::string(key) + " must be an integer below 2^31");
  }
  return static_cast<int>(x);
}

bool flag_field(const Napi::Object& o, const char* key, bool fallback) {
  const Napi::Value v = o.Get(key);
  return v.IsUndefined() ? fallback : v.ToBoolean().Value();
}

std::vector<uint8_t> bytes_field(const Napi::Value& v, const char* name) {
  if (v.IsUndefined() || v.IsNull()) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    fail(ErrorCode::InvalidArgument, std::string(name) + " must be a Uint8Array");
  }
  return copy_elements<uint8_t>(v.As<Napi::Uint8Array>());
}

namespace {

void read_grid(const Napi::Object& o, int& h, int& w, const char* name) {
  const Napi::Value g = o.Get("grid");
  if (!g.IsArray() || g.As<Napi::Array>().Length() != 2) fail(ErrorCode::InvalidArgument, std::string(name) + ".grid must be [H, W]");
  const Napi::Array a = g.As<Napi::Array>();
  h = a.Get(0u).ToNumber().Int32Value();
  w = a.Get(1u).ToNumber().Int32Value();
}

}  // namespace

AfmParams read_afm(const Napi::Object& a, bool with_grid) {
  AfmParams p;
  p.enabled = true;
  if (with_grid) read_grid(a, p.grid_h, p.grid_w, "afm");
  p.gain_low = number_field(a, "gainLow", 1.f);
  p.gain_high = number_field(a, "gainHigh", 1.f);
  p.cutoff = number_field(a, "cutoff", 0.25f);
  p.width = number_field(a, "width", 0.05f);
  p.preserve_dc = flag_field(a, "preserveDC", true);
  p.reference = a.Get("mode").IsString() && a.Get("mode").ToString().Utf8Value() == "reference";
  if (a.Get("entropyGate").IsObject()) {
    const Napi::Object e = a.Get("entropyGate").As<Napi::Object>();
    p.entropy_gate = true;
    p.strength = number_field(e, "strength", 0.f);
    p.w_low = number_field(e, "wLow", 0.f);
    p.w_high = number_field(e, "wHigh", 0.f);
    p.beta = number_field(e, "beta", 20.f);
    p.gamma = number_field(e, "gamma", 4.f);
  }
  return p;
}

GuidanceParams read_guidance(const Napi::Object& g, int64_t batch, bool nag_tensors) {
  GuidanceParams p;
  const std::string kind = g.Get("kind").ToString().Utf8Value();
  if (kind == "gag") {
    p.kind = GuidanceKind::Gag;
    p.scale = number_field(g, "scale", 5.f);
    p.alpha = number_field(g, "alpha", 1.5f);
    p.eta = number_field(g, "eta", 15.f);
    p.zeta = number_field(g, "zeta", 0.f);
  } else if (kind == "nag") {
    p.kind = GuidanceKind::Nag;
    if (nag_tensors) {
      p.k_neg = TensorWrap::TensorOf(g.Get("kNeg"));
      p.v_neg = TensorWrap::TensorOf(g.Get("vNeg"));
      p.mask_neg = bytes_field(g.Get("maskNeg"), "maskNeg");
    }
    p.scale = number_field(g, "scale", 5.f);
    p.tau = number_field(g, "tau", 2.5f);
    p.nag_alpha = number_field(g, "alpha", 0.5f);
  } else if (kind == "pag") {
    p.kind = GuidanceKind::Pag;
    p.pag_begin = integer_field(g, "begin", 0);
    p.pag_end = integer_field(g, "end", static_cast<int>(batch));
  } else {
    fail(ErrorCode::InvalidArgument, "guidance.kind must be gag, nag or pag");
  }
  return p;
}

CaptureParams read_capture(const Napi::Object& k, bool with_grid) {
  CaptureParams p;
  p.enabled = true;
  p.top_k = integer_field(k, "topK", 8);
  p.bins = integer_field(k, "bins", 16);
  if (with_grid) read_grid(k, p.grid_h, p.grid_w, "capture");
  return p;
}

Napi::Float32Array float_array(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(float));
  return a;
}

}  // namespace da::napi
