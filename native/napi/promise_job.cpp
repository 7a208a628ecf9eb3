#include "promise_job.h"

#include "../core/error.h"
#include "errors.h"

namespace da::napi {

PromiseJob::PromiseJob(Napi::Env env, Work execute, Resolve resolve)
    : Napi::AsyncWorker(env, "diffusion-attention"),
      deferred_(Napi::Promise::Deferred::New(env)),
      pinned_(Napi::Persistent(Napi::Array::New(env).As<Napi::Object>())),
      execute_(std::move(execute)),
      resolve_(std::move(resolve)) {}

Napi::Promise PromiseJob::Queue(Napi::Env env, Work execute, Resolve resolve,
                                std::initializer_list<Napi::Value> pinned) {
  auto* job = new PromiseJob(env, std::move(execute), std::move(resolve));
  uint32_t i = 0;
  for (const Napi::Value& v : pinned) job->pinned_.Set(i++, v);
  Napi::Promise promise = job->deferred_.Promise();
  job->Napi::AsyncWorker::Queue();  // the worker deletes itself after settling
  return promise;
}

void PromiseJob::Execute() {
  try {
    execute_();
  } catch (const Error& e) {
    code_ = error_code_name(e.code());
    SetError(e.what());
  } catch (const std::bad_alloc&) {
    code_ = "E_RESOURCE";
    SetError("out of memory");
  } catch (const std::exception& e) {
    SetError(e.what());
  }
}

// Settling runs JS-facing N-API calls, which fail (and node-addon-api throws) once the environment
// is being torn down: a worker thread terminated while this job ran. Nobody can observe the promise
// then, and an exception escaping the completion callback would abort the whole process, so such a
// failure is dropped.
void PromiseJob::OnOK() {
  Napi::Env env = Env();
  try {
    try {
      deferred_.Resolve(guard(env, [&] { return resolve_(env, pinned_.Value()); }));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  } catch (const Napi::Error&) {
  }
}

void PromiseJob::OnError(const Napi::Error& error) {
  try {
    deferred_.Reject(make_error(Env(), code_.c_str(), error.Message()).Value());
  } catch (const Napi::Error&) {
  }
}

}  // namespace da::napi
