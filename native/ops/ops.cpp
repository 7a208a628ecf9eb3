// Checks and dispatch of the model ops (ops.h). Every rule an op has is enforced here, once, for
// all backends; the backends only compute.
#include "ops.h"

#include <cmath>
#include <limits>
#include <string>

#include "../core/error.h"

namespace da::ops {

namespace {

// Sizes the kernels index with 32-bit ints (GEMM dims, rows, channels) stay below this.
constexpr int64_t kMaxDim = std::numeric_limits<int32_t>::max();

std::string dims(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

[[noreturn]] void shape_error(const char* op, const std::string& what) { fail(ErrorCode::Shape, std::string(op) + ": " + what); }
[[noreturn]] void arg_error(const char* op, const std::string& what) { fail(ErrorCode::InvalidArgument, std::string(op) + ": " + what); }

// Every operand on x's device with x's dtype. The CPU backend computes in float32 only; the CUDA
// backend takes float32, float16 and bfloat16 operands (every DType) and computes in float32.
void check_operands(const char* op, const Tensor& x, std::initializer_list<const Tensor*> others) {
  if (x.device() == Device::Cpu && x.dtype != DType::Float32) {
    fail(ErrorCode::DType, std::string(op) + ": the CPU backend computes in float32, got " + x.describe());
  }
  for (const Tensor* t : others) {
    if (t == nullptr) continue;
    if (t->device() != x.device()) fail(ErrorCode::Device, std::string(op) + ": operands on different devices: " + x.describe() + " and " + t->describe());
    if (t->dtype != x.dtype) fail(ErrorCode::DType, std::string(op) + ": operands of different dtypes: " + x.describe() + " and " + t->describe());
  }
}

void check_vector(const char* op, const char* name, const Tensor* t, int64_t n) {
  if (t != nullptr && (t->shape.size() != 1 || t->shape[0] != n)) {
    shape_error(op, std::string(name) + " must be [" + std::to_string(n) + "], got " + dims(t->shape));
  }
}

void check_epilogue(const char* op, const Epilogue& ep, const std::vector<int64_t>& out) {
  if (ep.residual != nullptr && ep.residual->shape != out) {
    shape_error(op, "residual must have the output's shape " + dims(out) + ", got " + dims(ep.residual->shape));
  }
}

void check_affine(const char* op, const Tensor* weight, const Tensor* bias, int64_t n) {
  if ((weight == nullptr) != (bias == nullptr)) arg_error(op, "weight and bias come together (affine) or not at all");
  check_vector(op, "weight", weight, n);
  check_vector(op, "bias", bias, n);
}

void check_eps(const char* op, float eps) {
  if (!(eps > 0) || !std::isfinite(eps)) arg_error(op, "eps must be a positive finite number");
}

int normalise_dim(const char* op, int dim, size_t rank) {
  const int r = static_cast<int>(rank);
  if (dim < -r || dim >= r) arg_error(op, "dim " + std::to_string(dim) + " is out of range for rank " + std::to_string(r));
  return dim < 0 ? dim + r : dim;
}

int64_t rows_of(const std::vector<int64_t>& shape) {
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
  return rows;
}

Tensor make_output(const std::vector<int64_t>& shape, const Tensor& like) { return tensor_empty(shape, like.dtype, like.device()); }

}  // namespace

#define DA_DISPATCH(fn, device, ...) \
  ((device) == Device::Cpu ? cpu::ops::fn(__VA_ARGS__) : cuda::ops::fn(__VA_ARGS__))

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor* bias, const Epilogue& ep) {
  const char* op = "linear";
  check_operands(op, x, {&weight, bias, ep.residual});
  if (x.shape.empty()) shape_error(op, "x must be at least 1-D [..., in]");
  if (weight.shape.size() != 2 || weight.shape[1] != x.shape.back()) {
    shape_error(op, "weight must be [out, in] with in = " + std::to_string(x.shape.back()) + " (x's last dim), got " + dims(weight.shape));
  }
  const int64_t in = weight.shape[1], out_features = weight.shape[0];
  if (in < 1) shape_error(op, "in_features must be at least 1");
  if (in > kMaxDim || out_features > kMaxDim || rows_of(x.shape) > kMaxDim) shape_error(op, "dimensions above 2^31 - 1 are not supported");
  check_vector(op, "bias", bias, out_features);
  std::vector<int64_t> shape = x.shape;
  shape.back() = out_features;
  check_epilogue(op, ep, shape);
  Tensor out = make_output(shape, x);
  DA_DISPATCH(linear, x.device(), x, weight, bias, ep, out);
  return out;
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& p, const Epilogue& ep) {
  const char* op = "conv2d";
  check_operands(op, x, {&weight, bias, ep.residual});
  if (x.shape.size() != 4) shape_error(op, "x must be [N, C, H, W], got " + dims(x.shape));
  if (weight.shape.size() != 4 || weight.shape[1] != x.shape[1]) {
    shape_error(op, "weight must be [O, C, kh, kw] with C = " + std::to_string(x.shape[1]) + ", got " + dims(weight.shape));
  }
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t O = weight.shape[0], kh = weight.shape[2], kw = weight.shape[3];
  if (C < 1 || kh < 1 || kw < 1) shape_error(op, "channels and kernel sizes must be at least 1, got weight " + dims(weight.shape));
  if (p.stride < 1) arg_error(op, "stride must be at least 1, got " + std::to_string(p.stride));
  if (p.pad_top < 0 || p.pad_bottom < 0 || p.pad_top >= kh || p.pad_bottom >= kh || p.pad_left < 0 || p.pad_right < 0 ||
      p.pad_left >= kw || p.pad_right >= kw) {
    arg_error(op, "each padding must be in [0, kernel size)");
  }
  const int64_t hp = H + p.pad_top + p.pad_bottom, wp = W + p.pad_left + p.pad_right;
  if (hp < kh || wp < kw) shape_error(op, "the padded input " + std::to_string(hp) + "x" + std::to_string(wp) + " is smaller than the kernel");
  const int64_t Ho = (hp - kh) / p.stride + 1, Wo = (wp - kw) / p.stride + 1;
  if (O > kMaxDim || C * kh * kw > kMaxDim || Ho * Wo > kMaxDim || H * W > kMaxDim) shape_error(op, "dimensions above 2^31 - 1 are not supported");
  check_vector(op, "bias", bias, O);
  const std::vector<int64_t> shape{N, O, Ho, Wo};
  check_epilogue(op, ep, shape);
  Tensor out = make_output(shape, x);
  DA_DISPATCH(conv2d, x.device(), x, weight, bias, p, ep, out);
  return out;
}

Tensor group_norm(const Tensor& x, int num_groups, float eps, const Tensor* weight, const Tensor* bias, bool silu) {
  const char* op = "group_norm";
  check_operands(op, x, {weight, bias});
  if (x.shape.size() < 2) shape_error(op, "x must be [N, C, *], got " + dims(x.shape));
  const int64_t C = x.shape[1];
  if (num_groups < 1 || C % num_groups != 0) {
    arg_error(op, "num_groups must be at least 1 and divide the " + std::to_string(C) + " channels, got " + std::to_string(num_groups));
  }
  check_eps(op, eps);
  check_affine(op, weight, bias, C);
  if (C > kMaxDim) shape_error(op, "dimensions above 2^31 - 1 are not supported");
  Tensor out = make_output(x.shape, x);
  DA_DISPATCH(group_norm, x.device(), x, num_groups, eps, weight, bias, silu, out);
  return out;
}

Tensor layer_norm(const Tensor& x, float eps, const Tensor* weight, const Tensor* bias) {
  const char* op = "layer_norm";
  check_operands(op, x, {weight, bias});
  if (x.shape.empty() || x.shape.back() < 1) shape_error(op, "x must be [..., D] with D >= 1, got " + dims(x.shape));
  check_eps(op, eps);
  check_affine(op, weight, bias, x.shape.back());
  if (x.shape.back() > kMaxDim) shape_error(op, "dimensions above 2^31 - 1 are not supported");
  Tensor out = make_output(x.shape, x);
  DA_DISPATCH(layer_norm, x.device(), x, eps, weight, bias, out);
  return out;
}

Tensor activation(const Tensor& x, Activation act) {
  check_operands("activation", x, {});
  if (act == Activation::None) arg_error("activation", "an activation is required");
  Tensor out = make_output(x.shape, x);
  DA_DISPATCH(activation, x.device(), x, act, out);
  return out;
}

Tensor geglu(const Tensor& x) {
  const char* op = "geglu";
  check_operands(op, x, {});
  if (x.shape.empty() || x.shape.back() % 2 != 0) shape_error(op, "x must be [..., 2H] (an even last dim), got " + dims(x.shape));
  std::vector<int64_t> shape = x.shape;
  shape.back() /= 2;
  Tensor out = make_output(shape, x);
  DA_DISPATCH(geglu, x.device(), x, out);
  return out;
}

Tensor upsample_nearest2x(const Tensor& x) {
  const char* op = "upsample_nearest2x";
  check_operands(op, x, {});
  if (x.shape.size() != 4) shape_error(op, "x must be [N, C, H, W], got " + dims(x.shape));
  Tensor out = make_output({x.shape[0], x.shape[1], 2 * x.shape[2], 2 * x.shape[3]}, x);
  DA_DISPATCH(upsample_nearest2x, x.device(), x, out);
  return out;
}

Tensor add(const Tensor& a, const Tensor& b) {
  const char* op = "add";
  check_operands(op, a, {&b});
  const bool channels = b.shape.size() == 2 && a.shape.size() >= 2 && b.shape[0] == a.shape[0] && b.shape[1] == a.shape[1];
  if (b.shape != a.shape && !channels) {
    shape_error(op, "b must have a's shape " + dims(a.shape) + " or be [N, C] of a [N, C, *], got " + dims(b.shape));
  }
  Tensor out = make_output(a.shape, a);
  DA_DISPATCH(add, a.device(), a, b, out);
  return out;
}

Tensor average_halves(const Tensor& x) {
  const char* op = "average_halves";
  check_operands(op, x, {});
  if (x.shape.empty() || x.shape[0] % 2 != 0) shape_error(op, "x must have an even leading dim, got " + dims(x.shape));
  std::vector<int64_t> shape = x.shape;
  shape[0] /= 2;
  Tensor out = make_output(shape, x);
  DA_DISPATCH(average_halves, x.device(), x, out);
  return out;
}

Tensor timestep_embedding(const Tensor& timesteps, const TimestepParams& p) {
  const char* op = "timestep_embedding";
  check_operands(op, timesteps, {});
  if (timesteps.shape.size() != 1) shape_error(op, "timesteps must be [n], got " + dims(timesteps.shape));
  if (p.dim < 2) arg_error(op, "dim must be at least 2, got " + std::to_string(p.dim));
  if (!std::isfinite(p.downscale_freq_shift) || static_cast<float>(p.dim / 2) - p.downscale_freq_shift == 0.f) {
    arg_error(op, "downscale_freq_shift must be finite and differ from dim / 2");
  }
  if (!std::isfinite(p.scale) || !(p.max_period > 0) || !std::isfinite(p.max_period)) {
    arg_error(op, "scale must be finite and max_period positive and finite");
  }
  Tensor out = make_output({timesteps.shape[0], p.dim}, timesteps);
  DA_DISPATCH(timestep_embedding, timesteps.device(), timesteps, p, out);
  return out;
}

Tensor concat(const std::vector<Tensor>& inputs, int dim) {
  const char* op = "concat";
  if (inputs.empty()) arg_error(op, "at least one input is required");
  const Tensor& first = inputs[0];
  for (const Tensor& t : inputs) check_operands(op, first, {&t});
  if (first.shape.empty()) shape_error(op, "inputs must be at least 1-D");
  const int d = normalise_dim(op, dim, first.shape.size());
  std::vector<int64_t> shape = first.shape;
  shape[d] = 0;
  for (const Tensor& t : inputs) {
    bool match = t.shape.size() == first.shape.size();
    for (size_t i = 0; match && i < t.shape.size(); ++i) match = static_cast<int>(i) == d || t.shape[i] == first.shape[i];
    if (!match) shape_error(op, "inputs must match except along dim " + std::to_string(d) + ": " + dims(first.shape) + " and " + dims(t.shape));
    shape[d] += t.shape[d];
  }
  Tensor out = make_output(shape, first);
  DA_DISPATCH(concat, first.device(), inputs, d, out);
  return out;
}

Tensor slice(const Tensor& x, int dim, int64_t begin, int64_t end) {
  const char* op = "slice";
  check_operands(op, x, {});
  if (x.shape.empty()) shape_error(op, "x must be at least 1-D");
  const int d = normalise_dim(op, dim, x.shape.size());
  if (begin < 0 || begin > end || end > x.shape[d]) {
    arg_error(op, "need 0 <= begin <= end <= " + std::to_string(x.shape[d]) + ", got [" + std::to_string(begin) + ", " + std::to_string(end) + ")");
  }
  std::vector<int64_t> shape = x.shape;
  shape[d] = end - begin;
  Tensor out = make_output(shape, x);
  DA_DISPATCH(slice, x.device(), x, d, begin, out);
  return out;
}

Tensor permute(const Tensor& x, const std::vector<int>& perm) {
  const char* op = "permute";
  check_operands(op, x, {});
  if (perm.size() != x.shape.size()) arg_error(op, "perm must list every one of the " + std::to_string(x.shape.size()) + " dims once");
  std::vector<bool> seen(perm.size(), false);
  std::vector<int64_t> shape(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    const int p = perm[i];
    if (p < 0 || p >= static_cast<int>(perm.size()) || seen[p]) arg_error(op, "perm must be a permutation of 0.." + std::to_string(perm.size() - 1));
    seen[p] = true;
    shape[i] = x.shape[p];
  }
  Tensor out = make_output(shape, x);
  DA_DISPATCH(permute, x.device(), x, perm, out);
  return out;
}

Tensor embedding(const Tensor& table, const std::vector<int64_t>& ids) {
  const char* op = "embedding";
  check_operands(op, table, {});
  if (table.shape.size() != 2) shape_error(op, "table must be [V, D], got " + dims(table.shape));
  for (int64_t id : ids) {
    if (id < 0 || id >= table.shape[0]) arg_error(op, "id " + std::to_string(id) + " is outside [0, " + std::to_string(table.shape[0]) + ")");
  }
  Tensor out = make_output({static_cast<int64_t>(ids.size()), table.shape[1]}, table);
  DA_DISPATCH(embedding, table.device(), table, ids, out);
  return out;
}

#undef DA_DISPATCH

}  // namespace da::ops
