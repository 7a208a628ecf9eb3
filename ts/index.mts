// ES module entry: re-exports the CommonJS build, so `import` and `require` share one instance
// (one native binding, one Tensor class).
export { DiffusionAttentionError, info, Tensor } from './index.js';
export type { ErrorCode, Info, DeviceInfo, DType, Device, TensorOptions } from './index.js';
