// Reading the attention family's option objects (ts/attention/types.ts) into the native variant
// structs (ops/attention.h), and its capture results back. Shared by attention() and by the UNet's per-layer controls, which
// leave out the grid (the model knows each layer's grid). Every field is type-checked here; the
// value ranges are checked by check_call().
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../ops/attention.h"

namespace da::napi {

// A number field (`fallback` when undefined); E_INVALID_ARGUMENT when it is not a number.
float number_field(const Napi::Object& o, const char* key, float fallback);
// An integer field; E_INVALID_ARGUMENT when it is not an integer.
int integer_field(const Napi::Object& o, const char* key, int fallback);
bool flag_field(const Napi::Object& o, const char* key, bool fallback);
// A Uint8Array (empty when undefined or null).
std::vector<uint8_t> bytes_field(const Napi::Value& v, const char* name);

// `afm` ({ grid?, gainLow, gainHigh, cutoff, width, preserveDC, mode, entropyGate }); the grid is
// read only when `with_grid`.
AfmParams read_afm(const Napi::Object& a, bool with_grid);
// `guidance` ({ kind: 'gag' | 'nag' | 'pag', ... }); NAG's kNeg / vNeg / maskNeg only when
// `nag_tensors` (the UNet projects its own). PAG's rows default to [0, batch).
GuidanceParams read_guidance(const Napi::Object& g, int64_t batch, bool nag_tensors);
// `capture` ({ topK, bins, grid? }).
CaptureParams read_capture(const Napi::Object& k, bool with_grid);

// A host float vector as a new Float32Array (capture results).
Napi::Float32Array float_array(Napi::Env env, const std::vector<float>& v);

}  // namespace da::napi
