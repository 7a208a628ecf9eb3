// Errors raised by native code. Every failure the addon can report is a da::Error carrying one of
// the documented codes; the N-API layer turns it into a JS DiffusionAttentionError with that
// `code`, so no C++ exception ever reaches the JS engine unconverted.
#pragma once

#include <stdexcept>
#include <string>

namespace da {

// Codes shared with ts/errors.ts (the list users can switch on).
enum class ErrorCode {
  Shape,        // E_SHAPE: a shape is invalid or does not match another operand
  DType,        // E_DTYPE: unknown dtype, or data whose element type does not match it
  Device,       // E_DEVICE: unknown device, or operands on different devices
  NoCuda,       // E_NO_CUDA: CUDA requested but this binary or machine cannot provide it
  Disposed,     // E_DISPOSED: a tensor was used after dispose()
  ModelFormat,  // E_MODEL_FORMAT: a weights or config file is malformed
  Resource,     // E_RESOURCE: an allocation failed or would exceed a limit
  Cuda,         // E_CUDA: a CUDA runtime call failed
  InvalidArgument,  // E_INVALID_ARGUMENT: an option is out of range or options conflict
  Internal,     // E_INTERNAL: a bug; the message says where
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) { throw Error(code, message); }

}  // namespace da
