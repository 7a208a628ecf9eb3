#include "ops_binding.h"

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../ops/attention.h"
#include "../ops/ops.h"
#include "errors.h"
#include "tensor_wrap.h"

namespace da::napi {

namespace {

[[noreturn]] void bad(const std::string& op, const std::string& what) { fail(ErrorCode::InvalidArgument, op + ": " + what); }

// The params object of one call and the op it belongs to, for messages.
struct Params {
  std::string op;
  Napi::Object o;

  bool has(const char* key) const { return !o.Get(key).IsUndefined(); }

  double number(const char* key, double fallback) const {
    const Napi::Value v = o.Get(key);
    if (v.IsUndefined()) return fallback;
    if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue())) bad(op, std::string(key) + " must be a finite number");
    return v.As<Napi::Number>().DoubleValue();
  }

  static int64_t whole(const std::string& op, const Napi::Value& v, const std::string& what) {
    if (!v.IsNumber()) bad(op, what + " must be an integer");
    const double x = v.As<Napi::Number>().DoubleValue();
    if (!(std::abs(x) <= 9007199254740991.0) || x != std::trunc(x)) bad(op, what + " must be an integer");
    return static_cast<int64_t>(x);
  }

  int64_t integer(const char* key) const {
    if (!has(key)) bad(op, std::string(key) + " is required");
    return whole(op, o.Get(key), key);
  }
  int64_t integer(const char* key, int64_t fallback) const { return has(key) ? integer(key) : fallback; }

  // An integer that must also fit the int the op takes.
  int small(const char* key) const {
    const int64_t x = integer(key);
    if (x < -(int64_t(1) << 30) || x > (int64_t(1) << 30)) bad(op, std::string(key) + " is out of range");
    return static_cast<int>(x);
  }
  int small(const char* key, int fallback) const { return has(key) ? small(key) : fallback; }

  bool flag(const char* key, bool fallback) const {
    const Napi::Value v = o.Get(key);
    if (v.IsUndefined()) return fallback;
    if (!v.IsBoolean()) bad(op, std::string(key) + " must be a boolean");
    return v.As<Napi::Boolean>().Value();
  }

  std::vector<int64_t> integers(const char* key) const {
    const Napi::Value v = o.Get(key);
    if (!v.IsArray()) bad(op, std::string(key) + " must be an array of integers");
    const Napi::Array a = v.As<Napi::Array>();
    std::vector<int64_t> out;
    for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(whole(op, a.Get(i), std::string(key) + " entries"));
    return out;
  }

  Activation activation() const {
    const Napi::Value v = o.Get("activation");
    if (v.IsUndefined()) return Activation::None;
    const std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
    if (s == "none") return Activation::None;
    if (s == "silu") return Activation::Silu;
    if (s == "gelu") return Activation::Gelu;
    if (s == "quick_gelu") return Activation::QuickGelu;
    bad(op, "activation must be 'none', 'silu', 'gelu' or 'quick_gelu'");
  }
};

void expect_inputs(const std::string& op, const std::vector<Tensor>& in, size_t n) {
  if (in.size() != n) bad(op, "expected " + std::to_string(n) + " input tensors, got " + std::to_string(in.size()));
}

Conv2dParams conv_params(const Params& p) {
  Conv2dParams c;
  c.stride = p.small("stride", 1);
  const Napi::Value pad = p.o.Get("padding");
  if (pad.IsArray()) {
    const std::vector<int64_t> v = p.integers("padding");
    if (v.size() != 4) bad(p.op, "padding must be a number or [top, bottom, left, right]");
    for (int64_t x : v) {
      if (x < 0 || x > (int64_t(1) << 30)) bad(p.op, "padding entries must be non-negative");
    }
    c.pad_top = static_cast<int>(v[0]), c.pad_bottom = static_cast<int>(v[1]);
    c.pad_left = static_cast<int>(v[2]), c.pad_right = static_cast<int>(v[3]);
  } else {
    const int all = p.small("padding", 0);
    c.pad_top = c.pad_bottom = c.pad_left = c.pad_right = all;
  }
  return c;
}

