import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { openModel } from '../ts/models/layout.js';
import { TextEncoder } from '../ts/models/text-encoder.js';
import { PromptTokenizer } from '../ts/models/tokenizer.js';
import { WeightFile } from '../ts/weights/weight-file.js';
import { relativeError } from './helpers/attention-reference.js';
import { throwsCode } from './helpers/errors.js';

// The native CLIPTextModel against the float64 PyTorch reference (tools/sd_reference) on both tiny
// models and both layouts. Tolerance: the float32 bound, relative error <= 1e-4.
const FIX = path.join(__dirname, 'fixtures');
const TOL = 1e-4;

async function io(name: string) {
  const file = await WeightFile.open(path.join(FIX, `${name}-io.safetensors`));
  const raw = fs.readFileSync(file.path);
  const ids = (key: string) => {
    const e = file.entry(key)!;
    return Int32Array.from({ length: e.nbytes / 8 }, (_, i) => Number(raw.readBigInt64LE(e.offset + 8 * i)));
  };
  const values = async (key: string) => (await (await file.load(key)).toArray()) as Float32Array;
  return { file, ids, values };
}

async function encoder(model: string, single: boolean) {
  const m = single
    ? await openModel(path.join(FIX, `${model}.safetensors`), { config: path.join(FIX, model) })
    : await openModel(path.join(FIX, model));
  const tok = await PromptTokenizer.load(m.tokenizerDir!, m.textEncoder!.config.max_position_embeddings);
  return TextEncoder.load(m.textEncoder!, tok);
}

test('SD1 text encoder (quick_gelu) matches the reference: last layer and clip skip 2', async () => {
  const f = await io('sd1-tiny');
  const te = await encoder('sd1-tiny', false);
  const ids = f.ids('text_encoder.input_ids');
  const last = await (await te.encodeIds(ids, [2, 7])).toArray();
  assert.ok(relativeError(last, await f.values('text_encoder.last_hidden_state')) <= TOL);
  const pen = await (await te.encodeIds(ids, [2, 7], { clipSkip: 2 })).toArray();
  assert.ok(relativeError(pen, await f.values('text_encoder.penultimate_hidden_state')) <= TOL);
  const fromPrompts = await (await te.encode(JSON.parse(f.file.header.metadata.prompts!))).toArray();
  assert.ok(relativeError(fromPrompts, await f.values('prompt.embeddings')) <= TOL);
});

test('SD2 text encoder (gelu): the folder drops the last layer, the single file needs clip skip 2', async () => {
  const f = await io('sd2-tiny');
  const ids = f.ids('text_encoder.input_ids');
  const want = await f.values('text_encoder.penultimate_hidden_state');
  const folder = await encoder('sd2-tiny', false);
  assert.ok(relativeError(await (await folder.encodeIds(ids, [2, 7])).toArray(), want) <= TOL);
  const single = await encoder('sd2-tiny', true);
  // The single file's config comes from the folder (2 layers), so its extra third layer is unused:
  // clip skip 1 over the configured layers equals the folder's output.
  assert.ok(relativeError(await (await single.encodeIds(ids, [2, 7])).toArray(), want) <= TOL);
});

test('bad ids and options are typed errors', async () => {
  const te = await encoder('sd1-tiny', false);
  await throwsCode(() => te.encodeIds(new Int32Array(5), [2, 7]), 'E_SHAPE');
  await throwsCode(() => te.encodeIds(new Int32Array(14).fill(9999), [2, 7]), 'E_INVALID_ARGUMENT');
  await throwsCode(() => te.encodeIds(new Int32Array(2 * 20), [2, 20]), 'E_SHAPE');
  await throwsCode(() => te.encodeIds(new Int32Array(14), [2, 7], { clipSkip: 9 }), 'E_INVALID_ARGUMENT');
});

test.run();
