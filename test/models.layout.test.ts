import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { FAMILY_FIELDS, describeSingleFile, familyMismatches } from '../ts/models/builtin-configs.js';
import { clipTextConfigSchema, parseConfig, unetConfigSchema, vaeConfigSchema, type VaeConfig } from '../ts/models/config.js';
import { openModel, type ModelSource } from '../ts/models/layout.js';
import { textEncoderWeights, unetWeights, vaeWeights } from '../ts/models/single-file.js';
import { PromptTokenizer } from '../ts/models/tokenizer.js';
import { ComponentWeights } from '../ts/models/weights.js';
import { WeightFile } from '../ts/weights/weight-file.js';
import { throwsCode } from './helpers/errors.js';

const FIX = path.join(__dirname, 'fixtures');

const layouts = suite('models: folder and single-file layouts');

layouts('a diffusers folder opens with validated configs and sharded UNet weights', async () => {
  const m = await openModel(path.join(FIX, 'sd1-tiny'));
  assert.is(m.kind, 'diffusers');
  assert.equal(m.unet.config.block_out_channels, [12, 24]);
  assert.is(m.unet.config.use_linear_projection, false);
  assert.is(m.textEncoder!.config.hidden_act, 'quick_gelu');
  assert.is(m.vae!.config.scaling_factor, 0.18215);
  assert.ok(m.tokenizerDir?.endsWith('tokenizer'));
  assert.is(m.schedulerConfig!.beta_schedule, 'scaled_linear');
  const files = new Set([...m.unet.weights.refs.values()].map((r) => r.file.path));
  assert.is(files.size, 2, 'the UNet comes from two shards');
  const w = await m.unet.weights.load('conv_in.weight');
  assert.equal(w.shape, [12, 4, 3, 3]);
});

/** Every weight of the folder is found in the single file under the same name, with identical values. */
async function sameWeights(folder: ModelSource, single: ModelSource): Promise<void> {
  for (const part of ['unet', 'textEncoder', 'vae'] as const) {
    const a = folder[part]!.weights, b = single[part]!.weights;
    for (const name of a.names()) {
      assert.ok(b.has(name), `${part}: ${name} missing from the single file`);
      assert.equal(b.shape(name), a.shape(name), `${part}: shape of ${name}`);
      const [x, y] = await Promise.all([a.load(name), b.load(name)]);
      assert.equal(Array.from(await y.toArray()), Array.from(await x.toArray()), `${part}: values of ${name}`);
    }
  }
}

layouts('SD1 single file: every diffusers weight maps, values identical', async () => {
  const folder = await openModel(path.join(FIX, 'sd1-tiny'));
  const single = await openModel(path.join(FIX, 'sd1-tiny.safetensors'), { config: path.join(FIX, 'sd1-tiny') });
  assert.is(single.kind, 'single-file');
  await sameWeights(folder, single);
});

layouts('SD2 single file: OpenCLIP fused q/k/v split by rows, VAE 1x1 convs as Linear, values identical', async () => {
  const folder = await openModel(path.join(FIX, 'sd2-tiny'));
  const single = await openModel(path.join(FIX, 'sd2-tiny.safetensors'), { config: path.join(FIX, 'sd2-tiny') });
  await sameWeights(folder, single);
  assert.ok(single.textEncoder!.weights.has('text_model.encoder.layers.0.self_attn.k_proj.bias'));
});

layouts.run();

const bad = suite('models: malformed folders are E_MODEL_FORMAT naming the problem');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'da-models-'));

/** A copy of the sd1-tiny folder with `edit` applied to one JSON file. */
function variant(name: string, file: string, edit: (json: Record<string, unknown>) => void): string {
  const dir = path.join(tmp, name);
  fs.cpSync(path.join(FIX, 'sd1-tiny'), dir, { recursive: true });
  const p = path.join(dir, file);
  const json = JSON.parse(fs.readFileSync(p, 'utf8'));
  edit(json);
  fs.writeFileSync(p, JSON.stringify(json));
  return dir;
}

async function rejects(dir: string, pattern: RegExp): Promise<void> {
  await throwsCode(() => openModel(dir), 'E_MODEL_FORMAT');
  await openModel(dir).catch((err: Error) => assert.match(err.message, pattern));
}

