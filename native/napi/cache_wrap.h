// NativeAttentionCache: the JS handle of a T-GATE cache (ops/attention.h AttentionCache). The
// recorded tensor is shared with the calls that record into or replay from it.
#pragma once

#include <napi.h>

#include <memory>

#include "../ops/attention.h"

namespace da::napi {

class CacheWrap final : public Napi::ObjectWrap<CacheWrap> {
 public:
  static void Register(Napi::Env env, Napi::Object exports);
  // The cache behind a JS value; throws E_INVALID_ARGUMENT if it is not a NativeAttentionCache.
  static std::shared_ptr<AttentionCache> CacheOf(const Napi::Value& value);

  explicit CacheWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Recorded(const Napi::CallbackInfo& info);  // boolean
  Napi::Value Shape(const Napi::CallbackInfo& info);     // number[] or null
  void Clear(const Napi::CallbackInfo& info);

  std::shared_ptr<AttentionCache> cache_ = std::make_shared<AttentionCache>();
};

}  // namespace da::napi
