import { callNative } from './errors.js';
import { loadNative, type Backend } from './native/load.js';

/** A compute device this process can use. */
export type DeviceInfo =
  | {
      type: 'cpu';
      /** CPU model name, as /proc/cpuinfo reports it (empty when unknown). */
      name: string;
      /** Hardware threads available. */
      threads: number;
      /** The SIMD path chosen at run time: 'avx512', 'avx2' or 'scalar'. */
      simd: string;
    }
  | {
      type: 'cuda';
      /** CUDA device ordinal. */
      index: number;
      name: string;
      /** Compute capability, e.g. '9.0' for H100/H200. */
      computeCapability: string;
      /** Device memory in bytes. */
      totalMemory: number;
      /** Free device memory in bytes when the device was probed. */
      freeMemory: number;
      multiprocessors: number;
      /** The kernels chosen on this device, one line per family (GEMM/convolution, attention, memory pool). */
      kernels: string[];
    };

/** What {@link info} returns. */
export interface Info {
  /** The backend that tensors on the default device and model calls use. */
  backend: Backend;
  /** Why the backend is not CUDA, in one line (absent when it is CUDA). */
  reason?: string;
  /** Package version (the native binary is checked to match it). */
  version: string;
  /** Absolute path of the loaded native binary. */
  binary: string;
  /** The CPU first, then every CUDA device found. */
  devices: DeviceInfo[];
  build: {
    /** Which binary variant is loaded: 'cuda' contains the CPU backend as well. */
    variant: 'cpu' | 'cuda';
    /** Whether the loaded binary contains the CUDA backend. */
    cuda: boolean;
    /** CUDA runtime version compiled in (static), e.g. '13.0'; absent for the CPU variant. */
    cudaVersion?: string;
    /** GPU code compiled in: 'sm_XY' machine code and 'compute_XY' PTX. */
    cudaArchs: string[];
    /** CPU SIMD paths compiled in; the one used is in `devices[0].simd`. */
    simd: string[];
    napiVersion: number;
    compiler: string;
    buildType: 'release' | 'debug';
  };
}

function cudaVersion(v: number): string {
  return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}

/**
 * Describes the loaded native binary and the devices it found. Loads the binary on first use.
 *
 * @throws DiffusionAttentionError `E_LOAD` when no binary can be loaded; `E_NO_CUDA` when
 *   `DIFFUSION_ATTENTION_BACKEND=cuda` is set but CUDA is unavailable.
 */
export function info(): Info {
  const { binding, backend, file, reason } = loadNative();
  const n = callNative(() => binding.info());
  const devices: DeviceInfo[] = [
    { type: 'cpu', name: n.cpu.model, threads: n.cpu.threads, simd: n.cpu.simd },
    ...n.cuda.devices.map((d) => ({ type: 'cuda' as const, ...d })),
  ];
  return {
    backend,
    ...(reason === undefined ? {} : { reason }),
    version: n.version,
    binary: file,
    devices,
    build: {
      variant: n.variant,
      cuda: n.cuda.compiled,
      ...(n.cuda.compiled ? { cudaVersion: cudaVersion(n.cuda.runtimeVersion) } : {}),
      cudaArchs: n.cuda.archs,
      simd: n.cpu.simdCompiled,
      napiVersion: n.napiVersion,
      compiler: n.compiler,
      buildType: n.buildType,
    },
  };
}
