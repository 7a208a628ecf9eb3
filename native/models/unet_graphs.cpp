#include "unet_graphs.h"

#include "../core/error.h"

namespace da {

namespace {

// dst <- src, same shape and dtype, queued on dst's device.
void copy_into(Backend& backend, Tensor& dst, const Tensor& src) {
  backend.convert(dst.data(), dst.dtype, src.data(), src.dtype, static_cast<size_t>(src.numel()));
}

Tensor empty_like(const Tensor& t) { return tensor_empty(t.shape, t.dtype, t.device()); }

}  // namespace

Tensor UNetGraphs::run(Backend& backend, const Tensor& sample, const Tensor& timesteps, const Tensor& context, const Body& body) {
  std::vector<int64_t> key = sample.shape;
  key.insert(key.end(), context.shape.begin(), context.shape.end());

  std::unique_lock<std::mutex> lock(mutex_);
  Entry& e = entries_[key];  // map nodes stay put: the reference survives other shapes' inserts
  e.last_use = ++clock_;
  if (!enabled_ || e.failed || e.out.shape.empty()) {
    // Directly: graphs off, a shape that cannot be recorded, or its first call, which also tells
    // the shape of the output buffer a recording will write.
    lock.unlock();
    Tensor out = body(sample, timesteps, context);
    lock.lock();
    if (enabled_ && !e.failed && e.out.shape.empty()) e.out = empty_like(out);
    return out;
  }

  if (!e.recording) {
    evict_for_new_recording();
    e.sample = empty_like(sample);
    e.timesteps = empty_like(timesteps);
    e.context = empty_like(context);
    e.recording = backend.record([&] {
      const Tensor out = body(e.sample, e.timesteps, e.context);
      if (out.shape != e.out.shape || out.dtype != e.out.dtype) fail(ErrorCode::Internal, "UNet graphs: the output changed shape");
      copy_into(backend, e.out, out);
    });
    if (!e.recording) {
      e.failed = true;
      e.sample = e.timesteps = e.context = e.out = Tensor();
      lock.unlock();
      return body(sample, timesteps, context);
    }
  }
  copy_into(backend, e.sample, sample);
  copy_into(backend, e.timesteps, timesteps);
  copy_into(backend, e.context, context);
  e.recording->replay();
  Tensor out = empty_like(e.out);
  copy_into(backend, out, e.out);
  ++replays_;
  return out;
}

// Drops the least recently used recording (and its buffers) when kMaxRecordings are held; the
// shape keeps its output buffer, so its next call records it again.
void UNetGraphs::evict_for_new_recording() {
  size_t held = 0;
  Entry* oldest = nullptr;
  for (auto& [key, e] : entries_) {
    if (!e.recording) continue;
    ++held;
    if (!oldest || e.last_use < oldest->last_use) oldest = &e;
  }
  if (held < kMaxRecordings || !oldest) return;
  oldest->recording.reset();
  oldest->sample = oldest->timesteps = oldest->context = Tensor();
}

void UNetGraphs::set_enabled(bool enabled) {
  std::lock_guard<std::mutex> lock(mutex_);
  enabled_ = enabled;
}

bool UNetGraphs::enabled() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return enabled_;
}

int64_t UNetGraphs::replays() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return replays_;
}

}  // namespace da
