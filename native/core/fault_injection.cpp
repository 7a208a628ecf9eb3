#include "fault_injection.h"

#include <atomic>
#include <string>

#include "error.h"

namespace da {

namespace {

// Allocations still to pass before the simulated failure; -1 when disarmed.
std::atomic<int64_t> countdown{-1};

}  // namespace

void arm_allocation_failure(int64_t after) { countdown.store(after < 0 ? -1 : after); }

bool allocation_failure_armed() { return countdown.load() >= 0; }

void check_allocation(size_t bytes) {
  if (countdown.load(std::memory_order_relaxed) < 0) return;
  // Exactly one allocation sees the count go from 0 to -1, however many threads race here.
  int64_t left = countdown.load();
  while (left >= 0 && !countdown.compare_exchange_weak(left, left - 1)) {
  }
  if (left == 0) fail(ErrorCode::Resource, "simulated allocation failure (" + std::to_string(bytes) + " bytes)");
}

}  // namespace da
