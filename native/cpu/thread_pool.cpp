#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace da::cpu {

namespace {

using Fn = std::function<void(size_t, size_t, int)>;

// One parallel_for call. It lives on the caller's stack; the caller returns only when every chunk
// is done and no worker still holds a pointer to it.
struct Run {
  const Fn* fn;
  size_t n, chunks;
  std::atomic<size_t> next{0};
  size_t done = 0;   // chunks finished (under the pool mutex)
  int active = 0;    // workers inside participate() (under the pool mutex)
  std::exception_ptr error;
};

class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void run(size_t n, const Fn& fn) {
    if (n == 0) return;
    std::lock_guard<std::mutex> serial(serial_);
    // Several chunks per thread balance uneven work (e.g. masked or shorter rows).
    Run r;
    r.fn = &fn;
    r.n = n;
    r.chunks = std::min(n, static_cast<size_t>(size()) * 4);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      current_ = &r;
      ++generation_;
    }
    wake_.notify_all();
    participate(r, 0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return r.done == r.chunks && r.active == 0; });
    current_ = nullptr;
    if (r.error) std::rethrow_exception(r.error);
  }

 private:
  void loop(int worker) {
    uint64_t seen = 0;
    for (;;) {
      Run* r;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || (generation_ != seen && current_ != nullptr); });
        if (stop_) return;
        seen = generation_;
        r = current_;
        ++r->active;
      }
      participate(*r, worker);
      std::lock_guard<std::mutex> lock(mutex_);
      --r->active;
      done_.notify_all();
    }
  }

  void participate(Run& r, int worker) {
    for (;;) {
      const size_t c = r.next.fetch_add(1);
      if (c >= r.chunks) return;
      try {
        (*r.fn)(r.n * c / r.chunks, r.n * (c + 1) / r.chunks, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!r.error) r.error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      if (++r.done == r.chunks) done_.notify_all();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex serial_, mutex_;
  std::condition_variable wake_, done_;
  Run* current_ = nullptr;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

int configured_threads() {
  if (const char* env = std::getenv("DIFFUSION_ATTENTION_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return std::min(n, 256);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

Pool& pool() {
  static Pool p(configured_threads());
  return p;
}

}  // namespace

int thread_count() { return pool().size(); }

void parallel_for(size_t n, const Fn& fn) { pool().run(n, fn); }

}  // namespace da::cpu
