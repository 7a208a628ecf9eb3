/**
 * diffusion-attention: text-to-image diffusion in Node.js with fused attention kernels for AFM,
 * T-GATE and attention-space guidance, on CPU and CUDA. See DESIGN.md for the architecture.
 */
export { DiffusionAttentionError, type ErrorCode } from './errors.js';
export { info, type Info, type DeviceInfo } from './info.js';
export { describeMachine, machineSummary, type Machine } from './machine.js';
export { Tensor, type DType, type Device, type TensorOptions } from './tensor.js';
export { attention } from './attention/index.js';
export { AttentionCache } from './attention/cache.js';
export type {
  AfmOptions, AttentionCapture, AttentionOptions, AttentionResult, AttentionStats, GagOptions, GuidanceOptions, MaskInput,
  NagOptions, PagOptions,
} from './attention/types.js';
export { loadPipeline, DEFAULT_MODEL, type LoadOptions, type Pipeline } from './pipeline/load.js';
export type { GenerateResult, LayerCapture } from './pipeline/generate.js';
export type { GeneratedImage } from './pipeline/image.js';
export type {
  AfmGenerateOptions, AttentionGuidanceOptions, CaptureOptions, GagGenerateOptions, GenerateOptions, GenerateProgress, LayerSelection,
  NagGenerateOptions, PagGenerateOptions, TGateOptions,
} from './pipeline/options.js';
export type { AttentionLayerInfo, UNet, UNetControls, UNetLayerControls, UNetLayerResult, UNetResult } from './models/unet.js';
export type { TextEncoder } from './models/text-encoder.js';
export type { Vae } from './models/vae.js';
export type { Placement } from './models/placement.js';
export type { PromptTokenizer } from './models/tokenizer.js';
