#!/usr/bin/env node
// `npm run prebuild`: builds both variants for release and copies them into prebuilds/, where the
// loader (ts/native/load.ts) finds them in an installed package:
//   prebuilds/<platform>-<arch>/diffusion-attention.glibc.napi.node   CPU variant (node-gyp-build)
//   prebuilds/<platform>-<arch>/diffusion-attention.napi.cuda.node    CUDA variant (static cudart)
// The CUDA build covers the release architecture list of CMakeLists.txt unless
// DIFFUSION_ATTENTION_CUDA_ARCHS says otherwise.
//
// `--check` only verifies that both binaries are present (run before publishing).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const outputs = [
  { from: 'build/Release/diffusion_attention.node', to: 'diffusion-attention.glibc.napi.node' },
  { from: 'build/Release/cuda/diffusion_attention_cuda.node', to: 'diffusion-attention.napi.cuda.node' },
];

if (process.argv.includes('--check')) {
  const missing = outputs.filter((o) => !fs.existsSync(path.join(dir, o.to)));
  if (missing.length) {
    console.error(`missing prebuilt binaries in ${dir}: ${missing.map((o) => o.to).join(', ')} (run npm run prebuild)`);
    process.exit(1);
  }
  console.log(`prebuilt binaries present in ${path.relative(root, dir)}`);
  process.exit(0);
}

const build = spawnSync(process.execPath, [path.join(root, 'tools', 'build-native.mjs')], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, DIFFUSION_ATTENTION_CUDA: 'on', DIFFUSION_ATTENTION_BUILD_TYPE: 'Release' },
});
if (build.status !== 0) process.exit(build.status ?? 1);

fs.mkdirSync(dir, { recursive: true });
for (const o of outputs) {
  const dest = path.join(dir, o.to);
  fs.copyFileSync(path.join(root, o.from), dest);
  spawnSync('strip', ['--strip-unneeded', dest], { stdio: 'inherit' });
  console.log(`${path.relative(root, dest)}  ${(fs.statSync(dest).size / 2 ** 20).toFixed(1)} MiB`);
}
