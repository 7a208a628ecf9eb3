// ES module entry: re-exports the CommonJS build, so `import` and `require` share one instance
// (one native binding, one Tensor class).
export { AttentionCache, attention, DEFAULT_MODEL, describeMachine, DiffusionAttentionError, info, loadPipeline, machineSummary, Tensor } from './index.js';
export type {
  AfmOptions, AttentionCapture, AttentionOptions, AttentionResult, AttentionStats, Device, DeviceInfo, DType, ErrorCode,
  AfmGenerateOptions, AttentionGuidanceOptions, AttentionLayerInfo, CaptureOptions, GagGenerateOptions, GeneratedImage, GenerateOptions,
  GenerateProgress, GenerateResult, LayerCapture, LayerSelection, Machine, NagGenerateOptions, PagGenerateOptions, TGateOptions, GagOptions, GuidanceOptions, Info, LoadOptions, MaskInput, NagOptions, PagOptions, Pipeline, PromptTokenizer,
  Placement, TensorOptions, TextEncoder, UNet, UNetControls, UNetLayerControls, UNetLayerResult, UNetResult, Vae,
} from './index.js';
