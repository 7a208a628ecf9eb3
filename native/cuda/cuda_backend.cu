// The CUDA backend: device memory, host<->device copies and the device kernels. The runtime is
// linked statically (CMake: CUDA_RUNTIME_LIBRARY Static), so loading this binary needs nothing
// but the NVIDIA driver, and without a driver it still loads and reports why CUDA is unavailable.
#include <cuda_runtime.h>

#include <cstdint>
#include <sstream>

#include "../core/backend.h"
#include "../core/fault_injection.h"
#include "check.h"
#include "convert.cuh"
#include "kernel_choice.h"
#include "stream.h"

#ifndef DA_CUDA_ARCHS
#define DA_CUDA_ARCHS ""
#endif

namespace da {

namespace {

std::vector<std::string> compiled_archs() {
  // DA_CUDA_ARCHS is CMake's architecture list joined by commas, e.g. "75-real,90-real,120-virtual".
  std::vector<std::string> out;
  std::stringstream ss(DA_CUDA_ARCHS);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    const size_t dash = item.find('-');
    const std::string num = item.substr(0, dash);
    const std::string kind = dash == std::string::npos ? "" : item.substr(dash + 1);
    if (kind != "virtual") out.push_back("sm_" + num);
    if (kind != "real") out.push_back("compute_" + num);
  }
  return out;
}

std::string version_string(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }

CudaStatus probe() {
  CudaStatus s;
  s.compiled = true;
  s.archs = compiled_archs();
  cudaRuntimeGetVersion(&s.runtime_version);
  cudaDriverGetVersion(&s.driver_version);  // 0 when no driver is installed
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err == cudaErrorInsufficientDriver && s.driver_version == 0) {
    s.reason = "no CUDA device found: no NVIDIA driver is installed (libcuda.so.1 not found)";
  } else if (err == cudaErrorInsufficientDriver) {
    s.reason = "no CUDA device found: the NVIDIA driver supports CUDA " + version_string(s.driver_version) +
               " but this binary needs CUDA " + version_string(s.runtime_version) + " (update the driver)";
  } else if (err == cudaErrorNoDevice || (err == cudaSuccess && count == 0)) {
    s.reason = "no CUDA device found: the driver reports no GPU";
  } else if (err != cudaSuccess) {
    s.reason = std::string("no CUDA device found: ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
  }
  cudaGetLastError();  // the probe's error must not stick to the next call
  if (!s.reason.empty()) return s;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    CudaDevice d;
    d.index = i;
    d.name = prop.name;
    d.major = prop.major;
    d.minor = prop.minor;
    d.total_memory = prop.totalGlobalMem;
    d.multiprocessors = prop.multiProcessorCount;
    if (cudaSetDevice(i) == cudaSuccess) cudaMemGetInfo(&d.free_memory, &d.total_memory);
    d.kernels = cuda::kernel_report(d.major, cuda::memory_pools(i));
    s.devices.push_back(d);
  }
  cudaSetDevice(0);
  cudaGetLastError();
  s.available = !s.devices.empty();
  if (!s.available) s.reason = "no CUDA device found: no device answered";
  return s;
}

// A recorded CUDA graph; replayed on the calling thread's stream (stream.h).
class CudaRecording final : public Recording {
 public:
  explicit CudaRecording(cudaGraphExec_t exec) : exec_(exec) {}
  // A graph still in flight is freed once it completes.
  ~CudaRecording() override { cudaGraphExecDestroy(exec_); }
  void replay() override { DA_CUDA_CHECK(cudaGraphLaunch(exec_, cuda::stream())); }

 private:
  cudaGraphExec_t exec_;
};

// Device memory comes from the runtime's stream-ordered pool (cudaMallocAsync / cudaFreeAsync on
// cuda::stream(), where every kernel of this package runs) with its release threshold raised to
// "never": freed blocks stay cached in the pool and the next allocation of a model call reuses them
// without a driver call or a device-wide synchronisation (plain cudaFree synchronises the device).
// A free is ordered after the kernels queued before it, so a tensor may be released while kernels
// that read it are still queued. Devices without memory-pool support fall back to cudaMalloc.
class CudaBackend final : public Backend {
 public:
  CudaBackend() {
    int device = 0;
    DA_CUDA_CHECK(cudaGetDevice(&device));
    if (cuda::memory_pools(device)) {
      cudaMemPool_t pool;
      DA_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
      uint64_t keep = UINT64_MAX;
      DA_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
      pooled_ = true;
    }
  }

  Device device() const override { return Device::Cuda; }

  void* allocate(size_t bytes) override {
    check_allocation(bytes);
    void* p = nullptr;
    const size_t n = bytes == 0 ? 256 : bytes;
    if (pooled_) {
      DA_CUDA_CHECK(cudaMallocAsync(&p, n, cuda::stream()));
    } else {
      DA_CUDA_CHECK(cudaMalloc(&p, n));
    }
    return p;
  }
  // Errors are dropped: a destructor cannot throw, and at process exit the runtime may be gone.
  void release(void* ptr) noexcept override {
    if (pooled_) {
      cudaFreeAsync(ptr, cuda::stream());
    } else {
      cudaFree(ptr);
    }
  }
  // An upload from pageable memory is staged by the runtime before cudaMemcpyAsync returns (the
  // source may be reused at once) and needs no synchronisation; cudaMemcpy would wait for the
  // stream first. A download waits for the kernels queued before it: a host read is where a model
  // call synchronises (once, for its output).
  void copy_from_host(void* dst, const void* src, size_t bytes) override {
    DA_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cuda::stream()));
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    DA_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, cuda::stream()));
    DA_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
  }
  // Queued on the stream like every op; the next host read waits for it.
  void convert(void* dst, DType dst_type, const void* src, DType src_type, size_t count) override {
    cuda::convert(dst, dst_type, src, src_type, count, cuda::stream());
  }

  // Stream capture (CUDA graphs) on a stream of its own, in thread-local mode: work that other
  // threads queue meanwhile goes to the default stream and neither joins the graph nor breaks the
  // capture, while a call on this thread that a graph cannot hold (cudaMalloc, a synchronous copy,
  // a stream wait, a pageable upload) fails and abandons the capture. Allocations inside become the
  // graph's own memory (memory nodes, CUDA 11.4+), mapped at the first replay and kept while the
  // graph lives, so a replay allocates nothing.
  std::unique_ptr<Recording> record(const std::function<void()>& body) override {
    if (!pooled_) return nullptr;  // cudaMalloc cannot be captured
    cudaStream_t s = nullptr;
    if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    cudaGraph_t graph = nullptr;
    bool ok = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) == cudaSuccess;
    if (ok) {
      {
        cuda::StreamScope scope(s);
        try {
          body();
        } catch (...) {
          ok = false;
        }
      }
      ok = cudaStreamEndCapture(s, &graph) == cudaSuccess && ok && graph != nullptr;
    }
    cudaGraphExec_t exec = nullptr;
    if (ok) ok = cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
    if (graph != nullptr) cudaGraphDestroy(graph);
    cudaStreamDestroy(s);
    cudaGetLastError();  // a failed capture's error must not stick to the next launch check
    if (!ok) return nullptr;
    return std::make_unique<CudaRecording>(exec);
  }

 private:
  bool pooled_ = false;
};

}  // namespace

const CudaStatus& cuda_status() {
  static const CudaStatus status = probe();
  return status;
}

Backend& cuda_backend() {
  const CudaStatus& s = cuda_status();
  if (!s.available) fail(ErrorCode::NoCuda, "CUDA is not available: " + s.reason);
  static CudaBackend backend;
  return backend;
}

}  // namespace da
