#include "backend.h"

#include "error.h"

namespace da {

const char* device_name(Device d) { return d == Device::Cpu ? "cpu" : "cuda"; }

Device device_from_name(const std::string& name) {
  if (name == "cpu") return Device::Cpu;
  if (name == "cuda") return Device::Cuda;
  fail(ErrorCode::Device, "unknown device '" + name + "' (expected cpu or cuda)");
}

}  // namespace da
