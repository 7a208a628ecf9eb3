/**
 * Finds and loads the native binary, once, on first use.
 *
 * Two variants exist (packaging.md §3: node-gyp-build cannot choose between them by tag, so the
 * choice is made here):
 * - CPU: resolved by node-gyp-build from `build/Release/diffusion_attention.node` (a source build)
 *   or `prebuilds/<platform>-<arch>/diffusion-attention.glibc.napi.node`.
 * - CUDA: `build/Release/cuda/diffusion_attention_cuda.node` or
 *   `prebuilds/<platform>-<arch>/diffusion-attention.napi.cuda.node`. node-gyp-build never picks it
 *   for the CPU variant: the CPU prebuild carries one more recognised tag (glibc), which it ranks
 *   first, and the local CUDA build sits in a subfolder it does not scan.
 *
 * The CUDA variant is tried first when an NVIDIA driver is present; if it cannot load or finds no
 * device, the CPU variant is used and `info().reason` says why in one line.
 * `DIFFUSION_ATTENTION_BACKEND=cpu|cuda` forces the choice; a forced backend that is unavailable
 * is an error (E_NO_CUDA), never a silent fallback.
 *
 * `DIFFUSION_ATTENTION_BINARY=<file>` loads that CPU binary instead of the resolved one (the
 * sanitizer builds of tools/sanitize.mjs use it); it implies the CPU backend.
 */
import fs from 'node:fs';
import path from 'node:path';
import nodeGypBuild from 'node-gyp-build';

import { DiffusionAttentionError } from '../errors.js';
import type { NativeBinding } from './binding.js';

/** The package root: this file is ts/native/load.ts or lib/native/load.js. */
export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
export const PACKAGE_VERSION: string = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')).version;

export type Backend = 'cpu' | 'cuda';

export interface LoadedBinding {
  binding: NativeBinding;
  backend: Backend;
  /** Absolute path of the loaded binary. */
  file: string;
  /** Why the backend is not CUDA (one line), when it is not. */
  reason?: string;
}

let loaded: LoadedBinding | undefined;

/** The loaded binding; loads it on first call. Throws E_LOAD, E_NO_CUDA or E_INVALID_ARGUMENT. */
export function loadNative(): LoadedBinding {
  loaded ??= load();
  return loaded;
}

function load(): LoadedBinding {
  const forced = (process.env.DIFFUSION_ATTENTION_BACKEND ?? '').trim().toLowerCase();
  if (!['', 'auto', 'cpu', 'cuda'].includes(forced)) {
    throw new DiffusionAttentionError('E_INVALID_ARGUMENT',
      `DIFFUSION_ATTENTION_BACKEND must be cpu, cuda or auto, not '${process.env.DIFFUSION_ATTENTION_BACKEND}'`);
  }
  if (process.env.DIFFUSION_ATTENTION_BINARY) return loadCpu('DIFFUSION_ATTENTION_BINARY names a CPU binary');
  if (forced === 'cpu') return loadCpu('DIFFUSION_ATTENTION_BACKEND=cpu');
  if (forced === 'cuda') {
    const cuda = tryCuda();
    if (typeof cuda === 'string') throw new DiffusionAttentionError('E_NO_CUDA', `DIFFUSION_ATTENTION_BACKEND=cuda, but ${cuda}`);
    return cuda;
  }
  const driver = nvidiaDriverPresent();
  if (!driver) return loadCpu('no CUDA device found: no NVIDIA driver on this machine');
  const cuda = tryCuda();
  return typeof cuda === 'string' ? loadCpu(cuda) : cuda;
}

function tuple(): string {
  return `${process.platform}-${process.arch}`;
}

/** Cheap check before loading the CUDA binary: the driver's kernel module or its user library. */
function nvidiaDriverPresent(): boolean {
  if (process.platform !== 'linux') return true;  // let the CUDA binary's own probe decide
  if (fs.existsSync('/proc/driver/nvidia/version')) return true;
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/nvidia/lib64',
  ];
  return dirs.some((d) => fs.existsSync(path.join(d, 'libcuda.so.1')));
}

function cudaCandidates(): string[] {
  const local = process.env.PREBUILDS_ONLY ? [] : [path.join(PACKAGE_ROOT, 'build', 'Release', 'cuda', 'diffusion_attention_cuda.node')];
  return [...local, path.join(PACKAGE_ROOT, 'prebuilds', tuple(), 'diffusion-attention.napi.cuda.node')];
}

/** The CUDA binding, or the one-line reason it cannot be used. */
function tryCuda(): LoadedBinding | string {
  const file = cudaCandidates().find((f) => fs.existsSync(f));
  if (!file) return `no CUDA binary for ${tuple()} in this install (CPU only)`;
  let binding: NativeBinding;
  try {
    binding = require(file) as NativeBinding;
  } catch (err) {
    return `the CUDA binary failed to load: ${firstLine(err)}`;
  }
  checkVersion(binding, file);
  const cuda = binding.info().cuda;
  if (!cuda.available) return cuda.reason;
  return { binding, backend: 'cuda', file };
}

function loadCpu(reason: string): LoadedBinding {
  let file: string;
  try {
    file = process.env.DIFFUSION_ATTENTION_BINARY ? path.resolve(process.env.DIFFUSION_ATTENTION_BINARY) : nodeGypBuild.resolve(PACKAGE_ROOT);
  } catch (err) {
    throw loadError(`no binary found: ${firstLine(err)}`);
  }
  let binding: NativeBinding;
  try {
    binding = require(file) as NativeBinding;
  } catch (err) {
    throw loadError(`${path.relative(PACKAGE_ROOT, file)} failed to load: ${firstLine(err)}`, err);
  }
  checkVersion(binding, file);
  return { binding, backend: 'cpu', file, reason };
}

/** A binary from another version of the package (a stale local build) must not be used. */
function checkVersion(binding: NativeBinding, file: string): void {
  const version = binding.info().version;
  if (version !== PACKAGE_VERSION) {
    throw new DiffusionAttentionError('E_LOAD',
      `${file} was built for diffusion-attention ${version}, but this is ${PACKAGE_VERSION}: ` +
      'rebuild it (npm run build:native) or delete it to use the prebuilt binaries');
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

/** A load failure that explains itself: what was tried and what to do (after sharp's loader). */
function loadError(what: string, cause?: unknown): DiffusionAttentionError {
  const lines = [
    `diffusion-attention could not load its native binary for ${tuple()} (Node ${process.version}, N-API ${process.versions.napi}): ${what}`,
    'Possible fixes:',
    '- Prebuilt binaries ship for linux-x64 with glibc 2.36 or newer; elsewhere build from source:',
    '  npm explore diffusion-attention -- npm install && npm explore diffusion-attention -- npm run build:native',
  ];
  const msg = cause instanceof Error ? cause.message : '';
  if (/GLIBC|CXXABI/.test(msg)) lines.push('- This system\'s C library is older than the binary needs: build from source (above).');
  if (/ERR_DLOPEN_DISABLED/.test(String((cause as { code?: string })?.code))) {
    lines.push('- Node was started with --no-addons: native addons are disabled.');
  }
  return new DiffusionAttentionError('E_LOAD', lines.join('\n'), { cause });
}
