import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { Tensor } from '../ts/index.js';
import { openModel } from '../ts/models/layout.js';
import { Vae } from '../ts/models/vae.js';
import { ComponentWeights } from '../ts/models/weights.js';
import { WeightFile } from '../ts/weights/weight-file.js';
import { relativeError } from './helpers/attention-reference.js';
import { throwsCode } from './helpers/errors.js';

// The native AutoencoderKL against the float64 PyTorch reference; relative error <= 1e-4 (float32).
const FIX = path.join(__dirname, 'fixtures');
const TOL = 1e-4;

for (const [model, single] of [['sd1-tiny', false], ['sd2-tiny', false], ['sd1-tiny', true]] as const) {
  test(`${model} VAE from the ${single ? 'single file' : 'folder'}: decode and encode match the reference`, async () => {
    const m = single
      ? await openModel(path.join(FIX, `${model}.safetensors`), { config: path.join(FIX, model) })
      : await openModel(path.join(FIX, model));
    const vae = await Vae.load(m.vae!);
    const io = await WeightFile.open(path.join(FIX, `${model}-io.safetensors`));
    const decoded = await vae.decode(await io.load('vae.latents'));
    assert.equal(decoded.shape, [1, 3, 16, 16]);
    assert.ok(relativeError(await decoded.toArray(), await (await io.load('vae.decoded')).toArray()) <= TOL);
    const { mean, logvar } = await vae.encode(await io.load('vae.image'));
    assert.ok(relativeError(await mean.toArray(), await (await io.load('vae.mean')).toArray()) <= TOL);
    assert.ok(relativeError(await logvar.toArray(), await (await io.load('vae.logvar')).toArray()) <= TOL);
  });
}

test('float16 weights load converted to float32 and decode within the fp16 weight tolerance', async () => {
  const m = await openModel(path.join(FIX, 'sd1-tiny'));
  const fp16 = await WeightFile.open(path.join(FIX, 'sd1-tiny-vae-fp16.safetensors'));
  const weights = new ComponentWeights(new Map(fp16.names().map((n) => [n, { file: fp16, name: n }])));
  const vae = await Vae.load({ config: m.vae!.config, weights });
  const io = await WeightFile.open(path.join(FIX, 'sd1-tiny-io.safetensors'));
  const decoded = await (await vae.decode(await io.load('vae.latents'))).toArray();
  assert.ok(relativeError(decoded, await (await io.load('vae.decoded_from_fp16_weights')).toArray()) <= TOL);
});

test('wrong shapes are E_SHAPE', async () => {
  const vae = await Vae.load((await openModel(path.join(FIX, 'sd1-tiny'))).vae!);
  await throwsCode(() => vae.decode(Tensor.from(new Float32Array(3 * 64), [1, 3, 8, 8])), 'E_SHAPE');
  await throwsCode(() => vae.encode(Tensor.from(new Float32Array(3 * 15 * 15), [1, 3, 15, 15])), 'E_SHAPE');
});

test.run();
