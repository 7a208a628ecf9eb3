// The weights a native model is built from: diffusers names -> tensors (already converted to the
// compute dtype by the loader, ts/models/). Models look weights up through `need`, which checks the
// shape, so a file that names the right tensors with the wrong sizes is E_MODEL_FORMAT at load time,
// never an out-of-bounds read during a forward pass.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "../core/tensor.h"

namespace da {

class Weights {
 public:
  explicit Weights(std::map<std::string, Tensor> tensors) : tensors_(std::move(tensors)) {}

  // The tensor `name` with exactly `shape`; throws E_MODEL_FORMAT naming it otherwise.
  const Tensor& need(const std::string& name, const std::vector<int64_t>& shape) const;
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }

 private:
  std::map<std::string, Tensor> tensors_;
};

}  // namespace da
