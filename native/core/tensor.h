// Tensor: a dense, contiguous (row-major) array on one device. The bytes live in a reference-counted
// Storage, so a job running on a worker thread keeps them alive even if the JS side disposes the
// tensor while the job is in flight.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "dtype.h"

namespace da {

// Limits that keep size arithmetic far from overflow; real tensors are orders of magnitude smaller.
constexpr size_t kMaxDims = 8;
constexpr uint64_t kMaxElements = uint64_t(1) << 40;

class Storage {
 public:
  // Memory allocated by the device's backend and freed with it.
  Storage(Device device, size_t bytes);
  // Host memory owned elsewhere (e.g. a mapped weights file): `owner` is kept alive as long as
  // this storage, and nothing is freed here.
  Storage(void* host_data, size_t bytes, std::shared_ptr<const void> owner);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  Device device() const { return device_; }
  size_t bytes() const { return bytes_; }
  void* data() const { return data_; }

 private:
  Device device_;
  size_t bytes_;
  void* data_;
  std::shared_ptr<const void> owner_;  // set for borrowed memory
};

struct Tensor {
  std::shared_ptr<Storage> storage;
  std::vector<int64_t> shape;
  DType dtype = DType::Float32;

  Device device() const { return storage->device(); }
  uint64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  void* data() const { return storage->data(); }
  std::string describe() const;  // "float16[2, 8, 4096, 40] on cuda", for messages
};

// Number of elements of `shape`; throws E_SHAPE for negative dims, too many dims or overflow.
uint64_t checked_numel(const std::vector<int64_t>& shape);
// Uninitialised tensor; throws E_SHAPE, E_NO_CUDA or E_RESOURCE.
Tensor tensor_empty(const std::vector<int64_t>& shape, DType dtype, Device device);
// The same storage under another shape with as many elements (tensors are immutable, so sharing
// is safe). Throws E_SHAPE when the element counts differ.
Tensor tensor_view(const Tensor& t, const std::vector<int64_t>& shape);
// A new tensor holding `src` converted to `dtype` on `device` (a copy even when nothing changes).
Tensor tensor_to(const Tensor& src, DType dtype, Device device);

}  // namespace da
