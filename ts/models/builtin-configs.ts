/**
 * Configs for original single-file (LDM) SD 1.x / 2.x checkpoints opened without a diffusers folder.
 *
 * A single file carries weights but no configs. What its tensors determine is read from their names
 * and shapes (reference/sd-layout.md §7, §8); what they cannot tell (head counts, group-norm groups,
 * activations, the VAE's scaling factor, sample size, the noise schedule) comes from the published
 * configs of the model family the structure identifies:
 * - SD 1.x (OpenAI CLIP ViT-L/14 text encoder under `cond_stage_model.transformer.`, 1x1-conv
 *   transformer projections): runwayml/stable-diffusion-v1-5's unet / vae / text_encoder / scheduler
 *   configs;
 * - SD 2.x (OpenCLIP ViT-H/14 text encoder under `cond_stage_model.model.`, Linear projections):
 *   stabilityai/stable-diffusion-2-1 (768-v, v_prediction), or stabilityai/stable-diffusion-2-1-base
 *   (512, epsilon) when `predictionType: 'epsilon'` is asked for.
 *
 * From the shapes: UNet in/out channels, block_out_channels (each level's resnets), layers_per_block
 * and the levels with cross-attention (from the `input_blocks` / `output_blocks` numbering), the
 * cross-attention width (attn2.to_k's input), conv vs Linear projections (proj_in's rank); VAE
 * channels, levels, layers and latent channels; text encoder width, MLP width, vocabulary, positions
 * and layer count (SD 2.x: the file holds OpenCLIP's 24 layers, SD conditions on the penultimate one,
 * so the config says one layer fewer, like the diffusers folders' 23; see test/fixtures/README.md).
 *
 * From the family (the rules of the original LDM configs, which diffusers' single-file loader also
 * applies): UNet heads, SD 1.x `num_heads: 8` (CompVis v1-inference.yaml; diffusers
 * `attention_head_dim: 8`), SD 2.x `num_head_channels: 64` (Stability-AI v2-inference(-v).yaml), so
 * channels / 64 heads per level ([5, 10, 20, 20] for SD 2.x's widths); text encoder heads 64 wide
 * (OpenAI CLIP's `build_model`: `transformer_heads = transformer_width // 64`; OpenCLIP ViT-H/14: width
 * 1024, 16 heads); norm_num_groups 32; the rest as published.
 *
 * Prediction type: a single file cannot tell SD 2.x's 768-v model from the 512 base model. diffusers'
 * converter guesses v_prediction unless the checkpoint's `global_step` is 875000 (2.x base); safetensors
 * files keep no global_step, so SD 2.x defaults to v_prediction (the 2.1 config) and `predictionType`
 * overrides it.
 *
 * Nothing is guessed: a structure that is not SD 1.x / 2.x (SDXL, inpainting or other extra input
 * channels, class embeddings, deeper transformer blocks, no mid-block attention, inconsistent shapes)
 * is `E_MODEL_FORMAT` naming the tensor or value; so is a family value that does not fit the file's
 * sizes (e.g. 8 heads on 12 channels), see {@link familyMismatches}.
 */
import { DiffusionAttentionError } from '../errors.js';
import type { WeightFile } from '../weights/weight-file.js';

export type SdFamily = 'sd1' | 'sd2';
export type PredictionType = 'epsilon' | 'v_prediction';
export type ConfigJson = Record<string, unknown>;

export interface PublishedConfigs {
  unet: ConfigJson;
  vae: ConfigJson;
  textEncoder: ConfigJson;
  scheduler: ConfigJson;
}

