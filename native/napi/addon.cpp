// The addon's entry point: registers the native surface that ts/native/binding.ts describes.
#include <napi.h>

#include "info.h"
#include "tensor_wrap.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New<da::napi::Info>(env, "info"));
  da::napi::TensorWrap::Register(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(diffusion_attention, Init)
