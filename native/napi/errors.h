// Conversion of native failures into JS errors. A da::Error keeps its code (E_SHAPE, ...); any
// other C++ exception becomes E_INTERNAL. The TS layer (ts/errors.ts) re-raises these as
// DiffusionAttentionError with the caller's stack.
#pragma once

#include <napi.h>

#include <exception>
#include <string>

#include "../core/error.h"

namespace da::napi {

// A JS Error with `code` set, ready to throw or to reject a promise with.
Napi::Error make_error(Napi::Env env, const char* code, const std::string& message);

// Runs `fn` and rethrows any C++ exception as a JS error. For synchronous entry points.
template <typename Fn>
auto guard(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Error& e) {
    throw make_error(env, error_code_name(e.code()), e.what());
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw make_error(env, "E_RESOURCE", "out of memory");
  } catch (const std::exception& e) {
    throw make_error(env, "E_INTERNAL", e.what());
  }
}

}  // namespace da::napi