const DOWN = ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'];
const UP = ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'];
const UNET_COMMON: ConfigJson = {
  _class_name: 'UNet2DConditionModel', act_fn: 'silu', block_out_channels: [320, 640, 1280, 1280], center_input_sample: false,
  down_block_types: DOWN, downsample_padding: 1, flip_sin_to_cos: true, freq_shift: 0, in_channels: 4, layers_per_block: 2,
  mid_block_scale_factor: 1, norm_eps: 1e-5, norm_num_groups: 32, out_channels: 4, up_block_types: UP,
};
const vae = (sampleSize: number): ConfigJson => ({
  _class_name: 'AutoencoderKL', act_fn: 'silu', block_out_channels: [128, 256, 512, 512], down_block_types: Array(4).fill('DownEncoderBlock2D'),
  in_channels: 3, latent_channels: 4, layers_per_block: 2, norm_num_groups: 32, out_channels: 3, sample_size: sampleSize,
  scaling_factor: 0.18215, up_block_types: Array(4).fill('UpDecoderBlock2D'),
});
const text = (hiddenAct: string, hidden: number, intermediate: number, heads: number, layers: number): ConfigJson => ({
  architectures: ['CLIPTextModel'], hidden_act: hiddenAct, hidden_size: hidden, intermediate_size: intermediate, layer_norm_eps: 1e-5,
  max_position_embeddings: 77, model_type: 'clip_text_model', num_attention_heads: heads, num_hidden_layers: layers, vocab_size: 49408,
});
const BETAS: ConfigJson = {
  beta_end: 0.012, beta_schedule: 'scaled_linear', beta_start: 0.00085, clip_sample: false, num_train_timesteps: 1000,
  set_alpha_to_one: false, skip_prk_steps: true, steps_offset: 1, trained_betas: null,
};

/**
 * The published diffusers configs (model-defining fields; version stamps left out) of
 * runwayml/stable-diffusion-v1-5, stabilityai/stable-diffusion-2-1 and stable-diffusion-2-1-base.
 */
export const PUBLISHED: Readonly<Record<'sd15' | 'sd21' | 'sd21Base', PublishedConfigs>> = {
  sd15: {
    unet: { ...UNET_COMMON, attention_head_dim: 8, cross_attention_dim: 768, sample_size: 64, upcast_attention: false, use_linear_projection: false },
    vae: vae(512),
    textEncoder: text('quick_gelu', 768, 3072, 12, 12),
    scheduler: { _class_name: 'PNDMScheduler', ...BETAS, prediction_type: 'epsilon' },
  },
  sd21: {
    unet: { ...UNET_COMMON, attention_head_dim: [5, 10, 20, 20], cross_attention_dim: 1024, sample_size: 96, upcast_attention: true, use_linear_projection: true },
    vae: vae(768),
    textEncoder: text('gelu', 1024, 4096, 16, 23),
    scheduler: { _class_name: 'DDIMScheduler', ...BETAS, prediction_type: 'v_prediction' },
  },
  sd21Base: {
    unet: { ...UNET_COMMON, attention_head_dim: [5, 10, 20, 20], cross_attention_dim: 1024, sample_size: 64, upcast_attention: false, use_linear_projection: true },
    vae: vae(768),
    textEncoder: text('gelu', 1024, 4096, 16, 23),
    scheduler: { _class_name: 'PNDMScheduler', ...BETAS, prediction_type: 'epsilon' },
  },
};

/** Config fields that come from the family's published config (or its rule), not from the file. */
export const FAMILY_FIELDS = {
  unet: ['_class_name', 'act_fn', 'attention_head_dim', 'center_input_sample', 'downsample_padding', 'flip_sin_to_cos', 'freq_shift',
    'mid_block_scale_factor', 'norm_eps', 'norm_num_groups', 'sample_size', 'upcast_attention'],
  vae: ['_class_name', 'act_fn', 'norm_num_groups', 'sample_size', 'scaling_factor'],
  textEncoder: ['architectures', 'hidden_act', 'layer_norm_eps', 'model_type', 'num_attention_heads'],
} as const;

/** UNet heads are this wide in SD 2.x (`num_head_channels: 64`), text-encoder heads in both families. */
export const HEAD_WIDTH = 64;

export interface SingleFileDescription {
  family: SdFamily;
  /** 'SD 1.x' or 'SD 2.x', for messages. */
  label: string;
  unet: ConfigJson;
  vae: ConfigJson | null;
  textEncoder: ConfigJson | null;
  scheduler: ConfigJson;
  /** Text encoder layers stored in the file (0 without a text encoder); SD 2.x configs use one fewer. */
  textLayersInFile: number;
}

const UNET = 'model.diffusion_model.';
const VAE = 'first_stage_model.';
const CLIP = 'cond_stage_model.transformer.text_model.';
const OPEN_CLIP = 'cond_stage_model.model.';

function formatError(file: string, message: string): DiffusionAttentionError {
  return new DiffusionAttentionError('E_MODEL_FORMAT', `${file}: ${message}`);
}

