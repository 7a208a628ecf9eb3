/**
 * Validation of the component configs of a diffusers model folder (`unet/config.json`,
 * `text_encoder/config.json`, `vae/config.json`, `model_index.json`). Every field diffusers or
 * transformers writes for these classes is known here; a field we do not know, or a value we do not
 * implement (e.g. a class embedding, another attention type), is an `E_MODEL_FORMAT` error naming
 * the field, never a silently wrong model. Field names and defaults follow diffusers'
 * UNet2DConditionModel / AutoencoderKL and transformers' CLIPTextConfig.
 */
import { z } from 'zod';

import { DiffusionAttentionError } from '../errors.js';

const posInt = z.number().int().positive();
// Upper bounds far above any SD-family model, so that a hostile config cannot size loops or buffers
// before its weights are checked (a fuzzed vae layers_per_block of 2^32 + 1 exhausted the JS heap,
// a max_position_embeddings of 1e15 sized the tokenizer's id buffer).
const size = posInt.max(2 ** 20); // channels, features, vocabulary, positions, pixels
const count = posInt.max(1024); // layers, heads
const levels = <T extends z.ZodType>(item: T) => z.array(item).min(1).max(16);
const perBlock = z.union([count, z.array(count).max(16)]);
const meta = { _class_name: z.string().optional(), _diffusers_version: z.string().optional(), _name_or_path: z.string().optional() };

export const unetConfigSchema = z.strictObject({
  ...meta,
  _class_name: z.literal('UNet2DConditionModel').optional(),
  sample_size: size.optional(),
  in_channels: size.default(4),
  out_channels: size.default(4),
  center_input_sample: z.literal(false).default(false),
  flip_sin_to_cos: z.boolean().default(true),
  freq_shift: z.number().default(0),
  down_block_types: levels(z.enum(['CrossAttnDownBlock2D', 'DownBlock2D'])),
  mid_block_type: z.literal('UNetMidBlock2DCrossAttn').default('UNetMidBlock2DCrossAttn'),
  up_block_types: levels(z.enum(['CrossAttnUpBlock2D', 'UpBlock2D'])),
  only_cross_attention: z.union([z.literal(false), z.array(z.literal(false))]).default(false),
  block_out_channels: levels(size),
  layers_per_block: count.default(2),
  downsample_padding: z.literal(1).default(1),
  mid_block_scale_factor: z.literal(1).default(1),
  dropout: z.number().default(0),
  act_fn: z.literal('silu').default('silu'),
  norm_num_groups: size.default(32),
  norm_eps: z.number().positive().default(1e-5),
  cross_attention_dim: size.default(1280),
  transformer_layers_per_block: z.literal(1).default(1),
  reverse_transformer_layers_per_block: z.null().optional(),
  encoder_hid_dim: z.null().optional(),
  encoder_hid_dim_type: z.null().optional(),
  // diffusers' naming mistake, kept for compatibility: this is the number of heads per block.
  attention_head_dim: perBlock.default(8),
  num_attention_heads: perBlock.nullable().optional(),
  dual_cross_attention: z.literal(false).default(false),
  use_linear_projection: z.boolean().default(false),
  class_embed_type: z.null().optional(),
  addition_embed_type: z.null().optional(),
  addition_time_embed_dim: z.null().optional(),
  num_class_embeds: z.null().optional(),
  upcast_attention: z.boolean().default(false),
  resnet_time_scale_shift: z.literal('default').default('default'),
  resnet_skip_time_act: z.literal(false).default(false),
  resnet_out_scale_factor: z.literal(1).default(1),
  time_embedding_type: z.literal('positional').default('positional'),
  time_embedding_dim: z.null().optional(),
  time_embedding_act_fn: z.null().optional(),
  timestep_post_act: z.null().optional(),
  time_cond_proj_dim: z.null().optional(),
  conv_in_kernel: z.literal(3).default(3),
  conv_out_kernel: z.literal(3).default(3),
  projection_class_embeddings_input_dim: z.null().optional(),
  attention_type: z.literal('default').default('default'),
  class_embeddings_concat: z.literal(false).default(false),
  mid_block_only_cross_attention: z.null().optional(),
  cross_attention_norm: z.null().optional(),
  addition_embed_type_num_heads: count.optional(),
}).check((ctx) => {
  const c = ctx.value;
  const n = c.block_out_channels.length;
  if (c.down_block_types.length !== n || c.up_block_types.length !== n) {
    ctx.issues.push({ code: 'custom', input: c, path: ['down_block_types'], message: 'down_block_types, up_block_types and block_out_channels must have one entry per level' });
  }
  for (const [i, ch] of c.block_out_channels.entries()) {
    if (ch % c.norm_num_groups !== 0) {
      ctx.issues.push({ code: 'custom', input: c, path: ['norm_num_groups'], message: `must divide block_out_channels[${i}] = ${ch}` });
    }
  }
  for (const key of ['attention_head_dim', 'num_attention_heads'] as const) {
    const v = c[key];
    if (Array.isArray(v) && v.length !== n) ctx.issues.push({ code: 'custom', input: c, path: [key], message: `needs one entry per level (${n})` });
  }
});
export type UNetConfig = z.output<typeof unetConfigSchema>;