bad('unknown and unsupported config fields are named', async () => {
  await rejects(variant('unknown', 'unet/config.json', (j) => { j.mystery_option = 3; }), /unknown field `mystery_option`/);
  await rejects(variant('class', 'unet/config.json', (j) => { j.class_embed_type = 'timestep'; }), /`class_embed_type`/);
  await rejects(variant('block', 'unet/config.json', (j) => { j.down_block_types = ['SimpleCrossAttnDownBlock2D', 'DownBlock2D']; }), /`down_block_types.0`/);
  await rejects(variant('act', 'text_encoder/config.json', (j) => { j.hidden_act = 'relu'; }), /`hidden_act`/);
  await rejects(variant('groups', 'vae/config.json', (j) => { j.use_quant_conv = false; }), /`use_quant_conv`/);
  await rejects(variant('levels', 'unet/config.json', (j) => { j.block_out_channels = [12, 24, 48]; }), /down_block_types/);
});

bad('sizes and counts far beyond any SD model are refused before anything is sized by them (found by the fuzzer)', async () => {
  await rejects(variant('vae-layers', 'vae/config.json', (j) => { j.layers_per_block = 4294967297; }), /`layers_per_block`/);
  await rejects(variant('positions', 'text_encoder/config.json', (j) => { j.max_position_embeddings = 1e15; }), /`max_position_embeddings`/);
  await rejects(variant('unet-layers', 'unet/config.json', (j) => { j.layers_per_block = 1025; }), /`layers_per_block`/);
  await rejects(variant('channels', 'unet/config.json', (j) => { j.cross_attention_dim = 2 ** 20 + 1; }), /`cross_attention_dim`/);
});

bad('sharded indexes cannot point outside the folder or at missing tensors', async () => {
  const index = 'unet/diffusion_pytorch_model.safetensors.index.json';
  await rejects(variant('escape', index, (j) => { (j.weight_map as Record<string, string>)['conv_in.weight'] = '../../sd1-tiny.safetensors'; }), /must name a \.safetensors file/);
  await rejects(variant('missing', index, (j) => { (j.weight_map as Record<string, string>)['no.such.weight'] = 'diffusion_pytorch_model-00001-of-00002.safetensors'; }), /no\.such\.weight is not in/);
});

bad('missing files and single files without configs', async () => {
  const dir = path.join(tmp, 'no-index');
  fs.cpSync(path.join(FIX, 'sd1-tiny'), dir, { recursive: true });
  fs.rmSync(path.join(dir, 'model_index.json'));
  await rejects(dir, /model_index\.json/);
  await throwsCode(() => openModel(path.join(FIX, 'sd1-tiny.safetensors')), 'E_MODEL_FORMAT');
  await throwsCode(() => openModel(path.join(tmp, 'nothing-here')), 'E_MODEL_FORMAT');
  await throwsCode(() => openModel(path.join(FIX, 'README.md')), 'E_MODEL_FORMAT');
});

bad.run();

// Single files without a config folder (builtin-configs.ts).
const builtin = suite('models: single files without a config folder');
const sparseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'da-sparse-'));
builtin.after(() => fs.rmSync(sparseDir, { recursive: true, force: true }));

type TensorList = Record<string, [string, number[]]>;
interface ShapeManifest {
  text_layers_in_file: number;
  published: { unet: Record<string, unknown>; vae: Record<string, unknown>; text_encoder: Record<string, unknown>; scheduler: Record<string, unknown> };
  published_base?: ShapeManifest['published'];
  tensors: TensorList;
}
const manifest = (name: string) => JSON.parse(fs.readFileSync(path.join(FIX, 'sd-shapes', `${name}.json`), 'utf8')) as ShapeManifest;
const SIZES: Record<string, number> = { F16: 2, F32: 4, I64: 8 };

/**
 * A safetensors file with exactly these tensor names, dtypes and shapes: the header, then a hole
 * (a sparse file: full SD sizes without the gigabytes).
 */
function sparseCheckpoint(name: string, tensors: TensorList): string {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [key, [dtype, shape]] of Object.entries(tensors)) {
    const nbytes = shape.reduce((a, b) => a * b, 1) * SIZES[dtype]!;
    header[key] = { dtype, shape, data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const file = path.join(sparseDir, `${name}.safetensors`);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(json)]));
  fs.truncateSync(file, 8 + Buffer.byteLength(json) + offset);
  return file;
}

/** The published config as the engine's schema reads it (defaults filled in). */
function parsed(published: ShapeManifest['published']) {
  return {
    unet: parseConfig(unetConfigSchema, published.unet, 'published unet'),
    vae: parseConfig(vaeConfigSchema, published.vae, 'published vae'),
    text: parseConfig(clipTextConfigSchema, published.text_encoder, 'published text_encoder'),
  };
}

