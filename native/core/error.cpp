#include "error.h"

namespace da {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::Shape: return "E_SHAPE";
    case ErrorCode::DType: return "E_DTYPE";
    case ErrorCode::Device: return "E_DEVICE";
    case ErrorCode::NoCuda: return "E_NO_CUDA";
    case ErrorCode::Disposed: return "E_DISPOSED";
    case ErrorCode::ModelFormat: return "E_MODEL_FORMAT";
    case ErrorCode::Resource: return "E_RESOURCE";
    case ErrorCode::Cuda: return "E_CUDA";
    case ErrorCode::InvalidArgument: return "E_INVALID_ARGUMENT";
    case ErrorCode::Internal: return "E_INTERNAL";
  }
  return "E_INTERNAL";
}

}  // namespace da
