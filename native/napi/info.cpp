#include "info.h"

#include <thread>

#include "../core/backend.h"
#include "../cpu/simd.h"

#ifndef DA_VERSION
#error "DA_VERSION must be defined by the build (package.json version)"
#endif

namespace da::napi {

namespace {

Napi::Array strings(Napi::Env env, const std::vector<std::string>& items) {
  Napi::Array arr = Napi::Array::New(env, items.size());
  for (uint32_t i = 0; i < items.size(); ++i) arr.Set(i, items[i]);
  return arr;
}

std::string compiler() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown";
#endif
}

}  // namespace

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  const CudaStatus& cuda = cuda_status();
  out.Set("version", DA_VERSION);
  out.Set("variant", cuda.compiled ? "cuda" : "cpu");
  out.Set("napiVersion", NAPI_VERSION);
  out.Set("compiler", compiler());
#ifdef NDEBUG
  out.Set("buildType", "release");
#else
  out.Set("buildType", "debug");
#endif

  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("model", cpu::cpu_model_name());
  cpu.Set("threads", std::thread::hardware_concurrency());
  cpu.Set("simdCompiled", strings(env, cpu::simd_compiled()));
  cpu.Set("simdSupported", cpu::simd_name(cpu::simd_supported()));
  cpu.Set("simd", cpu::simd_name(cpu::simd_level()));
  out.Set("cpu", cpu);

  Napi::Object c = Napi::Object::New(env);
  c.Set("compiled", cuda.compiled);
  c.Set("available", cuda.available);
  c.Set("reason", cuda.reason);
  c.Set("runtimeVersion", cuda.runtime_version);
  c.Set("driverVersion", cuda.driver_version);
  c.Set("archs", strings(env, cuda.archs));
  Napi::Array devices = Napi::Array::New(env, cuda.devices.size());
  for (uint32_t i = 0; i < cuda.devices.size(); ++i) {
    const CudaDevice& d = cuda.devices[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", d.index);
    o.Set("name", d.name);
    o.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
    o.Set("totalMemory", static_cast<double>(d.total_memory));
    o.Set("freeMemory", static_cast<double>(d.free_memory));
    o.Set("multiprocessors", d.multiprocessors);
    o.Set("kernels", strings(env, d.kernels));
    devices.Set(i, o);
  }
  c.Set("devices", devices);
  out.Set("cuda", c);
  return out;
}

}  // namespace da::napi
