// NativeWeightFile: a mapped safetensors file (native/weights/mapped_file.h) seen from JS.
//   new NativeWeightFile(path)                                   maps the file (E_MODEL_FORMAT)
//   .size                                                        file size in bytes
//   .load(offset, nbytes, fileDtype, shape, computeDtype)        -> Promise<NativeTensor>
// Offsets are absolute byte offsets into the file, already validated by ts/weights/safetensors.ts
// and checked again natively.
#pragma once

#include <napi.h>

namespace da::napi {

void RegisterWeights(Napi::Env env, Napi::Object exports);

}  // namespace da::napi
