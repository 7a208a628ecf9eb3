// attention(q, k, v, options) -> Promise<{ out, entropy, gainLow, gainHigh, concentration?, spectrum? }>
// The options object has already been validated and normalised by ts/attention/index.ts; it is
// converted here, on the main thread, into an AttentionCall (ops/attention.h) that the job runs.
#pragma once

#include <napi.h>

namespace da::napi {

Napi::Value Attention(const Napi::CallbackInfo& info);

}  // namespace da::napi
