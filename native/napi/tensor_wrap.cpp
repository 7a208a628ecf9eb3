#include "tensor_wrap.h"

#include <cstring>

#include "constructors.h"
#include "errors.h"
#include "promise_job.h"
#include "typed_arrays.h"

namespace da::napi {

namespace {

std::vector<int64_t> read_shape(const Napi::Value& v) {
  if (!v.IsArray()) fail(ErrorCode::Shape, "shape must be an array of non-negative integers");
  const Napi::Array arr = v.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    const Napi::Value d = arr.Get(i);
    if (!d.IsNumber()) fail(ErrorCode::Shape, "shape entries must be numbers");
    const double x = d.As<Napi::Number>().DoubleValue();
    if (!(x >= 0) || x != static_cast<double>(static_cast<int64_t>(x)) || x > 9.0e15) {
      fail(ErrorCode::Shape, "shape entries must be non-negative integers");
    }
    shape.push_back(static_cast<int64_t>(x));
  }
  checked_numel(shape);
  return shape;
}

}  // namespace

void TensorWrap::Register(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeTensor",
                                    {
                                        StaticMethod<&TensorWrap::FromHost>("fromHost"),
                                        InstanceAccessor<&TensorWrap::Shape>("shape"),
                                        InstanceAccessor<&TensorWrap::DType>("dtype"),
                                        InstanceAccessor<&TensorWrap::Device>("device"),
                                        InstanceAccessor<&TensorWrap::Disposed>("disposed"),
                                        InstanceMethod<&TensorWrap::ToHost>("toHost"),
                                        InstanceMethod<&TensorWrap::To>("to"),
                                        InstanceMethod<&TensorWrap::Dispose>("dispose"),
                                    });
  constructors(env).tensor = Napi::Persistent(ctor);
  exports.Set("NativeTensor", ctor);
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info) {}

// The finalizer path: the GC collected the JS object without dispose().
TensorWrap::~TensorWrap() { Release(); }

Napi::Object TensorWrap::Wrap(Napi::Env env, Tensor t) {
  Napi::Object obj = constructors(env).tensor.New({});
  Napi::ObjectWrap<TensorWrap>::Unwrap(obj)->Set(env, std::move(t));
  return obj;
}

const Tensor& TensorWrap::TensorOf(const Napi::Value& value) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(constructors(env).tensor.Value())) {
    fail(ErrorCode::DType, "expected a Tensor");
  }
  return Napi::ObjectWrap<TensorWrap>::Unwrap(value.As<Napi::Object>())->Get();
}

const Tensor& TensorWrap::Get() const {
  if (!tensor_) fail(ErrorCode::Disposed, "the tensor has been disposed");
  return *tensor_;
}

void TensorWrap::Set(Napi::Env env, Tensor t) {
  if (t.device() == da::Device::Cpu) {
    host_bytes_ = static_cast<int64_t>(t.nbytes());
    Napi::MemoryManagement::AdjustExternalMemory(env, host_bytes_);
  }
  tensor_ = std::move(t);
}

void TensorWrap::Release() {
  tensor_.reset();
  if (host_bytes_ != 0) {
    Napi::MemoryManagement::AdjustExternalMemory(Env(), -host_bytes_);
    host_bytes_ = 0;
  }
}

Napi::Value TensorWrap::FromHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    if (info.Length() < 4 || !info[0].IsTypedArray() || !info[2].IsString() || !info[3].IsString()) {
      fail(ErrorCode::DType, "fromHost(data, shape, dtype, device): bad arguments");
    }
    const Napi::TypedArray data = info[0].As<Napi::TypedArray>();
    const std::vector<int64_t> shape = read_shape(info[1]);
    const da::DType dtype = dtype_from_name(info[2].As<Napi::String>().Utf8Value());
    const da::Device device = device_from_name(info[3].As<Napi::String>().Utf8Value());
    const uint64_t numel = checked_numel(shape);

    da::DType host_type;
    if (data.TypedArrayType() == napi_float32_array) {
      host_type = da::DType::Float32;  // converted below when dtype is a 16-bit type
    } else if (data.TypedArrayType() == napi_uint16_array && dtype != da::DType::Float32) {
      host_type = dtype;  // raw float16 / bfloat16 bits
    } else {
      fail(ErrorCode::DType, std::string("a ") + dtype_name(dtype) +
                                 " tensor is made from a Float32Array" +
                                 (dtype == da::DType::Float32 ? "" : " or a Uint16Array of its bits"));
    }
    const size_t elements = readable_elements(data);
    if (elements != numel) {
      fail(ErrorCode::Shape, "data has " + std::to_string(elements) + " elements but the shape needs " + std::to_string(numel));
    }
    const uint8_t* bytes = numel ? typed_array_bytes(data) : nullptr;
    Tensor host = tensor_empty(shape, host_type, da::Device::Cpu);
    if (host.nbytes() != 0) std::memcpy(host.data(), bytes, host.nbytes());
    const bool same = host_type == dtype && device == da::Device::Cpu;
    return Wrap(env, same ? std::move(host) : tensor_to(host, dtype, device));
  });
}

Napi::Value TensorWrap::QueueJob(Napi::Env env, std::function<Tensor()> work) {
  auto result = std::make_shared<Tensor>();
  return PromiseJob::Queue(
      env, [work = std::move(work), result] { *result = work(); },
      [result](Napi::Env e, Napi::Object) -> Napi::Value { return Wrap(e, std::move(*result)); });
}

Napi::Value TensorWrap::Shape(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const Tensor& t = Get();
    Napi::Array arr = Napi::Array::New(info.Env(), t.shape.size());
    for (uint32_t i = 0; i < t.shape.size(); ++i) arr.Set(i, Napi::Number::New(info.Env(), static_cast<double>(t.shape[i])));
    return arr;
  });
}

Napi::Value TensorWrap::DType(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), dtype_name(Get().dtype)); });
}

Napi::Value TensorWrap::Device(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), device_name(Get().device())); });
}

Napi::Value TensorWrap::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !tensor_.has_value());
}

Napi::Value TensorWrap::ToHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    const Tensor t = Get();  // a copy: the job holds its own reference to the storage
    Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, t.nbytes());
    void* dst = out.Data();
    return PromiseJob::Queue(
        env,
        [t, dst] {
          if (t.nbytes() != 0) backend_for(t.device()).copy_to_host(dst, t.data(), t.nbytes());
        },
        [](Napi::Env, Napi::Object pinned) -> Napi::Value { return pinned.Get(0u); }, {out});
  });
}

Napi::Value TensorWrap::To(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) fail(ErrorCode::DType, "to(dtype, device): bad arguments");
    const Tensor src = Get();
    const da::DType dtype = dtype_from_name(info[0].As<Napi::String>().Utf8Value());
    const da::Device device = device_from_name(info[1].As<Napi::String>().Utf8Value());
    if (device == da::Device::Cuda) cuda_backend();  // E_NO_CUDA now, not from the worker
    return QueueJob(env, [src, dtype, device] { return tensor_to(src, dtype, device); });
  });
}

void TensorWrap::Dispose(const Napi::CallbackInfo&) { Release(); }

}  // namespace da::napi
