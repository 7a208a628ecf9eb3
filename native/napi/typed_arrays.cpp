#include "typed_arrays.h"

#include <algorithm>

namespace da::napi {

size_t readable_elements(const Napi::TypedArray& a) {
  Napi::ArrayBuffer buffer = a.ArrayBuffer();  // not const: its accessors are not const-qualified
  if (buffer.IsDetached() || buffer.Data() == nullptr) return 0;
  const size_t bytes = buffer.ByteLength(), offset = a.ByteOffset(), element = a.ElementSize();
  if (offset >= bytes || element == 0) return 0;
  return std::min(a.ElementLength(), (bytes - offset) / element);
}

}  // namespace da::napi
