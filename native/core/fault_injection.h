// A test hook that makes a chosen allocation fail, so tests can check that a failure deep inside
// native work surfaces as an E_RESOURCE error and leaves every object usable (the reliability
// issue's "simulated allocation failure"). Disarmed it costs one relaxed atomic load per allocation.
// SQLite's SQLITE_FAULTINJECTOR and malloc-failure tests are the model.
#pragma once

#include <cstddef>
#include <cstdint>

namespace da {

// Arms the hook: the allocation `after` allocations from now (0 = the very next one) throws
// E_RESOURCE "simulated allocation failure", once; the hook then disarms itself. A negative
// `after` disarms it. Process-wide: it counts allocations of every thread and device.
void arm_allocation_failure(int64_t after);

// Whether the hook is still armed (the failure has not happened yet).
bool allocation_failure_armed();

// Called by every native allocator (device backends and kernel scratch buffers) before it
// allocates `bytes`; throws when the armed count reaches this allocation.
void check_allocation(size_t bytes);

}  // namespace da
