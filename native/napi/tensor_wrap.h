// TensorWrap: the JS-visible native tensor (wrapped by the TS class `Tensor`). It owns one reference
// to the tensor's Storage; dispose() drops it at once, the GC finalizer drops it otherwise. Jobs in
// flight hold their own reference, so disposing never frees memory a worker is using.
#pragma once

#include <napi.h>

#include <functional>
#include <optional>

#include "../core/tensor.h"

namespace da::napi {

class TensorWrap final : public Napi::ObjectWrap<TensorWrap> {
 public:
  static void Register(Napi::Env env, Napi::Object exports);
  // A new JS object owning `t`.
  static Napi::Object Wrap(Napi::Env env, Tensor t);
  // Runs `work` on the thread pool and resolves the returned promise with its tensor, wrapped.
  static Napi::Value QueueJob(Napi::Env env, std::function<Tensor()> work);
  // The tensor behind a JS value; throws E_DTYPE if it is not a native tensor, E_DISPOSED if disposed.
  static const Tensor& TensorOf(const Napi::Value& value);

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

 private:
  // fromHost(data: Float32Array | Uint16Array, shape: number[], dtype: string, device: string)
  static Napi::Value FromHost(const Napi::CallbackInfo& info);
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value DType(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value ToHost(const Napi::CallbackInfo& info);  // -> Promise<ArrayBuffer>
  Napi::Value To(const Napi::CallbackInfo& info);      // (dtype, device) -> Promise<TensorWrap>
  void Dispose(const Napi::CallbackInfo& info);

  const Tensor& Get() const;
  void Set(Napi::Env env, Tensor t);
  void Release();

  std::optional<Tensor> tensor_;
  int64_t host_bytes_ = 0;  // reported to V8 as external memory, so GC pressure reflects it
};

}  // namespace da::napi
