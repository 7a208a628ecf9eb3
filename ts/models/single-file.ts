/**
 * Original single-file (LDM / CompVis) checkpoints -> diffusers names, for SD 1.x and 2.x
 * (reference/sd-layout.md §7; the same correspondence as diffusers' single_file_utils.py and
 * stable-diffusion.cpp's name_conversion.cpp). The tables are generated from the model's config,
 * so any number of levels and layers per level maps correctly.
 */
import type { WeightFile } from '../weights/weight-file.js';
import type { UNetConfig, VaeConfig } from './config.js';
import type { WeightRef } from './weights.js';

/** [LDM prefix, diffusers prefix], both ending in '.', plus renames inside resnet blocks. */
type PrefixTable = Array<[string, string]>;

const UNET_RESNET_RENAMES: PrefixTable = [
  ['in_layers.0.', 'norm1.'], ['in_layers.2.', 'conv1.'], ['emb_layers.1.', 'time_emb_proj.'],
  ['out_layers.0.', 'norm2.'], ['out_layers.3.', 'conv2.'], ['skip_connection.', 'conv_shortcut.'],
];

export function unetTable(c: UNetConfig): PrefixTable {
  const L = c.block_out_channels.length, n = c.layers_per_block;
  const t: PrefixTable = [
    ['time_embed.0.', 'time_embedding.linear_1.'], ['time_embed.2.', 'time_embedding.linear_2.'],
    ['input_blocks.0.0.', 'conv_in.'], ['out.0.', 'conv_norm_out.'], ['out.2.', 'conv_out.'],
    ['middle_block.0.', 'mid_block.resnets.0.'], ['middle_block.1.', 'mid_block.attentions.0.'], ['middle_block.2.', 'mid_block.resnets.1.'],
  ];
  for (let i = 0; i < L; i++) {
    const cross = c.down_block_types[i] === 'CrossAttnDownBlock2D';
    for (let j = 0; j < n; j++) {
      const k = (n + 1) * i + j + 1;
      t.push([`input_blocks.${k}.0.`, `down_blocks.${i}.resnets.${j}.`]);
      if (cross) t.push([`input_blocks.${k}.1.`, `down_blocks.${i}.attentions.${j}.`]);
    }
    if (i < L - 1) t.push([`input_blocks.${(n + 1) * (i + 1)}.0.op.`, `down_blocks.${i}.downsamplers.0.conv.`]);
  }
  for (let i = 0; i < L; i++) {
    const cross = c.up_block_types[i] === 'CrossAttnUpBlock2D';
    for (let j = 0; j <= n; j++) {
      const k = (n + 1) * i + j;
      t.push([`output_blocks.${k}.0.`, `up_blocks.${i}.resnets.${j}.`]);
      if (cross) t.push([`output_blocks.${k}.1.`, `up_blocks.${i}.attentions.${j}.`]);
    }
    // The upsampler follows the last resnet (and its attention, if the block has one).
    if (i < L - 1) t.push([`output_blocks.${(n + 1) * i + n}.${cross ? 2 : 1}.conv.`, `up_blocks.${i}.upsamplers.0.conv.`]);
  }
  return t;
}

export function vaeTable(c: VaeConfig): PrefixTable {
  const L = c.block_out_channels.length, n = c.layers_per_block;
  const t: PrefixTable = [['quant_conv.', 'quant_conv.'], ['post_quant_conv.', 'post_quant_conv.']];
  for (const part of ['encoder', 'decoder']) {
    t.push([`${part}.conv_in.`, `${part}.conv_in.`], [`${part}.conv_out.`, `${part}.conv_out.`], [`${part}.norm_out.`, `${part}.conv_norm_out.`]);
    t.push([`${part}.mid.block_1.`, `${part}.mid_block.resnets.0.`], [`${part}.mid.block_2.`, `${part}.mid_block.resnets.1.`]);
    t.push([`${part}.mid.attn_1.norm.`, `${part}.mid_block.attentions.0.group_norm.`]);
    for (const [ldm, hf] of [['q', 'to_q'], ['k', 'to_k'], ['v', 'to_v'], ['proj_out', 'to_out.0']]) {
      t.push([`${part}.mid.attn_1.${ldm}.`, `${part}.mid_block.attentions.0.${hf}.`]);
    }
  }
  for (let i = 0; i < L; i++) {
    for (let j = 0; j < n; j++) t.push([`encoder.down.${i}.block.${j}.`, `encoder.down_blocks.${i}.resnets.${j}.`]);
    if (i < L - 1) t.push([`encoder.down.${i}.downsample.conv.`, `encoder.down_blocks.${i}.downsamplers.0.conv.`]);
    // Decoder levels are stored in reverse order.
    for (let j = 0; j <= n; j++) t.push([`decoder.up.${L - 1 - i}.block.${j}.`, `decoder.up_blocks.${i}.resnets.${j}.`]);
    if (i < L - 1) t.push([`decoder.up.${L - 1 - i}.upsample.conv.`, `decoder.up_blocks.${i}.upsamplers.0.conv.`]);
  }
  return t;
}

