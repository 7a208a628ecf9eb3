#include "weights.h"

#include "../core/error.h"

namespace da {

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
