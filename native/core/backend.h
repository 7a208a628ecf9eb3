// The backend interface: what every compute device provides. The CPU backend (native/cpu) is
// always present; the CUDA backend (native/cuda) only in the CUDA variant of the binary. Later ops
// (linear, conv2d, norms, the attention family) extend this interface; models only ever see it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dtype.h"

namespace da {

enum class Device : int { Cpu = 0, Cuda = 1 };

const char* device_name(Device d);
// Throws E_DEVICE for an unknown name.
Device device_from_name(const std::string& name);

// Device work recorded once and queued again as a whole (a CUDA graph): one launch instead of a
// few hundred, without the host-side cost of each. Reads and writes the same memory every time.
class Recording {
 public:
  virtual ~Recording() = default;
  // Queues the recorded work after everything queued before it; does not wait for it.
  virtual void replay() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  // Returns memory for `bytes` bytes (a unique non-null pointer even for 0); throws E_RESOURCE.
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* ptr) noexcept = 0;
  virtual void copy_from_host(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, size_t bytes) = 0;
  // Element-wise dtype conversion of `count` elements between two buffers on this device.
  virtual void convert(void* dst, DType dst_type, const void* src, DType src_type, size_t count) = 0;
  // Runs `body` on this thread while recording the device work it queues instead of running it.
  // Memory that body allocates must be released within it (it becomes part of the recording);
  // memory allocated before may be read and written. Returns nullptr, with none of body's device
  // work done, when the backend does not record (the CPU) or body did something a recording cannot
  // hold (a host read or wait, an upload from host memory, an allocation outside the stream-ordered
  // pool, or any error): the caller then runs the work directly.
  virtual std::unique_ptr<Recording> record(const std::function<void()>& body) {
    (void)body;
    return nullptr;
  }
};

Backend& cpu_backend();

// What the CUDA runtime reports on this machine.
struct CudaDevice {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  size_t total_memory = 0, free_memory = 0;  // bytes
  int multiprocessors = 0;
  std::vector<std::string> kernels;  // the kernel families chosen on this device, one line each
};
struct CudaStatus {
  bool compiled = false;   // this binary contains the CUDA backend
  bool available = false;  // compiled, a driver answered and at least one device exists
  std::string reason;      // when not available: one line saying why
  int runtime_version = 0, driver_version = 0;  // as cudaRuntimeGetVersion / cudaDriverGetVersion
  std::vector<std::string> archs;  // the architectures compiled in, e.g. "sm_80", "compute_120"
  std::vector<CudaDevice> devices;
};

// Probes once and caches the answer; never throws.
const CudaStatus& cuda_status();
// Throws E_NO_CUDA with cuda_status().reason when CUDA is not available.
Backend& cuda_backend();

inline Backend& backend_for(Device d) { return d == Device::Cpu ? cpu_backend() : cuda_backend(); }

}  // namespace da