function translate(key: string, table: PrefixTable, resnetRenames: PrefixTable): string | undefined {
  let best: [string, string] | undefined;
  for (const entry of table) if (key.startsWith(entry[0]) && (!best || entry[0].length > best[0].length)) best = entry;
  if (!best) return undefined;
  let rest = key.slice(best[0].length);
  if (best[1].includes('.resnets.')) {
    for (const [from, to] of resnetRenames) if (rest.startsWith(from)) rest = to + rest.slice(from.length);
  }
  return best[1] + rest;
}

function mapComponent(file: WeightFile, prefix: string, table: PrefixTable, renames: PrefixTable): Map<string, WeightRef> {
  const out = new Map<string, WeightRef>();
  for (const key of file.names()) {
    if (!key.startsWith(prefix)) continue;
    const name = translate(key.slice(prefix.length), table, renames);
    if (name) out.set(name, { file, name: key });
  }
  return out;
}

export function unetWeights(file: WeightFile, c: UNetConfig): Map<string, WeightRef> {
  return mapComponent(file, 'model.diffusion_model.', unetTable(c), UNET_RESNET_RENAMES);
}

export function vaeWeights(file: WeightFile, c: VaeConfig): Map<string, WeightRef> {
  const refs = mapComponent(file, 'first_stage_model.', vaeTable(c), [['nin_shortcut.', 'conv_shortcut.']]);
  // The attention projections are 1x1 convolutions [C, C, 1, 1] in LDM files, Linear [C, C] in diffusers.
  for (const [name, ref] of refs) {
    const shape = file.entry(ref.name)!.shape;
    if (/mid_block\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(name) && shape.length === 4) ref.shape = shape.slice(0, 2);
  }
  return refs;
}

/** SD 1.x keeps transformers' names under a prefix; SD 2.x stores OpenCLIP's layout. */
export function textEncoderWeights(file: WeightFile): Map<string, WeightRef> {
  const sd1 = 'cond_stage_model.transformer.';
  const out = new Map<string, WeightRef>();
  for (const key of file.names()) {
    if (key.startsWith(`${sd1}text_model.`)) out.set(key.slice(sd1.length), { file, name: key });
  }
  if (out.size > 0) return out;
  const p = 'cond_stage_model.model.';
  const fixed: Record<string, string> = {
    'token_embedding.weight': 'text_model.embeddings.token_embedding.weight',
    positional_embedding: 'text_model.embeddings.position_embedding.weight',
    'ln_final.weight': 'text_model.final_layer_norm.weight',
    'ln_final.bias': 'text_model.final_layer_norm.bias',
  };
  const inner: PrefixTable = [['ln_1.', 'layer_norm1.'], ['ln_2.', 'layer_norm2.'], ['mlp.c_fc.', 'mlp.fc1.'], ['mlp.c_proj.', 'mlp.fc2.'], ['attn.out_proj.', 'self_attn.out_proj.']];
  for (const key of file.names()) {
    if (!key.startsWith(p)) continue;
    const k = key.slice(p.length);
    if (fixed[k]) {
      out.set(fixed[k]!, { file, name: key });
      continue;
    }
    const m = /^transformer\.resblocks\.(\d+)\.(.+)$/.exec(k);
    if (!m) continue;  // text_projection, logit_scale: not used by the text encoder
    const layer = `text_model.encoder.layers.${m[1]}.`;
    const rest = m[2]!;
    const fused = /^attn\.in_proj_(weight|bias)$/.exec(rest);
    if (fused) {
      // [3C, ...] rows q, then k, then v.
      const rows = file.entry(key)!.shape[0]! / 3;
      ['q', 'k', 'v'].forEach((x, i) => out.set(`${layer}self_attn.${x}_proj.${fused[1]}`, { file, name: key, rows: { start: i * rows, count: rows } }));
      continue;
    }
    const hit = inner.find(([from]) => rest.startsWith(from));
    if (hit) out.set(layer + hit[1] + rest.slice(hit[0].length), { file, name: key });
  }
  return out;
}
