import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { info, loadPipeline } from '../ts/index.js';
import { WeightFile } from '../ts/weights/weight-file.js';
import { relativeError } from './helpers/attention-reference.js';
import { throwsCode } from './helpers/errors.js';

// loadPipeline on the fixture models: every component present, wired together, matching the reference.
const FIX = path.join(__dirname, 'fixtures');

for (const [model, single] of [['sd1-tiny', false], ['sd2-tiny', true]] as const) {
  test(`${model} (${single ? 'single file' : 'folder'}): components load and reproduce the reference conditioning and UNet output`, async () => {
    const pipe = single
      ? await loadPipeline(path.join(FIX, `${model}.safetensors`), { config: path.join(FIX, model) })
      : await loadPipeline(path.join(FIX, model));
    assert.ok(pipe.textEncoder && pipe.vae && pipe.tokenizer);
    assert.is(pipe.source.kind, single ? 'single-file' : 'diffusers');
    assert.is(pipe.schedulerConfig?._class_name, model === 'sd1-tiny' ? 'PNDMScheduler' : 'DDIMScheduler');
    const io = await WeightFile.open(path.join(FIX, `${model}-io.safetensors`));
    const prompts = JSON.parse(io.header.metadata.prompts!) as string[];
    const embeddings = await pipe.textEncoder.encode(prompts);
    assert.ok(relativeError(await embeddings.toArray(), await (await io.load('prompt.embeddings')).toArray()) <= 1e-4);
    const out = await pipe.unet.predict(await io.load('unet.sample'), 500, await io.load('unet.encoder_hidden_states'));
    assert.ok(relativeError(await out.toArray(), await (await io.load('unet.out')).toArray()) <= 1e-4);
  });
}

test('a model folder\'s generation_config.json sets the default guidance scale, guidance rescale and steps', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'da-gencfg-'));
  fs.cpSync(path.join(FIX, 'sd1-tiny'), dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ guidance_scale: 2.5, guidance_rescale: 0.7, num_inference_steps: 3 }));
  const pipe = await loadPipeline(dir);
  assert.equal(pipe.defaults, { guidanceScale: 2.5, guidanceRescale: 0.7, steps: 3 });
  const r = await pipe.generate({ prompt: 'x', width: 16, height: 16, seed: 1 });
  assert.is(r.options.guidanceScale, 2.5);
  assert.is(r.options.guidanceRescale, 0.7);
  assert.is(r.timings.stepsMs.length, 3);
  assert.is((await pipe.generate({ prompt: 'x', width: 16, height: 16, seed: 1, guidanceScale: 4, steps: 2 })).options.guidanceScale, 4);
  for (const bad of [{ guidance_scale: 'high' }, { guidance_rescale: 1.5 }]) {
    fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify(bad));
    await throwsCode(() => loadPipeline(dir), 'E_MODEL_FORMAT');
  }
  assert.equal((await loadPipeline(path.join(FIX, 'sd1-tiny'))).defaults, {});
});

test('bad locations and options are typed errors', async () => {
  await throwsCode(() => loadPipeline(path.join(FIX, 'no-such-model')), 'E_MODEL_FORMAT');
  await throwsCode(() => loadPipeline(path.join(FIX, 'sd1-tiny'), { device: 'gpu' as 'cpu' }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => loadPipeline(path.join(FIX, 'sd1-tiny'), { dtype: 'int8' as 'float32' }), 'E_INVALID_ARGUMENT');
  // The CPU computes in float32 only; float16 and bfloat16 need device 'cuda'.
  await throwsCode(() => loadPipeline(path.join(FIX, 'sd1-tiny'), { dtype: 'float16' }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => loadPipeline(path.join(FIX, 'sd1-tiny'), { device: 'cpu', dtype: 'bfloat16' }), 'E_INVALID_ARGUMENT');
});

test('device auto and cpu place every model on the CPU in float32', async () => {
  for (const device of ['auto', 'cpu'] as const) {
    const pipe = await loadPipeline(path.join(FIX, 'sd1-tiny'), { device });
    for (const model of [pipe.unet, pipe.textEncoder!, pipe.vae!]) assert.equal(model.placement, { device: 'cpu', dtype: 'float32' });
    await pipe.close();
  }
});

const cuda = info().backend === 'cuda';
(cuda ? test.skip : test)('device cuda without CUDA is E_NO_CUDA with the reason, before any model is read', async () => {
  await throwsCode(() => loadPipeline(path.join(FIX, 'no-such-model'), { device: 'cuda' }), 'E_NO_CUDA');
  const message = await loadPipeline(undefined, { device: 'cuda' }).then(() => '', (err: Error) => err.message);
  assert.match(message, info().reason!);
});

test.run();
