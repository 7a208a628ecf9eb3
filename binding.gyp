# The CPU-only variant, built by node-gyp where CMake is missing (node tools/build-native.mjs --gyp).
# Sources come from native/sources.json, the list CMakeLists.txt reads too.
# package.json sets "gypfile": false, so npm never runs node-gyp on install by itself.
{
  "variables": {
    "da_version": "<!(node -p \"require('./package.json').version\")",
    "da_addon_api": "<!(node -p \"require('node-addon-api').include_dir\")",
  },
  "target_defaults": {
    "include_dirs": ["<(da_addon_api)"],
    "defines": [
      "NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED",
      "DA_VERSION=\"<(da_version)\"", "DA_SIMD_X86",
    ],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-fPIC", "-fvisibility=hidden", "-O3", "-Wall", "-Wextra"],
  },
  "targets": [
    {
      "target_name": "da_avx2",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('./native/sources.json').avx2.join(' ')\")"],
      "cflags_cc": ["-mavx2", "-mfma", "-mf16c"],
    },
    {
      "target_name": "da_avx512",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('./native/sources.json').avx512.join(' ')\")"],
      "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma", "-mf16c", "-Wno-maybe-uninitialized"],
    },
    {
      "target_name": "diffusion_attention",
      "dependencies": ["da_avx2", "da_avx512"],
      "sources": [
        "<!@(node -p \"require('./native/sources.json').common.join(' ')\")",
        "<!@(node -p \"require('./native/sources.json').cpu_only.join(' ')\")",
      ],
      "ldflags": ["-static-libstdc++", "-static-libgcc", "-Wl,--exclude-libs,ALL"],
    },
  ],
}