builtin('SD 1.5-sized file: detected as SD 1.x, configs equal the published SD 1.5 configs, every UNet tensor mapped', async () => {
  const sd15 = manifest('sd15');
  const m = await openModel(sparseCheckpoint('sd15', sd15.tensors));
  const want = parsed(sd15.published);
  assert.is(m.kind, 'single-file');
  assert.equal(m.unet.config, want.unet);
  assert.equal(m.vae!.config, want.vae);
  assert.equal(m.textEncoder!.config, want.text);
  assert.equal(m.schedulerConfig, sd15.published.scheduler);
  assert.is(m.tokenizerDir, null);
  const unetKeys = Object.keys(sd15.tensors).filter((k) => k.startsWith('model.diffusion_model.'));
  assert.is(m.unet.weights.names().length, unetKeys.length);
  assert.equal(m.unet.weights.shape('down_blocks.0.attentions.0.proj_in.weight'), [320, 320, 1, 1]);
  assert.equal(m.unet.weights.shape('up_blocks.3.resnets.2.conv_shortcut.weight'), [320, 640, 1, 1]);
  assert.equal(m.vae!.weights.shape('decoder.mid_block.attentions.0.to_q.weight'), [512, 512]);
  assert.ok(m.textEncoder!.weights.has('text_model.encoder.layers.11.mlp.fc2.weight'));
  assert.not.ok(m.textEncoder!.weights.has('text_model.embeddings.position_ids'), 'the int64 position_ids buffer is not a weight');
});

builtin('SD 2.1-sized file: SD 2.x, published SD 2.1 configs, 23 of the 24 OpenCLIP layers, v_prediction', async () => {
  const sd21 = manifest('sd21');
  assert.is(sd21.text_layers_in_file, 24);
  const file = sparseCheckpoint('sd21', sd21.tensors);
  const m = await openModel(file);
  const want = parsed(sd21.published);
  assert.equal(m.unet.config, want.unet);
  assert.equal(m.unet.config.attention_head_dim, [5, 10, 20, 20]);
  assert.is(m.unet.config.upcast_attention, true);
  assert.equal(m.vae!.config, want.vae);
  assert.equal(m.textEncoder!.config, want.text);
  assert.is(m.textEncoder!.config.num_hidden_layers, 23);
  assert.equal(m.schedulerConfig, sd21.published.scheduler);
  assert.is(m.schedulerConfig!.prediction_type, 'v_prediction');
  const te = m.textEncoder!.weights;
  assert.ok(te.has('text_model.encoder.layers.22.self_attn.v_proj.bias'));
  assert.not.ok(te.names().some((n) => n.startsWith('text_model.encoder.layers.23.')), 'the last layer is not used');
  assert.equal(te.shape('text_model.encoder.layers.0.self_attn.k_proj.weight'), [1024, 1024]);

  // A 512 base model: predictionType selects the published 2.1-base configs.
  const base = await openModel(file, { predictionType: 'epsilon' });
  const wantBase = parsed(sd21.published_base!);
  assert.equal(base.unet.config, wantBase.unet);
  assert.is(base.unet.config.sample_size, 64);
  assert.is(base.unet.config.upcast_attention, false);
  assert.equal(base.textEncoder!.config, wantBase.text);
  assert.equal(base.schedulerConfig, sd21.published_base!.scheduler);
});

