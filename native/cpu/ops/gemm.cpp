#include "gemm.h"

#include <algorithm>
#include <mutex>
#include <new>
#include <vector>

#include "../../core/fault_injection.h"
#include "../thread_pool.h"

namespace da::cpu::ops {

float* Scratch::get(size_t n) {
  if (n > size_) {
    check_allocation(n * sizeof(float));
    data_.reset(static_cast<float*>(std::aligned_alloc(64, (std::max<size_t>(n, 1) * sizeof(float) + 63) / 64 * 64)));
    if (!data_) {
      size_ = 0;
      throw std::bad_alloc();
    }
    size_ = n;
  }
  return data_.get();
}

namespace {

std::mutex stock_mutex;
std::vector<std::unique_ptr<Scratch>> stock;

}  // namespace

PooledScratch::PooledScratch() {
  {
    std::lock_guard<std::mutex> lock(stock_mutex);
    if (!stock.empty()) {
      scratch_ = std::move(stock.back());
      stock.pop_back();
    }
  }
  if (!scratch_) scratch_ = std::make_unique<Scratch>();
}

PooledScratch::~PooledScratch() {
  std::lock_guard<std::mutex> lock(stock_mutex);
  stock.push_back(std::move(scratch_));
}

int pieces_for_threads(int units, int other) {
  const int want = 4 * thread_count();
  const int pieces = (want + other - 1) / std::max(other, 1);
  return std::clamp(pieces, 1, std::max(units, 1));
}

}  // namespace da::cpu::ops
