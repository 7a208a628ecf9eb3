/** Types of the native addon's surface (native/napi). Internal: users see ts/index.ts. */

export type NativeDType = 'float32' | 'float16' | 'bfloat16';
export type NativeDevice = 'cpu' | 'cuda';

/** The native tensor object (native/napi/tensor_wrap.h). */
export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: NativeDType;
  readonly device: NativeDevice;
  readonly disposed: boolean;
  toHost(): Promise<ArrayBuffer>;
  to(dtype: NativeDType, device: NativeDevice): Promise<NativeTensor>;
  dispose(): void;
}

export interface NativeTensorClass {
  fromHost(data: Float32Array | Uint16Array, shape: number[], dtype: NativeDType, device: NativeDevice): NativeTensor;
}

/** What native/napi/info.cpp returns. */
export interface NativeInfo {
  version: string;
  variant: 'cpu' | 'cuda';
  napiVersion: number;
  compiler: string;
  buildType: 'release' | 'debug';
  cpu: { model: string; threads: number; simdCompiled: string[]; simdSupported: string; simd: string };
  cuda: {
    compiled: boolean;
    available: boolean;
    reason: string;
    runtimeVersion: number;
    driverVersion: number;
    archs: string[];
    devices: Array<{
      index: number;
      name: string;
      computeCapability: string;
      totalMemory: number;
      freeMemory: number;
      multiprocessors: number;
      kernels: string[];
    }>;
  };
}

/** The T-GATE cache handle (native/napi/cache_wrap.h). */
export interface NativeAttentionCache {
  readonly recorded: boolean;
  readonly shape: number[] | null;
  clear(): void;
}

/** What native/napi/attention_binding.cpp resolves with. */
export interface NativeAttentionResult {
  out: NativeTensor;
  entropy: number;
  gainLow: number;
  gainHigh: number;
  concentration?: Float32Array;
  spectrum?: Float32Array;
}

/** A mapped safetensors file (native/napi/weights_binding.h). */
export interface NativeWeightFile {
  readonly size: number;
  load(offset: number, nbytes: number, fileDtype: string, shape: number[], compute: NativeDType): Promise<NativeTensor>;
}

/** CLIPTextModel (native/napi/models_binding.h). */
export interface NativeTextEncoder {
  encodeIds(ids: Int32Array, B: number, T: number, clipSkip: number): Promise<NativeTensor>;
  dispose(): void;
}

/** AutoencoderKL (native/napi/models_binding.h). */
export interface NativeVae {
  decode(latents: NativeTensor): Promise<NativeTensor>;
  encode(images: NativeTensor): Promise<[NativeTensor, NativeTensor]>;
  dispose(): void;
}

/** One attention module of a UNet (native/models/unet.h AttentionLayerInfo). */
export interface NativeAttentionLayer {
  name: string;
  cross: boolean;
  heads: number;
  headDim: number;
  level: number;
}

/** What a UNet layer that ran AFM or capture reports (native/models/unet_controls.h LayerReport). */
export interface NativeLayerReport {
  name: string;
  entropy: number;
  gainLow: number;
  gainHigh: number;
  grid: [number, number];
  concentration?: Float32Array;
  spectrum?: Float32Array;
}

/** UNet2DConditionModel (native/napi/models_binding.h). */
export interface NativeUNet {
  attentionLayers(): NativeAttentionLayer[];
  forward(sample: NativeTensor, timesteps: Float32Array, context: NativeTensor, controls?: object): Promise<{ out: NativeTensor; layers: NativeLayerReport[] }>;
  setCudaGraphs(enabled: boolean): void;
  cudaGraphs(): { enabled: boolean; replays: number };
  dispose(): void;
}

export interface NativeBinding {
  info(): NativeInfo;
  NativeTensor: NativeTensorClass;
  NativeAttentionCache: new () => NativeAttentionCache;
  NativeWeightFile: new (path: string) => NativeWeightFile;
  NativeTextEncoder: new (config: object, weights: Record<string, NativeTensor>) => NativeTextEncoder;
  NativeVae: new (config: object, weights: Record<string, NativeTensor>) => NativeVae;
  NativeUNet: new (config: object, weights: Record<string, NativeTensor>) => NativeUNet;
  attention(q: NativeTensor, k: NativeTensor | null, v: NativeTensor | null, options: object): Promise<NativeAttentionResult>;
  /** The model ops by name, for tests and benchmarks only (native/napi/ops_binding.h lists names and params). */
  runOp(name: string, inputs: NativeTensor[], params: object): Promise<NativeTensor>;
  /**
   * Tests only: the allocation `after` allocations from now fails once with E_RESOURCE (negative:
   * disarm). Returns whether a previous arming was still pending (native/core/fault_injection.h).
   */
  simulateAllocationFailure(after: number): boolean;
}
