// info(): what this binary is and what it found on the machine (build flags, SIMD path, CUDA status
// and devices). ts/info.ts shapes it into the public `info()` result.
#pragma once

#include <napi.h>

namespace da::napi {

Napi::Value Info(const Napi::CallbackInfo& info);

}  // namespace da::napi
