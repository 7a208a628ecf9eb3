// A small persistent thread pool for the CPU kernels. parallel_for splits [0, n) into chunks that
// the pool's threads and the calling thread take in turn; it returns when all are done and
// rethrows the first exception. Calls from different threads (two jobs at once) are serialised:
// each call already uses every core.
//
// DIFFUSION_ATTENTION_THREADS sets the thread count (default: the hardware threads).
#pragma once

#include <cstddef>
#include <functional>

namespace da::cpu {

int thread_count();

// fn(begin, end, worker) for consecutive ranges covering [0, n); worker in [0, thread_count()).
void parallel_for(size_t n, const std::function<void(size_t begin, size_t end, int worker)>& fn);

}  // namespace da::cpu
