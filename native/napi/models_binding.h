// The native models seen from JS (one object per loaded component):
//   new NativeTextEncoder(config, weights)   config: ClipTextConfig fields in camelCase,
//                                            weights: { [diffusersName]: NativeTensor }
//   .encodeIds(ids: Int32Array, B, T, clipSkip) -> Promise<NativeTensor [B, T, hidden]>
//   new NativeVae(config, weights)          AutoencoderKL; .decode(latents) -> Promise<NativeTensor>,
//                                            .encode(images) -> Promise<[mean, logvar]>
// The config and weight names were validated by ts/models/; the constructors check every weight
// shape again (E_MODEL_FORMAT).
#pragma once

#include <napi.h>

namespace da::napi {

void RegisterModels(Napi::Env env, Napi::Object exports);

}  // namespace da::napi
