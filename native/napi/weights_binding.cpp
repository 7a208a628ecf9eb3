#include "weights_binding.h"

#include <memory>

#include "../weights/mapped_file.h"
#include "errors.h"
#include "tensor_wrap.h"

namespace da::napi {

namespace {

uint64_t byte_count(const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) fail(ErrorCode::ModelFormat, std::string(name) + " must be a number");
  const double x = v.As<Napi::Number>().DoubleValue();
  if (!(x >= 0) || x > 9007199254740991.0 || x != static_cast<double>(static_cast<uint64_t>(x))) {
    fail(ErrorCode::ModelFormat, std::string(name) + " must be a non-negative safe integer");
  }
  return static_cast<uint64_t>(x);
}

FileDType file_dtype(const std::string& s) {
  if (s == "F32") return FileDType::F32;
  if (s == "F16") return FileDType::F16;
  if (s == "BF16") return FileDType::BF16;
  fail(ErrorCode::ModelFormat, "weights of dtype " + s + " cannot be loaded (F32, F16 or BF16)");
}

class WeightFileWrap final : public Napi::ObjectWrap<WeightFileWrap> {
 public:
  explicit WeightFileWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WeightFileWrap>(info) {
    guard(info.Env(), [&] {
      if (info.Length() < 1 || !info[0].IsString()) fail(ErrorCode::InvalidArgument, "NativeWeightFile(path)");
      file_ = MappedFile::open(info[0].As<Napi::String>().Utf8Value());
    });
  }

  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(file_->size())); }

  Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guard(env, [&]() -> Napi::Value {
      if (info.Length() < 5 || !info[2].IsString() || !info[3].IsArray() || !info[4].IsString()) {
        fail(ErrorCode::InvalidArgument, "load(offset, nbytes, fileDtype, shape, computeDtype)");
      }
      FileTensor t;
      t.offset = byte_count(info[0], "offset");
      t.nbytes = byte_count(info[1], "nbytes");
      t.dtype = file_dtype(info[2].As<Napi::String>().Utf8Value());
      const Napi::Array shape = info[3].As<Napi::Array>();
      for (uint32_t i = 0; i < shape.Length(); ++i) t.shape.push_back(static_cast<int64_t>(byte_count(shape.Get(i), "shape entry")));
      const DType compute = dtype_from_name(info[4].As<Napi::String>().Utf8Value());
      auto file = file_;
      return TensorWrap::QueueJob(env, [file, t, compute] { return load_tensor(file, t, compute); });
    });
  }

 private:
  std::shared_ptr<MappedFile> file_;
};

}  // namespace

void RegisterWeights(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeWeightFile", WeightFileWrap::DefineClass(env, "NativeWeightFile",
                                                              {
                                                                  WeightFileWrap::InstanceAccessor<&WeightFileWrap::Size>("size"),
                                                                  WeightFileWrap::InstanceMethod<&WeightFileWrap::Load>("load"),
                                                              }));
}

}  // namespace da::napi
