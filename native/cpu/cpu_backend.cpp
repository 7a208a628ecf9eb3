// The CPU backend: host memory (64-byte aligned, for the SIMD kernels) and the CPU kernels.
#include <cstdlib>
#include <cstring>

#include "../core/backend.h"
#include "../core/error.h"
#include "../core/fault_injection.h"
#include "convert.h"
#include "thread_pool.h"

namespace da {

namespace {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::Cpu; }

  void* allocate(size_t bytes) override {
    constexpr size_t kAlign = 64;
    check_allocation(bytes);
    const size_t rounded = bytes == 0 ? kAlign : (bytes + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, rounded);
    if (p == nullptr) fail(ErrorCode::Resource, "out of host memory allocating " + std::to_string(bytes) + " bytes");
    return p;
  }
  void release(void* ptr) noexcept override { std::free(ptr); }
  void copy_from_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void convert(void* dst, DType dst_type, const void* src, DType src_type, size_t count) override {
    // Large conversions are split across the pool; below 256K elements a thread hand-off costs
    // more than it saves.
    constexpr size_t kChunk = size_t(1) << 18;
    if (count < 2 * kChunk) {
      cpu::convert(dst, dst_type, src, src_type, count);
      return;
    }
    const size_t si = dtype_size(src_type), di = dtype_size(dst_type);
    cpu::parallel_for((count + kChunk - 1) / kChunk, [&](size_t begin, size_t end, int) {
      const size_t from = begin * kChunk, to = end * kChunk < count ? end * kChunk : count;
      cpu::convert(static_cast<char*>(dst) + from * di, dst_type, static_cast<const char*>(src) + from * si, src_type, to - from);
    });
  }
};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

}  // namespace da
