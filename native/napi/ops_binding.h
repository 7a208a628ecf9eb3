// runOp(name, inputs, params) -> Promise<NativeTensor>: every model op of ops/ops.h by name, for the
// tests and the benchmarks only. It is not part of the public TypeScript API: models call the ops
// from C++ and cross N-API once per forward (DESIGN.md).
//
// The params object is read on the main thread into the op's C++ arguments (a wrong type or a
// missing field is E_INVALID_ARGUMENT); the op itself, with its own checks (ops.cpp), runs as one
// job on the libuv pool and rejects with the coded error. Optional tensor operands are listed in
// `inputs` after the required ones, in the order given below, when their flag says so.
//
//   linear              [x, weight, bias?, residual?]  { bias = true, residual = false, activation = 'none' }
//   conv2d              [x, weight, bias?, residual?]  { stride = 1, padding = 0 | [top, bottom, left, right],
//                                                        bias = true, residual = false, activation = 'none' }
//   group_norm          [x, weight?, bias?]            { numGroups, eps = 1e-5, affine = true, silu = false }
//   layer_norm          [x, weight?, bias?]            { eps = 1e-5, affine = true }
//   silu, gelu, quick_gelu, geglu, upsample_nearest2x  [x]
//   add                 [a, b]
//   timestep_embedding  [timesteps]                    { dim, flipSinToCos = false, downscaleFreqShift = 1,
//                                                        scale = 1, maxPeriod = 10000 }
//   concat              [x0, x1, ...]                  { dim }
//   slice               [x]                            { dim, begin, end }
//   permute             [x]                            { perm }
//   embedding           [table]                        { ids }
// activation is 'none' | 'silu' | 'gelu' | 'quick_gelu'.
#pragma once

#include <napi.h>

namespace da::napi {

Napi::Value RunOp(const Napi::CallbackInfo& info);

}  // namespace da::napi
