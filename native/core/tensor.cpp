#include "tensor.h"

#include "error.h"

namespace da {

Storage::Storage(Device device, size_t bytes)
    : device_(device), bytes_(bytes), data_(backend_for(device).allocate(bytes)) {}

Storage::Storage(void* host_data, size_t bytes, std::shared_ptr<const void> owner)
    : device_(Device::Cpu), bytes_(bytes), data_(host_data), owner_(std::move(owner)) {}

Storage::~Storage() {
  if (!owner_) backend_for(device_).release(data_);
}

uint64_t checked_numel(const std::vector<int64_t>& shape) {
  if (shape.size() > kMaxDims) {
    fail(ErrorCode::Shape, "a tensor has at most " + std::to_string(kMaxDims) + " dimensions, got " +
                               std::to_string(shape.size()));
  }
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(ErrorCode::Shape, "dimension " + std::to_string(d) + " is negative");
    if (d != 0 && n > kMaxElements / static_cast<uint64_t>(d)) {
      fail(ErrorCode::Shape, "shape has more than 2^40 elements");
    }
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

uint64_t Tensor::numel() const { return checked_numel(shape); }

std::string Tensor::describe() const {
  std::string s = std::string(dtype_name(dtype)) + "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "] on " + device_name(device());
}

Tensor tensor_empty(const std::vector<int64_t>& shape, DType dtype, Device device) {
  const uint64_t n = checked_numel(shape);
  Tensor t;
  t.storage = std::make_shared<Storage>(device, static_cast<size_t>(n) * dtype_size(dtype));
  t.shape = shape;
  t.dtype = dtype;
  return t;
}

Tensor tensor_view(const Tensor& t, const std::vector<int64_t>& shape) {
  if (checked_numel(shape) != t.numel()) fail(ErrorCode::Shape, "cannot view " + t.describe() + " with another element count");
  Tensor v = t;
  v.shape = shape;
  return v;
}

Tensor tensor_to(const Tensor& src, DType dtype, Device device) {
  Tensor dst = tensor_empty(src.shape, dtype, device);
  const size_t n = static_cast<size_t>(src.numel());
  if (src.device() == device) {
    backend_for(device).convert(dst.data(), dtype, src.data(), src.dtype, n);
    return dst;
  }
  // Across devices the dtype change runs on the CUDA side, where it is cheapest.
  if (device == Device::Cuda) {
    Tensor staged = tensor_empty(src.shape, src.dtype, Device::Cuda);
    cuda_backend().copy_from_host(staged.data(), src.data(), src.nbytes());
    cuda_backend().convert(dst.data(), dtype, staged.data(), src.dtype, n);
  } else {
    Tensor staged = tensor_empty(src.shape, dtype, Device::Cuda);
    cuda_backend().convert(staged.data(), dtype, src.data(), src.dtype, n);
    cuda_backend().copy_to_host(dst.data(), staged.data(), dst.nbytes());
  }
  return dst;
}

}  // namespace da
