// ES module entry: re-exports the CommonJS build, so `import` and `require` share one instance
// (one native binding, one Tensor class).
export { AttentionCache, attention, DiffusionAttentionError, info, Tensor } from './index.js';
export type {
  AfmOptions, AttentionCapture, AttentionOptions, AttentionResult, AttentionStats, Device, DeviceInfo, DType, ErrorCode,
  GagOptions, GuidanceOptions, Info, MaskInput, NagOptions, PagOptions, TensorOptions,
} from './index.js';