export const clipTextConfigSchema = z.strictObject({
  _name_or_path: z.string().optional(),
  architectures: z.array(z.literal('CLIPTextModel')).optional(),
  model_type: z.literal('clip_text_model').optional(),
  attention_dropout: z.number().default(0),
  dropout: z.number().default(0),
  bos_token_id: z.number().int().optional(),
  eos_token_id: z.number().int().optional(),
  pad_token_id: z.number().int().optional(),
  hidden_act: z.enum(['quick_gelu', 'gelu']).default('quick_gelu'),
  hidden_size: size,
  intermediate_size: size,
  initializer_factor: z.number().optional(),
  initializer_range: z.number().optional(),
  layer_norm_eps: z.number().positive().default(1e-5),
  max_position_embeddings: size,
  num_attention_heads: count,
  num_hidden_layers: count,
  projection_dim: size.optional(),
  torch_dtype: z.string().optional(),
  transformers_version: z.string().optional(),
  vocab_size: size,
}).check((ctx) => {
  if (ctx.value.hidden_size % ctx.value.num_attention_heads !== 0) {
    ctx.issues.push({ code: 'custom', input: ctx.value, path: ['num_attention_heads'], message: 'must divide hidden_size' });
  }
});
export type ClipTextConfig = z.output<typeof clipTextConfigSchema>;

export const vaeConfigSchema = z.strictObject({
  ...meta,
  _class_name: z.literal('AutoencoderKL').optional(),
  act_fn: z.literal('silu').default('silu'),
  block_out_channels: levels(size),
  down_block_types: levels(z.literal('DownEncoderBlock2D')),
  up_block_types: levels(z.literal('UpDecoderBlock2D')),
  in_channels: size.default(3),
  out_channels: size.default(3),
  latent_channels: size.default(4),
  layers_per_block: count.default(1),
  norm_num_groups: size.default(32),
  sample_size: size.optional(),
  scaling_factor: z.number().positive().default(0.18215),
  shift_factor: z.null().optional(),
  latents_mean: z.null().optional(),
  latents_std: z.null().optional(),
  force_upcast: z.boolean().optional(),
  use_quant_conv: z.literal(true).default(true),
  use_post_quant_conv: z.literal(true).default(true),
  mid_block_add_attention: z.literal(true).default(true),
});
export type VaeConfig = z.output<typeof vaeConfigSchema>;

const component = z.tuple([z.string().nullable(), z.string().nullable()]);
export const modelIndexSchema = z.looseObject({
  _class_name: z.string(),
  unet: component,
  text_encoder: component.optional(),
  vae: component.optional(),
  tokenizer: component.optional(),
  scheduler: component,
});
export type ModelIndex = z.output<typeof modelIndexSchema>;

/**
 * Parses `json` with `schema`; a failure is `E_MODEL_FORMAT` naming the file and the field.
 */
export function parseConfig<S extends z.ZodType>(schema: S, json: unknown, file: string): z.output<S> {
  const r = schema.safeParse(json);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
  const what = issue.code === 'unrecognized_keys' ? 'unknown field' : 'unsupported value';
  throw new DiffusionAttentionError('E_MODEL_FORMAT', `${file}: ${what} \`${field}\`: ${issue.message}`);
}
