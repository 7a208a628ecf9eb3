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

// All tensors of one model share a device and a dtype (float32 on the CPU; float32, float16 or
// bfloat16 on CUDA, uploaded once when the model is loaded), which the model's inputs must match.
class Weights {
 public:
  // Throws E_MODEL_FORMAT when the tensors are on different devices or of different dtypes.
  explicit Weights(std::map<std::string, Tensor> tensors);

  Device device() const { return device_; }
  DType dtype() const { return dtype_; }
  // `t` where the weights are, in their dtype: itself when it already is, else a converted copy
  // (a model call's inputs; the copy lives as long as the call).
  Tensor place(const Tensor& t) const { return t.device() == device_ && t.dtype == dtype_ ? t : tensor_to(t, dtype_, device_); }

  // The tensor `name` with exactly `shape`; throws E_MODEL_FORMAT naming it otherwise.
  const Tensor& need(const std::string& name, const std::vector<int64_t>& shape) const;
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }

 private:
  std::map<std::string, Tensor> tensors_;
  Device device_ = Device::Cpu;
  DType dtype_ = DType::Float32;
};

}  // namespace da