builtin('options: predictionType overrides the scheduler config, tokenizer names a tokenizer folder', async () => {
  const file = sparseCheckpoint('sd15-options', manifest('sd15').tensors);
  const v = await openModel(file, { predictionType: 'v_prediction', tokenizer: path.join(FIX, 'bpe-vocab') });
  assert.is(v.schedulerConfig!.prediction_type, 'v_prediction');
  assert.is(v.unet.config.sample_size, 64);
  assert.is(v.tokenizerDir, path.join(FIX, 'bpe-vocab'));
  const tok = await PromptTokenizer.load(v.tokenizerDir!, v.textEncoder!.config.max_position_embeddings);
  assert.is(tok.encode(['a photo of a cat']).shape[1], 77);
  // With a config folder, too.
  const tiny = await openModel(path.join(FIX, 'sd2-tiny.safetensors'), { config: path.join(FIX, 'sd2-tiny'), predictionType: 'epsilon' });
  assert.is(tiny.schedulerConfig!.prediction_type, 'epsilon');
  assert.is(tiny.schedulerConfig!._class_name, 'DDIMScheduler');
  await throwsCode(() => openModel(file, { predictionType: 'sample' as 'epsilon' }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => openModel(file, { tokenizer: path.join(FIX, 'no-such-folder') }), 'E_MODEL_FORMAT');
});

builtin('what is not a standard SD 1.x / 2.x checkpoint is E_MODEL_FORMAT naming the mismatch', async () => {
  const base = manifest('sd15').tensors;
  const U = 'model.diffusion_model.';
  const rejects = async (name: string, edit: (t: TensorList) => void, pattern: RegExp) => {
    const tensors: TensorList = JSON.parse(JSON.stringify(base));
    edit(tensors);
    const file = sparseCheckpoint(name, tensors);
    await throwsCode(() => openModel(file), 'E_MODEL_FORMAT');
    await openModel(file).catch((err: Error) => assert.match(err.message, pattern, `${name}: ${err.message}`));
  };
  await rejects('inpaint', (t) => { t[`${U}input_blocks.0.0.weight`]![1] = [320, 9, 3, 3]; }, /9 input channels \(an inpainting UNet\)/);
  await rejects('sdxl', (t) => { t['conditioner.embedders.0.transformer.text_model.final_layer_norm.weight'] = ['F16', [768]]; }, /SDXL/);
  await rejects('class-emb', (t) => { t[`${U}label_emb.0.0.weight`] = ['F16', [1280, 2816]]; }, /label_emb.*class-conditioned/);
  await rejects('no-mid-attention', (t) => {
    for (const k of Object.keys(t)) if (k.startsWith(`${U}middle_block.1.`)) delete t[k];
  }, /no model\.diffusion_model\.middle_block\.1/);
  await rejects('deep-transformer', (t) => { t[`${U}input_blocks.1.1.transformer_blocks.1.norm1.weight`] = ['F16', [320]]; }, /transformer_blocks\.1/);
  await rejects('linear-proj', (t) => {
    for (const k of Object.keys(t)) if (/\.proj_(in|out)\.weight$/.test(k)) t[k]![1] = t[k]![1].slice(0, 2);
  }, /OpenAI CLIP .*SD 1\.x.* Linear \(SD 2\.x\)/);
  await rejects('context-width', (t) => {
    for (const k of Object.keys(t)) if (/attn2\.to_[kv]\.weight$/.test(k)) t[k]![1] = [t[k]![1][0]!, 1024];
  }, /text encoder is 768 wide but the UNet's cross-attention expects 1024/);
  await rejects('level-widths', (t) => { t[`${U}input_blocks.2.0.out_layers.3.weight`]![1] = [640, 320, 3, 3]; }, /input_blocks\.2\.0\.out_layers\.3\.weight has 640 output channels/);
  await rejects('stray-tensor', (t) => { t[`${U}input_blocks.1.2.extra.weight`] = ['F16', [8]]; }, /1 UNet tensors have no place in an SD 1\.x UNet, e\.g\. model\.diffusion_model\.input_blocks\.1\.2\.extra\.weight/);
  await rejects('no-unet', (t) => {
    for (const k of Object.keys(t)) if (k.startsWith(U)) delete t[k];
  }, /no UNet weights/);
});

/** The folder's value and the built-in value of each config field. */
function compareConfigs(folder: Record<string, unknown>, builtinConfig: Record<string, unknown>) {
  const same: string[] = [], differ: string[] = [];
  for (const [k, v] of Object.entries(builtinConfig)) {
    if (k.startsWith('_')) continue;
    (JSON.stringify(folder[k]) === JSON.stringify(v) ? same : differ).push(k);
  }
  return { same, differ: differ.sort() };
}

for (const [model, label, unetDiffers] of [
  ['sd1-tiny', 'SD 1.x', /attention_head_dim 8 \(SD 1\.x: 8 heads\) does not divide block_out_channels\[0\] = 12/],
  ['sd2-tiny', 'SD 2.x', /block_out_channels\[0\] = 12 is not a multiple of SD 2\.x's 64-wide attention heads/],
] as const) {
  builtin(`${model}.safetensors: detected as ${label} from its structure; configs equal the folder's except the family values; same weights`, async () => {
    const file = path.join(FIX, `${model}.safetensors`);
    // The tiny widths do not fit the family's head counts and group norms: opening without a
    // config folder is refused, naming each value (with { config } it opens, see above).
    await throwsCode(() => openModel(file), 'E_MODEL_FORMAT');
    const err = await openModel(file).catch((e: Error) => e) as Error;
    assert.match(err.message, new RegExp(`structure is ${label.replace('.', '\\.')}`));
    assert.match(err.message, unetDiffers);
    assert.match(err.message, /UNet norm_num_groups 32 does not divide block_out_channels\[0\] = 12/);
    assert.match(err.message, /VAE norm_num_groups 32 does not divide block_out_channels\[0\] = 8/);
    assert.match(err.message, /text encoder hidden_size (32|48) is not a multiple of CLIP's 64-wide attention heads/);
    assert.match(err.message, /pass \{ config: /);

    const folder = await openModel(path.join(FIX, model));
    const weights = await WeightFile.open(file);
    const d = describeSingleFile(weights);
    assert.is(d.label, label);
    // Every field read from the file equals the folder's; the fields that differ are family values,
    // and exactly these (documented in test/fixtures/README.md).
    const u = compareConfigs(folder.unet.config, d.unet);
    assert.equal(u.differ, ['attention_head_dim', 'norm_num_groups', 'sample_size']);
    for (const k of ['block_out_channels', 'layers_per_block', 'in_channels', 'out_channels', 'down_block_types', 'up_block_types', 'cross_attention_dim', 'use_linear_projection', 'upcast_attention']) {
      assert.ok(u.same.includes(k), `unet ${k}`);
    }
    const v = compareConfigs(folder.vae!.config, d.vae!);
    assert.equal(v.differ, ['norm_num_groups', 'sample_size']);
    const t = compareConfigs(folder.textEncoder!.config, d.textEncoder!);
    assert.equal(t.differ, ['num_attention_heads']);
    for (const k of ['hidden_size', 'intermediate_size', 'vocab_size', 'max_position_embeddings', 'num_hidden_layers', 'hidden_act']) assert.ok(t.same.includes(k), `text ${k}`);
    assert.is(d.textLayersInFile, model === 'sd2-tiny' ? 3 : 2);
    for (const [diff, part] of [[u.differ, 'unet'], [v.differ, 'vae'], [t.differ, 'textEncoder']] as const) {
      for (const k of diff) assert.ok((FAMILY_FIELDS[part] as readonly string[]).includes(k), `${part} ${k} is a family value`);
    }
    const s = compareConfigs(folder.schedulerConfig!, d.scheduler);
    assert.equal(s.differ, model === 'sd1-tiny' ? ['prediction_type'] : [], 'sd1-tiny has no prediction_type (= epsilon)');
    assert.is(d.scheduler.prediction_type, model === 'sd1-tiny' ? 'epsilon' : 'v_prediction');
    // Heads: SD 1.x's 8 fail on 12 channels only, SD 2.x's 64-wide heads on 12 and 24; groups of 32
    // fail on the UNet's 12 and 24 and the VAE's 8 and 16 channels; text heads on 32 / 48.
    assert.is(familyMismatches(d).length, model === 'sd1-tiny' ? 6 : 7, familyMismatches(d).join('\n'));

    // The structure read from the file maps every folder weight, with identical values.
    const cfg = { ...folder.unet.config, ...d.unet } as typeof folder.unet.config;
    const unet = new ComponentWeights(unetWeights(weights, cfg));
    const vae = new ComponentWeights(vaeWeights(weights, { ...folder.vae!.config, ...d.vae! } as VaeConfig));
    const layers = d.textEncoder!.num_hidden_layers as number;
    const text = new ComponentWeights(new Map([...textEncoderWeights(weights)].filter(([n]) => {
      const layer = /^text_model\.encoder\.layers\.(\d+)\./.exec(n);
      return n !== 'text_model.embeddings.position_ids' && (!layer || Number(layer[1]) < layers);
    })));
    for (const [a, b] of [[folder.unet.weights, unet], [folder.vae!.weights, vae], [folder.textEncoder!.weights, text]] as const) {
      assert.equal(b.names().sort(), a.names().sort());
      for (const name of a.names()) {
        assert.equal(b.shape(name), a.shape(name), name);
        const [x, y] = await Promise.all([a.load(name), b.load(name)]);
        assert.equal(Array.from(await y.toArray()), Array.from(await x.toArray()), name);
      }
    }
  });
}

builtin('single files opened with { config } no longer hand the int64 position_ids buffer to the text encoder', async () => {
  const m = await openModel(path.join(FIX, 'sd1-tiny.safetensors'), { config: path.join(FIX, 'sd1-tiny') });
  for (const name of m.textEncoder!.weights.names()) {
    const ref = m.textEncoder!.weights.refs.get(name)!;
    assert.ok(['F32', 'F16', 'BF16'].includes(ref.file.entry(ref.name)!.dtype), name);
  }
});

builtin.run();
