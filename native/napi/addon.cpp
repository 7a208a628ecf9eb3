// The addon's entry point: registers the native surface that ts/native/binding.ts describes.
#include <napi.h>

#include "attention_binding.h"
#include "cache_wrap.h"
#include "fault_binding.h"
#include "info.h"
#include "models_binding.h"
#include "ops_binding.h"
#include "tensor_wrap.h"
#include "weights_binding.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New<da::napi::Info>(env, "info"));
  exports.Set("attention", Napi::Function::New<da::napi::Attention>(env, "attention"));
  exports.Set("runOp", Napi::Function::New<da::napi::RunOp>(env, "runOp"));
  exports.Set("simulateAllocationFailure",
              Napi::Function::New<da::napi::SimulateAllocationFailure>(env, "simulateAllocationFailure"));
  da::napi::TensorWrap::Register(env, exports);
  da::napi::CacheWrap::Register(env, exports);
  da::napi::RegisterWeights(env, exports);
  da::napi::RegisterModels(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(diffusion_attention, Init)