/** Sorted distinct integers captured by `re` (group 1) over `names`. */
function indices(names: readonly string[], re: RegExp): number[] {
  const set = new Set<number>();
  for (const n of names) {
    const m = re.exec(n);
    if (m) set.add(Number(m[1]));
  }
  return [...set].sort((a, b) => a - b);
}

function isRange(xs: readonly number[], count: number): boolean {
  return xs.length === count && xs.every((x, i) => x === i);
}

class Reader {
  readonly names: string[];
  private readonly set: Set<string>;

  constructor(readonly file: WeightFile) {
    this.names = file.names();
    this.set = new Set(this.names);
  }

  has(name: string): boolean {
    return this.set.has(name);
  }

  hasPrefix(prefix: string): boolean {
    return this.names.some((n) => n.startsWith(prefix));
  }

  fail(message: string): never {
    throw formatError(this.file.path, message);
  }

  /** Shape of `name`, which must exist and have `rank` dimensions. */
  shape(name: string, rank?: number | number[]): number[] {
    const e = this.file.entry(name);
    if (!e) this.fail(`missing tensor ${name}`);
    const ranks = rank === undefined ? undefined : Array.isArray(rank) ? rank : [rank];
    if (ranks && !ranks.includes(e.shape.length)) this.fail(`${name} has shape [${e.shape.join(', ')}], expected rank ${ranks.join(' or ')}`);
    return e.shape;
  }

  /** `shape(name)[dim]`, which must equal `want` when given. */
  dim(name: string, dim: number, want?: number, what?: string): number {
    const v = this.shape(name)[dim]!;
    if (want !== undefined && v !== want) this.fail(`${name} has ${v} ${what ?? `entries in dimension ${dim}`}, expected ${want}`);
    return v;
  }
}

interface UNetStructure {
  inChannels: number;
  outChannels: number;
  blockOutChannels: number[];
  layersPerBlock: number;
  downBlockTypes: string[];
  upBlockTypes: string[];
  crossAttentionDim: number;
  linearProjection: boolean;
}

