import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { AttentionCache, info, loadPipeline, Tensor, type DType } from '../ts/index.js';
import { openModel } from '../ts/models/layout.js';
import type { Placement } from '../ts/models/placement.js';
import { TextEncoder } from '../ts/models/text-encoder.js';
import { UNet, type UNetControls } from '../ts/models/unet.js';
import { Vae } from '../ts/models/vae.js';
import { WeightFile } from '../ts/weights/weight-file.js';
import { relativeError } from './helpers/attention-reference.js';

// The models on the GPU (CUDA issue, "Correctness"): the tiny reference models of
// test/fixtures/README.md run with their weights uploaded to CUDA in float32, float16 and bfloat16,
// against the same float64 PyTorch outputs the CPU tests use. Tolerances (relative error of the
// whole model output): float32 1e-4 as on the CPU; float16 1e-2 and bfloat16 5e-2, a few dozen ops
// each rounding its output once (3e-4 and 2e-3 per op in float16 and bfloat16).
const i = info();
const run = i.backend === 'cuda' ? test : test.skip;
if (i.backend !== 'cuda') console.log(`models.cuda.test.ts: skipping the models on CUDA: ${i.reason}`);

const FIX = path.join(__dirname, 'fixtures');
const TOL: Record<DType, number> = { float32: 1e-4, float16: 1e-2, bfloat16: 5e-2 };
const DTYPES: DType[] = ['float32', 'float16', 'bfloat16'];
const cuda = (dtype: DType): Placement => ({ device: 'cuda', dtype });

async function values(t: Tensor): Promise<Float32Array> {
  const host = await t.to({ device: 'cpu', dtype: 'float32' });
  return await host.toArray() as Float32Array;
}

for (const dtype of DTYPES) {
  for (const model of ['sd1-tiny', 'sd2-tiny']) {
    run(`${model} UNet on CUDA in ${dtype} matches the reference output`, async () => {
      const unet = await UNet.load((await openModel(path.join(FIX, model))).unet, cuda(dtype));
      const f = await WeightFile.open(path.join(FIX, `${model}-io.safetensors`));
      const t = (await (await f.load('unet.timestep')).toArray())[0]!;
      const y = await unet.predict(await f.load('unet.sample'), t, await f.load('unet.encoder_hidden_states'));
      assert.is(y.device, 'cuda');
      assert.is(y.dtype, dtype);
      const err = relativeError(await values(y), await (await f.load('unet.out')).toArray());
      assert.ok(err <= TOL[dtype], `relative error ${err}`);
      unet.dispose();
    });
  }

  run(`SD1 text encoder on CUDA in ${dtype} matches the reference`, async () => {
    const m = await openModel(path.join(FIX, 'sd1-tiny'));
    const te = await TextEncoder.load(m.textEncoder!, null, cuda(dtype));
    const f = await WeightFile.open(path.join(FIX, 'sd1-tiny-io.safetensors'));
    const raw = fs.readFileSync(f.path);
    const e = f.entry('text_encoder.input_ids')!;
    const ids = Int32Array.from({ length: e.nbytes / 8 }, (_, k) => Number(raw.readBigInt64LE(e.offset + 8 * k)));
    const err = relativeError(await values(await te.encodeIds(ids, [2, 7])), await (await f.load('text_encoder.last_hidden_state')).toArray());
    assert.ok(err <= TOL[dtype], `relative error ${err}`);
  });

  run(`sd1-tiny VAE on CUDA in ${dtype}: decode and encode match the reference`, async () => {
    const vae = await Vae.load((await openModel(path.join(FIX, 'sd1-tiny'))).vae!, cuda(dtype));
    const f = await WeightFile.open(path.join(FIX, 'sd1-tiny-io.safetensors'));
    const decoded = await values(await vae.decode(await f.load('vae.latents')));
    assert.ok(relativeError(decoded, await (await f.load('vae.decoded')).toArray()) <= TOL[dtype]);
    const { mean, logvar } = await vae.encode(await f.load('vae.image'));
    assert.ok(relativeError(await values(mean), await (await f.load('vae.mean')).toArray()) <= TOL[dtype]);
    assert.ok(relativeError(await values(logvar), await (await f.load('vae.logvar')).toArray()) <= TOL[dtype]);
  });
}

