// PromiseJob: runs `execute` on the libuv thread pool and settles a Promise on the main thread.
// `execute` must not touch JS values; anything it needs is captured by value (shared_ptr to native
// data) before queueing. `resolve` runs on the main thread and builds the JS result; JS values the
// job needs to keep alive are passed as `pinned` and handed back to `resolve` as an array (a
// napi_value must never be captured: it is only valid in the handle scope that made it). A C++
// exception from `execute` rejects the promise with the matching coded error (see errors.h).
#pragma once

#include <napi.h>

#include <functional>
#include <string>

namespace da::napi {

class PromiseJob final : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Resolve = std::function<Napi::Value(Napi::Env, Napi::Object pinned)>;

  // `pinned` values stay alive until the job settles (e.g. an ArrayBuffer the worker writes into).
  static Napi::Promise Queue(Napi::Env env, Work execute, Resolve resolve,
                             std::initializer_list<Napi::Value> pinned = {});

 private:
  PromiseJob(Napi::Env env, Work execute, Resolve resolve);
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference pinned_;
  Work execute_;
  Resolve resolve_;
  std::string code_ = "E_INTERNAL";
  std::string message_;
};

}  // namespace da::napi