function readUNet(r: Reader): UNetStructure {
  const p = UNET;
  const unetNames = r.names.filter((n) => n.startsWith(p)).map((n) => n.slice(p.length));
  if (r.hasPrefix('conditioner.embedders.')) r.fail('an SDXL checkpoint (conditioner.embedders.*): only SD 1.x / 2.x are supported');
  if (unetNames.length === 0) r.fail(`no UNet weights (${p}*): not an original SD 1.x / 2.x checkpoint`);
  if (unetNames.some((n) => n.startsWith('label_emb.'))) r.fail(`${p}label_emb.*: a class-conditioned UNet (SDXL, upscaler, unCLIP), not supported`);

  const convIn = r.shape(`${p}input_blocks.0.0.weight`, 4);
  const [c0, inChannels] = [convIn[0]!, convIn[1]!];
  if (inChannels !== 4) {
    const kind = inChannels === 9 ? ' (an inpainting UNet)' : inChannels === 8 ? ' (an instruct-pix2pix UNet)' : inChannels === 5 ? ' (a depth-to-image UNet)' : '';
    r.fail(`${p}input_blocks.0.0.weight has ${inChannels} input channels${kind}; only text-to-image UNets with 4 latent channels are supported`);
  }
  r.dim(`${p}time_embed.0.weight`, 0, 4 * c0, 'rows (time embedding width = 4 x block_out_channels[0])');
  r.dim(`${p}time_embed.0.weight`, 1, c0, 'columns (sinusoid width = block_out_channels[0])');

  // input_blocks: 0 = conv_in, then per level `n` resnet(+attention) entries and (except last) one downsampler.
  const inputs = indices(unetNames, /^input_blocks\.(\d+)\./);
  const ops = indices(unetNames, /^input_blocks\.(\d+)\.0\.op\./);
  const n = ops.length > 0 ? ops[0]! - 1 : inputs[inputs.length - 1]!;
  const levels = ops.length + 1;
  if (n < 1 || !isRange(inputs, (n + 1) * levels) || !ops.every((k, i) => k === (n + 1) * (i + 1))) {
    r.fail(`${p}input_blocks.* are not numbered as an SD UNet's (downsamplers at ${ops.join(', ') || 'none'}, last block ${inputs[inputs.length - 1]})`);
  }
  const hasAttention = (block: string) => r.has(`${p}${block}.1.proj_in.weight`);
  const blockOutChannels: number[] = [];
  const downBlockTypes: string[] = [];
  for (let i = 0; i < levels; i++) {
    const blocks = Array.from({ length: n }, (_, j) => `input_blocks.${(n + 1) * i + j + 1}`);
    const ch = r.dim(`${p}${blocks[0]}.0.out_layers.3.weight`, 0);
    blocks.forEach((b) => r.dim(`${p}${b}.0.out_layers.3.weight`, 0, ch, 'output channels (one width per level)'));
    const cross = blocks.map(hasAttention);
    if (cross.some((x) => x !== cross[0])) r.fail(`level ${i} of ${p}input_blocks mixes blocks with and without attention`);
    blockOutChannels.push(ch);
    downBlockTypes.push(cross[0] ? 'CrossAttnDownBlock2D' : 'DownBlock2D');
  }
  if (blockOutChannels[0] !== c0) r.fail(`${p}input_blocks.0.0.weight has ${c0} output channels but the first level is ${blockOutChannels[0]} wide`);

  // output_blocks: per level n + 1 resnet(+attention) entries, levels in reverse order.
  const outputs = indices(unetNames, /^output_blocks\.(\d+)\./);
  if (!isRange(outputs, (n + 1) * levels)) r.fail(`${p}output_blocks.* do not form ${levels} levels of ${n + 1} blocks`);
  const upBlockTypes: string[] = [];
  for (let i = 0; i < levels; i++) {
    const cross = Array.from({ length: n + 1 }, (_, j) => hasAttention(`output_blocks.${(n + 1) * i + j}`));
    if (cross.some((x) => x !== cross[0])) r.fail(`level ${i} of ${p}output_blocks mixes blocks with and without attention`);
    upBlockTypes.push(cross[0] ? 'CrossAttnUpBlock2D' : 'UpBlock2D');
    r.dim(`${p}output_blocks.${(n + 1) * i}.0.out_layers.3.weight`, 0, blockOutChannels[levels - 1 - i], 'output channels');
  }
  if (!hasAttention('middle_block')) r.fail(`no ${p}middle_block.1 (mid-block attention): a distilled or pruned UNet, not supported`);
  if (unetNames.some((x) => /\.transformer_blocks\.[1-9]\d*\./.test(x))) {
    r.fail(`${p}*.transformer_blocks.1.*: more than one transformer block per attention (SDXL-style), not supported`);
  }

  const attentions = unetNames.filter((x) => x.endsWith('.proj_in.weight')).map((x) => x.slice(0, -'proj_in.weight'.length));
  const projRank = r.shape(`${p}middle_block.1.proj_in.weight`, [2, 4]).length;
  const crossAttentionDim = r.dim(`${p}middle_block.1.transformer_blocks.0.attn2.to_k.weight`, 1);
  for (const a of attentions) {
    if (r.shape(`${p}${a}proj_in.weight`).length !== projRank) r.fail(`${p}${a}proj_in.weight: projections are not all ${projRank === 2 ? 'Linear' : '1x1 convolutions'}`);
    r.dim(`${p}${a}transformer_blocks.0.attn2.to_k.weight`, 1, crossAttentionDim, 'columns (cross-attention width)');
  }
  const outChannels = r.dim(`${p}out.2.weight`, 0);
  if (outChannels !== 4) r.fail(`${p}out.2.weight has ${outChannels} output channels, expected 4`);
  return {
    inChannels, outChannels, blockOutChannels, layersPerBlock: n, downBlockTypes, upBlockTypes, crossAttentionDim, linearProjection: projRank === 2,
  };
}

interface VaeStructure {
  blockOutChannels: number[];
  layersPerBlock: number;
  inChannels: number;
  outChannels: number;
  latentChannels: number;
}

