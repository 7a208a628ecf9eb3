#include "fault_binding.h"

#include <cmath>

#include "../core/error.h"
#include "../core/fault_injection.h"
#include "errors.h"

namespace da::napi {

Napi::Value SimulateAllocationFailure(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const double after = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : NAN;
    if (!std::isfinite(after) || after != std::floor(after) || std::fabs(after) > 9.0e15) {
      fail(ErrorCode::InvalidArgument, "simulateAllocationFailure expects an integer");
    }
    const bool pending = allocation_failure_armed();
    arm_allocation_failure(static_cast<int64_t>(after));
    return Napi::Boolean::New(info.Env(), pending);
  });
}

}  // namespace da::napi
