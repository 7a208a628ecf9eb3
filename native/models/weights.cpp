#include "weights.h"

#include "../core/error.h"

namespace da {

Weights::Weights(std::map<std::string, Tensor> tensors) : tensors_(std::move(tensors)) {
  if (tensors_.empty()) return;
  const Tensor& first = tensors_.begin()->second;
  device_ = first.device();
  dtype_ = first.dtype;
  for (const auto& [name, t] : tensors_) {
    if (t.device() != device_ || t.dtype != dtype_) {
      fail(ErrorCode::ModelFormat, "weight " + name + " is " + t.describe() + ", but " + tensors_.begin()->first + " is " + first.describe() +
                                       ": a model's weights share one device and dtype");
    }
  }
}

const Tensor& Weights::need(const std::string& name, const std::vector<int64_t>& shape) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(ErrorCode::ModelFormat, "missing weight " + name);
  if (it->second.shape != shape) {
    std::string want = "[";
    for (size_t i = 0; i < shape.size(); ++i) want += (i ? ", " : "") + std::to_string(shape[i]);
    fail(ErrorCode::ModelFormat, "weight " + name + " is " + it->second.describe() + ", expected " + want + "]");
  }
  return it->second;
}

}  // namespace da
