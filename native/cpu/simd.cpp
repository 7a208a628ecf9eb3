#include "simd.h"

#include <cstdlib>
#include <cstring>
#include <fstream>

namespace da::cpu {

const char* simd_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::Scalar: return "scalar";
    case SimdLevel::Avx2: return "avx2";
    case SimdLevel::Avx512: return "avx512";
  }
  return "scalar";
}

SimdLevel simd_supported() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // __builtin_cpu_supports also checks that the OS saves the wider registers (XGETBV).
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("f16c")) {
    return SimdLevel::Avx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
    return SimdLevel::Avx2;
  }
#endif
  return SimdLevel::Scalar;
}

std::vector<std::string> simd_compiled() {
#if defined(DA_SIMD_X86)
  return {"scalar", "avx2", "avx512"};
#else
  return {"scalar"};
#endif
}

SimdLevel simd_level() {
  static const SimdLevel level = [] {
    SimdLevel best = simd_supported();
#if !defined(DA_SIMD_X86)
    best = SimdLevel::Scalar;
#endif
    const char* cap = std::getenv("DIFFUSION_ATTENTION_SIMD");
    if (cap == nullptr) return best;
    SimdLevel wanted = best;
    if (std::strcmp(cap, "scalar") == 0) wanted = SimdLevel::Scalar;
    if (std::strcmp(cap, "avx2") == 0) wanted = SimdLevel::Avx2;
    return wanted < best ? wanted : best;
  }();
  return level;
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "";
}

}  // namespace da::cpu