run('UNet controls on CUDA (AFM fixed and entropy-gated, T-GATE record and replay, capture) match the CPU in float32', async () => {
  const m = await openModel(path.join(FIX, 'sd1-tiny'));
  const cpu = await UNet.load(m.unet);
  const gpu = await UNet.load(m.unet, cuda('float32'));
  const f = await WeightFile.open(path.join(FIX, 'sd1-tiny-io.safetensors'));
  const sample = await f.load('unet.sample');
  const context = await f.load('unet.encoder_hidden_states');
  // The first batch entry alone: what a replay after the gate runs on (the cache holds the mean).
  const first = async (t: Tensor) => {
    const v = await values(t);
    return Tensor.from(v.slice(0, v.length / t.shape[0]!), [1, ...t.shape.slice(1)]);
  };
  const cross = cpu.attentionLayers.filter((l) => l.kind === 'cross').map((l) => l.name);
  const controls = (cache: AttentionCache, mode: 'record-mean' | 'replay'): UNetControls => ({
    layers: {
      [cross[0]!]: { afm: { gainLow: 0.8, gainHigh: 1.3 }, capture: { topK: 2, bins: 4 } },
      [cross[1]!]: { afm: { entropyGate: { strength: 0.5, wLow: 1, wHigh: 1 } } },
      ...Object.fromEntries(cross.slice(2).map((name) => [name, { cache: { handle: cache, mode } }])),
    },
  });
  const outputs: Float32Array[][] = [];
  for (const unet of [cpu, gpu]) {
    const cache = new AttentionCache();
    const recorded = await unet.run(sample, 500, context, controls(cache, 'record-mean'));
    const replayed = await unet.run(await first(sample), 400, await first(context), controls(cache, 'replay'));
    const fixed = recorded.layers.get(cross[0]!)!;
    const gated = recorded.layers.get(cross[1]!)!;
    outputs.push([await values(recorded.output), await values(replayed.output), fixed.capture!.concentration, fixed.capture!.spectrum,
      Float32Array.of(gated.stats.gainLow, gated.stats.gainHigh, gated.stats.entropy ?? NaN)]);
  }
  for (let k = 0; k < outputs[0]!.length; k++) {
    const err = relativeError(outputs[1]![k]!, outputs[0]![k]!);
    assert.ok(err <= 1e-4, `output ${k}: relative error ${err}`);
  }
});

for (const dtype of ['float32', 'float16'] as const) {
  run(`sd1-tiny UNet on CUDA in ${dtype}: CUDA graph replays give the outputs of direct calls`, async () => {
    const m = await openModel(path.join(FIX, 'sd1-tiny'));
    const graphed = await UNet.load(m.unet, cuda(dtype));
    const direct = await UNet.load(m.unet, cuda(dtype));
    direct.cudaGraphs = false;
    const f = await WeightFile.open(path.join(FIX, 'sd1-tiny-io.safetensors'));
    const context = await f.load('unet.encoder_hidden_states');
    const shape = (await f.load('unet.sample')).shape;
    const n = shape.reduce((a, b) => a * b, 1);
    const check = async (step: number, ctx: Tensor, controls?: UNetControls) => {
      const x = Tensor.from(Float32Array.from({ length: n }, (_, k) => Math.sin(17.3 * k + 5.1 * step)), shape);
      const t = 999 - 211 * step;
      const a = await values(await graphed.predict(x, t, ctx, controls));
      const b = await values(await direct.predict(x, t, ctx, controls));
      // The same kernels on the same data; a stale input or output buffer would differ by far more.
      const err = relativeError(a, b);
      assert.ok(err <= 1e-6, `step ${step}: relative error ${err}`);
    };
    // A shape's first call runs directly, the second records and replays, later ones replay.
    for (let step = 0; step < 4; step++) await check(step, context);
    assert.is(graphed.cudaGraphReplays, 3);
    // Calls with controls run directly; a new context length is a new shape (first call direct).
    const cross = graphed.attentionLayers.find((l) => l.kind === 'cross')!.name;
    await check(4, context, { layers: { [cross]: { afm: { gainLow: 0.8, gainHigh: 1.3 } } } });
    // Any [B, 3, D] context.
    const shorter = Tensor.from((await values(context)).slice(0, context.shape[0]! * 3 * context.shape[2]!), [context.shape[0]!, 3, context.shape[2]!]);
    await check(5, shorter);
    assert.is(graphed.cudaGraphReplays, 3);
    // Back to the recorded shape: a replay again.
    await check(6, context);
    assert.is(graphed.cudaGraphReplays, 4);
    assert.is(direct.cudaGraphReplays, 0);
    graphed.dispose();
    direct.dispose();
  });
}

run('generate() on the embedded model: CUDA float32 gives the CPU picture, float16 nearly', async () => {
  const request = { prompt: 'a red circle on the left', seed: 3, steps: 8 };
  const pixels = async (device: 'cpu' | 'cuda', dtype?: DType) => {
    const pipe = await loadPipeline(undefined, { device, ...(dtype ? { dtype } : {}) });
    const { images } = await pipe.generate(request);
    await pipe.close();
    return images[0]!.raw().data;
  };
  const reference = await pixels('cpu');
  // Mean absolute difference in 8-bit levels.
  for (const [dtype, levels] of [['float32', 0.5], ['float16', 3]] as const) {
    const got = await pixels('cuda', dtype);
    let sum = 0;
    for (let k = 0; k < got.length; k++) sum += Math.abs(got[k]! - reference[k]!);
    assert.ok(sum / got.length <= levels, `${dtype}: mean difference ${sum / got.length} levels`);
  }
});
