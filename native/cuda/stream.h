// The stream every kernel launch, copy and stream-ordered allocation of the CUDA backend is queued
// on. Normally the legacy default stream, which orders the work of all host threads (the N-API jobs
// run on libuv's pool), so a model call needs no event juggling. While a thread records a CUDA graph
// (cuda_backend.cu, Backend::record) its work goes to the recording's own stream instead; work from
// other threads keeps going to the default stream and stays out of the recording.
#pragma once

#include <cuda_runtime.h>

namespace da::cuda {

namespace detail {
inline thread_local cudaStream_t current_stream = nullptr;  // nullptr = the legacy default stream
}

inline cudaStream_t stream() { return detail::current_stream; }

// Sends this thread's work to `s` for the scope's lifetime.
class StreamScope {
 public:
  explicit StreamScope(cudaStream_t s) : saved_(detail::current_stream) { detail::current_stream = s; }
  ~StreamScope() { detail::current_stream = saved_; }
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;

 private:
  cudaStream_t saved_;
};

}  // namespace da::cuda
