import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { openModel, type ModelSource } from '../ts/models/layout.js';
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