// The op as a job: parsed here, on the main thread; the returned function runs on the pool.
std::function<Tensor()> prepare(const Params& p, std::vector<Tensor> in) {
  const std::string& op = p.op;
  if (op == "linear" || op == "conv2d") {
    const bool bias = p.flag("bias", true), residual = p.flag("residual", false);
    expect_inputs(op, in, 2 + bias + residual);
    const Activation act = p.activation();
    const bool conv = op == "conv2d";
    const Conv2dParams cp = conv ? conv_params(p) : Conv2dParams{};
    return [in, bias, residual, act, conv, cp] {
      const Epilogue ep{act, residual ? &in[2 + bias] : nullptr};
      const Tensor* b = bias ? &in[2] : nullptr;
      return conv ? ops::conv2d(in[0], in[1], b, cp, ep) : ops::linear(in[0], in[1], b, ep);
    };
  }
  if (op == "group_norm" || op == "layer_norm") {
    const bool affine = p.flag("affine", true);
    expect_inputs(op, in, affine ? 3 : 1);
    const float eps = static_cast<float>(p.number("eps", 1e-5));
    if (op == "layer_norm") {
      return [in, affine, eps] { return ops::layer_norm(in[0], eps, affine ? &in[1] : nullptr, affine ? &in[2] : nullptr); };
    }
    const int groups = p.small("numGroups");
    const bool silu = p.flag("silu", false);
    return [in, affine, eps, groups, silu] {
      return ops::group_norm(in[0], groups, eps, affine ? &in[1] : nullptr, affine ? &in[2] : nullptr, silu);
    };
  }
  if (op == "silu" || op == "gelu" || op == "quick_gelu") {
    expect_inputs(op, in, 1);
    const Activation act = op == "silu" ? Activation::Silu : op == "gelu" ? Activation::Gelu : Activation::QuickGelu;
    return [in, act] { return ops::activation(in[0], act); };
  }
  if (op == "geglu") {
    expect_inputs(op, in, 1);
    return [in] { return ops::geglu(in[0]); };
  }
  if (op == "upsample_nearest2x") {
    expect_inputs(op, in, 1);
    return [in] { return ops::upsample_nearest2x(in[0]); };
  }
  if (op == "add") {
    expect_inputs(op, in, 2);
    return [in] { return ops::add(in[0], in[1]); };
  }
  if (op == "average_halves") {
    expect_inputs(op, in, 1);
    return [in] { return ops::average_halves(in[0]); };
  }
  if (op == "afm_low_band") {
    expect_inputs(op, in, 1);
    const int gh = p.small("gridH"), gw = p.small("gridW");
    const float cutoff = static_cast<float>(p.number("cutoff", 0.25)), width = static_cast<float>(p.number("width", 0.05));
    return [in, gh, gw, cutoff, width] { return cpu::afm_low_band(in[0], gh, gw, cutoff, width); };
  }
  if (op == "timestep_embedding") {
    expect_inputs(op, in, 1);
    TimestepParams t;
    t.dim = p.small("dim");
    t.flip_sin_to_cos = p.flag("flipSinToCos", false);
    t.downscale_freq_shift = static_cast<float>(p.number("downscaleFreqShift", 1));
    t.scale = static_cast<float>(p.number("scale", 1));
    t.max_period = static_cast<float>(p.number("maxPeriod", 10000));
    return [in, t] { return ops::timestep_embedding(in[0], t); };
  }
  if (op == "concat") {
    const int dim = p.small("dim");
    return [in, dim] { return ops::concat(in, dim); };
  }
  if (op == "slice") {
    expect_inputs(op, in, 1);
    const int dim = p.small("dim");
    const int64_t begin = p.integer("begin"), end = p.integer("end");
    return [in, dim, begin, end] { return ops::slice(in[0], dim, begin, end); };
  }
  if (op == "permute") {
    expect_inputs(op, in, 1);
    std::vector<int> perm;
    for (int64_t d : p.integers("perm")) {
      if (d < -(int64_t(1) << 30) || d > (int64_t(1) << 30)) bad(op, "perm must be a permutation of the dims");
      perm.push_back(static_cast<int>(d));
    }
    return [in, perm] { return ops::permute(in[0], perm); };
  }
  if (op == "embedding") {
    expect_inputs(op, in, 1);
    const std::vector<int64_t> ids = p.integers("ids");
    return [in, ids] { return ops::embedding(in[0], ids); };
  }
  bad(op, "unknown op");
}

}  // namespace

Napi::Value RunOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsArray() || !info[2].IsObject()) {
      fail(ErrorCode::InvalidArgument, "runOp(name: string, inputs: NativeTensor[], params: object)");
    }
    const Napi::Array list = info[1].As<Napi::Array>();
    std::vector<Tensor> inputs;
    for (uint32_t i = 0; i < list.Length(); ++i) inputs.push_back(TensorWrap::TensorOf(list.Get(i)));
    const std::function<Tensor()> job = prepare(Params{info[0].As<Napi::String>().Utf8Value(), info[2].As<Napi::Object>()}, std::move(inputs));
    return TensorWrap::QueueJob(env, job);
  });
}

}  // namespace da::napi
