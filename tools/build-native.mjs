#!/usr/bin/env node
// Builds the native addon from source: `npm run build:native` (also run by `npm install` in a clone).
//
// With CMake available it runs cmake-js: the CPU variant always and the CUDA variant when nvcc is
// found. Without CMake (or with --gyp) it falls back to node-gyp and binding.gyp: CPU variant only.
//
// Environment:
//   DIFFUSION_ATTENTION_CUDA=on|off|auto    build the CUDA variant (default auto: when nvcc is found)
//   DIFFUSION_ATTENTION_CUDA_ARCHS="75-real" CUDA architectures (default 'release': the list in
//                                            CMakeLists.txt, sm_75 to sm_120 plus PTX)
//   DIFFUSION_ATTENTION_BUILD_TYPE=Release|Debug|RelWithDebInfo
//   DIFFUSION_ATTENTION_SANITIZE=address,undefined   a sanitizer test build of the CPU variant, into
//                                            build-sanitize/ (tools/sanitize.mjs runs it); needs CMake
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));

function run(cmd, args) {
  console.log(`> ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error) throw r.error;
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function has(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

function resolveBin(pkg, bin) {
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), bin);
  } catch {
    console.error(`${pkg} is not installed: building from source needs the package's devDependencies (npm install).`);
    process.exit(1);
  }
}

const cuda = (process.env.DIFFUSION_ATTENTION_CUDA ?? 'auto').toUpperCase();
if (!['ON', 'OFF', 'AUTO'].includes(cuda)) {
  console.error(`DIFFUSION_ATTENTION_CUDA must be on, off or auto, not '${process.env.DIFFUSION_ATTENTION_CUDA}'`);
  process.exit(2);
}
const sanitize = process.env.DIFFUSION_ATTENTION_SANITIZE ?? '';
if (!/^[a-z,]*$/.test(sanitize)) {
  console.error(`DIFFUSION_ATTENTION_SANITIZE must be a -fsanitize= list such as address,undefined, not '${sanitize}'`);
  process.exit(2);
}
const buildType = process.env.DIFFUSION_ATTENTION_BUILD_TYPE ?? (sanitize ? 'RelWithDebInfo' : 'Release');
const useGyp = process.argv.includes('--gyp') || !has('cmake');
if (sanitize && useGyp) {
  console.error('DIFFUSION_ATTENTION_SANITIZE needs CMake');
  process.exit(1);
}

if (useGyp) {
  if (cuda === 'ON') {
    console.error('DIFFUSION_ATTENTION_CUDA=on needs CMake (the node-gyp fallback builds the CPU variant only)');
    process.exit(1);
  }
  console.log('Building the CPU variant with node-gyp (binding.gyp)');
  const debug = buildType === 'Debug' ? ['--debug'] : [];
  // Use the headers of the running Node when it ships them, rather than downloading a copy.
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const nodedir = !process.env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))
    ? [`--nodedir=${prefix}`] : [];
  run(process.execPath, [resolveBin('node-gyp', 'bin/node-gyp.js'), 'rebuild', `--jobs=${os.availableParallelism()}`, ...nodedir, ...debug]);
} else {
  const cmakeJs = resolveBin('cmake-js', 'bin/cmake-js');
  const common = ['--out', sanitize ? 'build-sanitize' : 'build', '--config', buildType];
  // Configure every time (cheap with a warm cache): `cmake-js build` alone skips configuring an
  // existing build folder, and the cache would keep the previous options.
  run(process.execPath, [cmakeJs, 'configure', ...common, `--CDDA_CUDA=${sanitize ? 'OFF' : cuda}`,
    `--CDDA_CUDA_ARCHS=${process.env.DIFFUSION_ATTENTION_CUDA_ARCHS || 'release'}`, `--CDDA_SANITIZE=${sanitize}`]);
  run(process.execPath, [cmakeJs, 'build', ...common, '--parallel', String(os.availableParallelism())]);
}
