// Run-time choice of the CPU SIMD path. One binary carries scalar, AVX2 and AVX-512 code (each
// compiled in its own translation unit with its own target flags) and picks the best path the CPU
// and OS support when the addon loads, so a prebuilt binary runs on any x86-64.
//
// DIFFUSION_ATTENTION_SIMD=scalar|avx2|avx512 caps the choice (it never raises it above what the
// CPU supports): useful to test every path on one machine and to compare their speed.
#pragma once

#include <string>
#include <vector>

namespace da::cpu {

enum class SimdLevel : int { Scalar = 0, Avx2 = 1, Avx512 = 2 };

SimdLevel simd_level();                     // the path in use
SimdLevel simd_supported();                 // the best path this CPU and OS support
const char* simd_name(SimdLevel level);
std::vector<std::string> simd_compiled();   // the paths built into this binary
std::string cpu_model_name();               // e.g. "AMD EPYC", empty when unknown

}  // namespace da::cpu