function readVae(r: Reader): VaeStructure | null {
  const p = VAE;
  if (!r.hasPrefix(p)) return null;
  const names = r.names.filter((n) => n.startsWith(p)).map((n) => n.slice(p.length));
  const levels = indices(names, /^encoder\.down\.(\d+)\./);
  const blocks = indices(names, /^encoder\.down\.0\.block\.(\d+)\./);
  const n = blocks.length;
  if (levels.length === 0 || !isRange(levels, levels.length) || !isRange(blocks, n)) r.fail(`${p}encoder.down.* are not numbered as an SD VAE's`);
  const L = levels.length;
  if (!isRange(indices(names, /^decoder\.up\.(\d+)\./), L)) r.fail(`${p}decoder.up.* do not form the encoder's ${L} levels`);
  const blockOutChannels: number[] = [];
  for (let i = 0; i < L; i++) {
    if (!isRange(indices(names, new RegExp(`^encoder\\.down\\.${i}\\.block\\.(\\d+)\\.`)), n)) r.fail(`${p}encoder.down.${i} does not have ${n} blocks`);
    if (!isRange(indices(names, new RegExp(`^decoder\\.up\\.${i}\\.block\\.(\\d+)\\.`)), n + 1)) r.fail(`${p}decoder.up.${i} does not have ${n + 1} blocks`);
    blockOutChannels.push(r.dim(`${p}encoder.down.${i}.block.0.conv2.weight`, 0));
  }
  const inChannels = r.dim(`${p}encoder.conv_in.weight`, 1);
  r.dim(`${p}encoder.conv_in.weight`, 0, blockOutChannels[0], 'output channels');
  const outChannels = r.dim(`${p}decoder.conv_out.weight`, 0);
  const latentChannels = r.dim(`${p}decoder.conv_in.weight`, 1);
  r.dim(`${p}encoder.conv_out.weight`, 0, 2 * latentChannels, 'output channels (2 x latent channels)');
  r.dim(`${p}post_quant_conv.weight`, 0, latentChannels, 'output channels');
  return { blockOutChannels, layersPerBlock: n, inChannels, outChannels, latentChannels };
}

interface TextStructure {
  layout: 'clip' | 'open_clip';
  hidden: number;
  intermediate: number;
  vocab: number;
  positions: number;
  layers: number;
}

function readText(r: Reader): TextStructure | null {
  const clip = r.hasPrefix(CLIP), openClip = r.hasPrefix(OPEN_CLIP);
  if (clip && openClip) r.fail(`holds both ${CLIP}* and ${OPEN_CLIP}* text encoders`);
  if (!clip && !openClip) return null;
  const [p, token, position, layerRe, fc1] = clip
    ? [CLIP, 'embeddings.token_embedding.weight', 'embeddings.position_embedding.weight', /^encoder\.layers\.(\d+)\./, 'encoder.layers.0.mlp.fc1.weight']
    : [OPEN_CLIP, 'token_embedding.weight', 'positional_embedding', /^transformer\.resblocks\.(\d+)\./, 'transformer.resblocks.0.mlp.c_fc.weight'];
  const [vocab, hidden] = r.shape(p + token, 2) as [number, number];
  const positions = r.dim(p + position, 0);
  r.dim(p + position, 1, hidden, 'columns (text width)');
  const layerIdx = indices(r.names.filter((n) => n.startsWith(p)).map((n) => n.slice(p.length)), layerRe);
  if (layerIdx.length === 0 || !isRange(layerIdx, layerIdx.length)) r.fail(`${p}: text encoder layers are missing or not numbered 0, 1, ...`);
  const intermediate = r.dim(p + fc1, 0);
  r.dim(p + fc1, 1, hidden, 'columns (text width)');
  return { layout: clip ? 'clip' : 'open_clip', hidden, intermediate, vocab, positions, layers: layerIdx.length };
}

/**
 * Reads an original single-file SD checkpoint's structure and builds its configs (as `config.json`
 * documents, not yet validated) from its tensors and its family's published values.
 * @throws DiffusionAttentionError `E_MODEL_FORMAT` naming the tensor or value that is not SD 1.x / 2.x
 */
