#include "constructors.h"

namespace da::napi {

Constructors& constructors(Napi::Env env) {
  auto* c = env.GetInstanceData<Constructors>();
  if (c == nullptr) {
    c = new Constructors();
    env.SetInstanceData(c);  // deleted with the environment
  }
  return *c;
}

}  // namespace da::napi
