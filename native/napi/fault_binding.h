// simulateAllocationFailure(after): the JS side of core/fault_injection.h, for tests only.
#pragma once

#include <napi.h>

namespace da::napi {

// (after: integer) => boolean. Arms the hook (after >= 0) or disarms it (after < 0); returns
// whether the previous arming was still pending. Throws E_INVALID_ARGUMENT for a non-integer.
Napi::Value SimulateAllocationFailure(const Napi::CallbackInfo& info);

}  // namespace da::napi