export function describeSingleFile(file: WeightFile, options: { predictionType?: PredictionType } = {}): SingleFileDescription {
  const r = new Reader(file);
  const u = readUNet(r);
  const t = readText(r);
  const v = readVae(r);
  const byProjection: SdFamily = u.linearProjection ? 'sd2' : 'sd1';
  const family: SdFamily = t ? (t.layout === 'clip' ? 'sd1' : 'sd2') : byProjection;
  const label = family === 'sd1' ? 'SD 1.x' : 'SD 2.x';
  if (family !== byProjection) {
    r.fail(`the text encoder is ${t!.layout === 'clip' ? `OpenAI CLIP (${CLIP}*, SD 1.x)` : `OpenCLIP (${OPEN_CLIP}*, SD 2.x)`} but the UNet's `
      + `transformer projections are ${u.linearProjection ? 'Linear (SD 2.x)' : '1x1 convolutions (SD 1.x)'}`);
  }
  if (t && t.hidden !== u.crossAttentionDim) r.fail(`the text encoder is ${t.hidden} wide but the UNet's cross-attention expects ${u.crossAttentionDim}`);
  if (t && family === 'sd2' && t.layers < 2) r.fail(`${OPEN_CLIP}: SD 2.x conditions on the penultimate text layer, the file has ${t.layers}`);
  if (v && v.latentChannels !== u.inChannels) r.fail(`the VAE has ${v.latentChannels} latent channels, the UNet ${u.inChannels} input channels`);

  const predictionType = options.predictionType ?? (family === 'sd1' ? 'epsilon' : 'v_prediction');
  const base = family === 'sd1' ? PUBLISHED.sd15 : predictionType === 'epsilon' ? PUBLISHED.sd21Base : PUBLISHED.sd21;
  const unet: ConfigJson = {
    ...base.unet,
    in_channels: u.inChannels, out_channels: u.outChannels, block_out_channels: u.blockOutChannels, layers_per_block: u.layersPerBlock,
    down_block_types: u.downBlockTypes, up_block_types: u.upBlockTypes, cross_attention_dim: u.crossAttentionDim,
    use_linear_projection: u.linearProjection,
    attention_head_dim: family === 'sd1' ? base.unet.attention_head_dim : u.blockOutChannels.map((c) => c / HEAD_WIDTH),
  };
  const vaeConfig: ConfigJson | null = v && {
    ...base.vae,
    block_out_channels: v.blockOutChannels, layers_per_block: v.layersPerBlock, in_channels: v.inChannels, out_channels: v.outChannels,
    latent_channels: v.latentChannels, down_block_types: v.blockOutChannels.map(() => 'DownEncoderBlock2D'),
    up_block_types: v.blockOutChannels.map(() => 'UpDecoderBlock2D'),
  };
  const textConfig: ConfigJson | null = t && {
    ...base.textEncoder,
    hidden_size: t.hidden, intermediate_size: t.intermediate, vocab_size: t.vocab, max_position_embeddings: t.positions,
    num_hidden_layers: family === 'sd2' ? t.layers - 1 : t.layers, num_attention_heads: t.hidden / HEAD_WIDTH,
  };
  return {
    family, label, unet, vae: vaeConfig, textEncoder: textConfig,
    scheduler: { ...base.scheduler, prediction_type: predictionType }, textLayersInFile: t ? t.layers : 0,
  };
}

/**
 * Where the family's values do not fit the file's sizes (head counts or group-norm groups that do not
 * divide the channels): each entry names the value and the size. Empty for standard SD files.
 */
export function familyMismatches(d: SingleFileDescription): string[] {
  const out: string[] = [];
  const channels = d.unet.block_out_channels as number[];
  const heads = d.unet.attention_head_dim as number | number[];
  channels.forEach((c, i) => {
    const h = Array.isArray(heads) ? heads[i]! : heads;
    if (!Number.isInteger(h) || h < 1 || c % h !== 0) {
      out.push(d.family === 'sd1'
        ? `UNet attention_head_dim ${h} (${d.label}: 8 heads) does not divide block_out_channels[${i}] = ${c}`
        : `UNet block_out_channels[${i}] = ${c} is not a multiple of ${d.label}'s ${HEAD_WIDTH}-wide attention heads`);
    }
  });
  const groups = (part: string, cfg: ConfigJson | null) => {
    if (!cfg) return;
    const g = cfg.norm_num_groups as number;
    (cfg.block_out_channels as number[]).forEach((c, i) => {
      if (c % g !== 0) out.push(`${part} norm_num_groups ${g} does not divide block_out_channels[${i}] = ${c}`);
    });
  };
  groups('UNet', d.unet);
  groups('VAE', d.vae);
  if (d.textEncoder) {
    const hidden = d.textEncoder.hidden_size as number;
    if (hidden % HEAD_WIDTH !== 0) out.push(`text encoder hidden_size ${hidden} is not a multiple of CLIP's ${HEAD_WIDTH}-wide attention heads`);
  }
  return out;
}
