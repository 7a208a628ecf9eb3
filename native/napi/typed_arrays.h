// Reading JS typed arrays without trusting their reported length. Node 20's V8 can report the
// length a typed array had before its buffer was detached (RELIABILITY.md, "Observations"; seen in
// optimised JavaScript, and N-API asks V8 for the same length). The element count is therefore
// clamped to what the buffer really holds, and a detached buffer holds nothing: no read past the
// memory whatever V8 reports.
#pragma once

#include <napi.h>

#include <cstddef>
#include <vector>

namespace da::napi {

// Elements of `a` that lie inside its (attached) buffer.
size_t readable_elements(const Napi::TypedArray& a);

// Start of `a`'s elements; only meaningful when readable_elements(a) > 0.
inline const uint8_t* typed_array_bytes(const Napi::TypedArray& a) {
  return static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
}

// A copy of `a`'s readable elements, converted to U.
template <typename U, typename T>
std::vector<U> copy_elements(const Napi::TypedArrayOf<T>& a) {
  const size_t n = readable_elements(a);
  const T* p = n ? reinterpret_cast<const T*>(typed_array_bytes(a)) : nullptr;
  return n ? std::vector<U>(p, p + n) : std::vector<U>();
}

}  // namespace da::napi
