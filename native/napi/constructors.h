// The JS classes the addon defines, kept per Node environment (the main thread and each worker
// thread load the addon separately) in the environment's instance data.
#pragma once

#include <napi.h>

namespace da::napi {

struct Constructors {
  Napi::FunctionReference tensor;
  Napi::FunctionReference cache;
};

// Creates the environment's Constructors on first use.
Constructors& constructors(Napi::Env env);

}  // namespace da::napi
