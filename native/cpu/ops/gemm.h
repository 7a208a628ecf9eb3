// Shared pieces of the GEMM drivers (linear.cpp, conv2d.cpp): scratch memory, the K blocking and
// the split of a problem into pool tasks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace da::cpu::ops {

// 64-byte aligned float memory, grown on demand (contents not kept).
class Scratch {
 public:
  float* get(size_t n);

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float[], Free> data_;
  size_t size_ = 0;
};

// Scratch that outlives the call: taken from a process-wide stock and returned to it, so a large
// buffer is allocated (and its pages faulted in, about 0.5 ms per MiB on the 2-core VM the
// benchmarks ran on) once rather than per call. The stock keeps as many buffers as were ever in use
// at once (one or two per running op), each as large as the largest request it served.
class PooledScratch {
 public:
  PooledScratch();
  ~PooledScratch();
  PooledScratch(const PooledScratch&) = delete;
  PooledScratch& operator=(const PooledScratch&) = delete;
  float* get(size_t n) { return scratch_->get(n); }

 private:
  std::unique_ptr<Scratch> scratch_;
};

// K cut into `count` blocks of nearly equal size, none above the level's limit: a K just above the
// limit (320 with a limit of 256) gives two blocks of 160 instead of 256 + 64.
struct KBlocks {
  int K, count;
  KBlocks(int k, int limit) : K(k), count((k + limit - 1) / limit) {}
  int begin(int b) const { return static_cast<int>(static_cast<int64_t>(K) * b / count); }
  int size(int b) const { return begin(b + 1) - begin(b); }
};

// How many pieces to cut a dimension of `units` into so that `other` pieces along another dimension
// times these reach a few tasks per thread (the pool balances uneven chunks with several per thread).
int pieces_for_threads(int units, int other);

}  // namespace da::cpu::ops
