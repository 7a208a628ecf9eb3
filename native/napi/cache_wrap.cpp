#include "cache_wrap.h"

#include "constructors.h"
#include "errors.h"

namespace da::napi {

void CacheWrap::Register(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeAttentionCache",
                                    {
                                        InstanceAccessor<&CacheWrap::Recorded>("recorded"),
                                        InstanceAccessor<&CacheWrap::Shape>("shape"),
                                        InstanceMethod<&CacheWrap::Clear>("clear"),
                                    });
  constructors(env).cache = Napi::Persistent(ctor);
  exports.Set("NativeAttentionCache", ctor);
}

CacheWrap::CacheWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CacheWrap>(info) {}

std::shared_ptr<AttentionCache> CacheWrap::CacheOf(const Napi::Value& value) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(constructors(value.Env()).cache.Value())) {
    fail(ErrorCode::InvalidArgument, "cache.handle must be an AttentionCache");
  }
  return Napi::ObjectWrap<CacheWrap>::Unwrap(value.As<Napi::Object>())->cache_;
}

Napi::Value CacheWrap::Recorded(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(cache_->mutex);
  return Napi::Boolean::New(info.Env(), cache_->value.has_value());
}

Napi::Value CacheWrap::Shape(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(cache_->mutex);
  if (!cache_->value) return info.Env().Null();
  Napi::Array arr = Napi::Array::New(info.Env(), cache_->value->shape.size());
  for (uint32_t i = 0; i < cache_->value->shape.size(); ++i) arr.Set(i, static_cast<double>(cache_->value->shape[i]));
  return arr;
}

void CacheWrap::Clear(const Napi::CallbackInfo&) {
  std::lock_guard<std::mutex> lock(cache_->mutex);
  cache_->value.reset();
}

}  // namespace da::napi
