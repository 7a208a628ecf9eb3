// CUDA graphs of plain UNet calls. A sampler calls the UNet with the same shapes every step, and a
// step of SD1.5 is several hundred small kernel launches whose host-side cost is a large part of
// the step on a fast GPU; replaying a recorded graph queues them in one launch (the approach of
// stable-fast and of torch.compile's "reduce-overhead" mode).
//
// A graph reads and writes fixed addresses, so each recorded shape owns fixed input buffers
// (sample, timesteps, context) and an output buffer; a replayed call copies its inputs in, replays,
// and copies the output out, all queued on the stream without a host wait. The first call of a
// shape runs directly (one-off shapes never pay for a recording); the second records and replays.
// Only calls without attention controls are recorded: AFM, capture, guidance and T-GATE change
// the work between steps and read results on the host. When recording fails (the CPU, a device
// without a memory pool, anything a graph cannot hold) the shape runs directly from then on.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "../core/backend.h"
#include "../core/tensor.h"

namespace da {

class UNetGraphs {
 public:
  // The UNet's work on inputs already on its device in its dtype: sample [B, C, H, W], timesteps
  // float32 [B], context [B, T, D]; returns the output [B, C_out, H, W].
  using Body = std::function<Tensor(const Tensor& sample, const Tensor& timesteps, const Tensor& context)>;

  // body(sample, timesteps, context), replayed from this shape's recording where there is one.
  Tensor run(Backend& backend, const Tensor& sample, const Tensor& timesteps, const Tensor& context, const Body& body);

  void set_enabled(bool enabled);
  bool enabled() const;
  // How many calls were answered by a replay (for tests and diagnostics).
  int64_t replays() const;

 private:
  struct Entry {
    bool failed = false;
    uint64_t last_use = 0;
    std::unique_ptr<Recording> recording;
    Tensor sample, timesteps, context;  // the recording's fixed inputs
    Tensor out;                         // its output; allocated by the shape's first call
  };
  // At most this many shapes keep a recording: each holds the activation memory of a whole call.
  static constexpr size_t kMaxRecordings = 2;

  void evict_for_new_recording();

  mutable std::mutex mutex_;
  bool enabled_ = true;
  int64_t replays_ = 0;
  uint64_t clock_ = 0;
  std::map<std::vector<int64_t>, Entry> entries_;  // by sample shape + context shape
};

}  // namespace da
