import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { AttentionCache, Tensor } from '../ts/index.js';
import { openModel } from '../ts/models/layout.js';
import { UNet, type UNetControls } from '../ts/models/unet.js';
import { WeightFile } from '../ts/weights/weight-file.js';
import { relativeError } from './helpers/attention-reference.js';
import { throwsCode } from './helpers/errors.js';
import { randomFloats, rng, SEED } from './helpers/random.js';

// The native UNet2DConditionModel against the float64 PyTorch reference (test/fixtures/README.md):
// relative error <= 1e-4 in float32, both layouts; then the per-layer controls.
const FIX = path.join(__dirname, 'fixtures');
const TOL = 1e-4;
const next = rng();

async function load(model: string, single = false): Promise<UNet> {
  const m = single
    ? await openModel(path.join(FIX, `${model}.safetensors`), { config: path.join(FIX, model) })
    : await openModel(path.join(FIX, model));
  return UNet.load(m.unet);
}

async function io(model: string): Promise<{ sample: Tensor; context: Tensor; timestep: number; out: Float32Array }> {
  const f = await WeightFile.open(path.join(FIX, `${model}-io.safetensors`));
  const t = await (await f.load('unet.timestep')).toArray();
  return {
    sample: await f.load('unet.sample'),
    context: await f.load('unet.encoder_hidden_states'),
    timestep: t[0]!,
    out: await (await f.load('unet.out')).toArray() as Float32Array,
  };
}

async function values(t: Tensor): Promise<Float32Array> {
  return await t.toArray() as Float32Array;
}

/** Rows [from, to) of a [B, ...] array of B equal parts. */
function rows(a: Float32Array, B: number, from: number, to: number): Float32Array {
  const n = a.length / B;
  return a.subarray(from * n, to * n);
}

const fixtures = suite('UNet2DConditionModel: fixtures');

for (const [model, single, layout] of [
  ['sd1-tiny', false, 'folder (sharded)'], ['sd2-tiny', false, 'folder'], ['sd1-tiny', true, 'single file'], ['sd2-tiny', true, 'single file'],
] as const) {
  fixtures(`${model} from the ${layout} matches the reference output`, async () => {
    const unet = await load(model, single);
    const { sample, context, timestep, out } = await io(model);
    const y = await unet.predict(sample, timestep, context);
    assert.equal(y.shape, [2, 4, 8, 8]);
    const err = relativeError(await values(y), out);
    assert.ok(err <= TOL, `relative error ${err}`);
  });
}

fixtures('attention layers are named and sized as diffusers names them', async () => {
  const sd1 = await load('sd1-tiny');
  const sd2 = await load('sd2-tiny');
  const names = [
    'down_blocks.0.attentions.0.transformer_blocks.0.attn1', 'down_blocks.0.attentions.0.transformer_blocks.0.attn2',
    'mid_block.attentions.0.transformer_blocks.0.attn1', 'mid_block.attentions.0.transformer_blocks.0.attn2',
    'up_blocks.1.attentions.0.transformer_blocks.0.attn1', 'up_blocks.1.attentions.0.transformer_blocks.0.attn2',
    'up_blocks.1.attentions.1.transformer_blocks.0.attn1', 'up_blocks.1.attentions.1.transformer_blocks.0.attn2',
  ];
  assert.equal(sd1.attentionLayers.map((l) => l.name), names);
  assert.equal(sd1.attentionLayers.map((l) => l.kind), names.map((n) => (n.endsWith('attn2') ? 'cross' : 'self')));
  assert.equal(sd1.attentionLayers.map((l) => l.downsample), [1, 1, 2, 2, 1, 1, 1, 1]);
  assert.equal(sd1.attentionLayers.map((l) => l.block), ['down', 'down', 'mid', 'mid', 'up', 'up', 'up', 'up']);
  // sd1: attention_head_dim 2 = two heads everywhere; sd2: [2, 4] heads per level, width 6.
  assert.equal(sd1.attentionLayers.map((l) => [l.heads, l.headDim]), [[2, 6], [2, 6], [2, 12], [2, 12], [2, 6], [2, 6], [2, 6], [2, 6]]);
  assert.equal(sd2.attentionLayers.map((l) => [l.heads, l.headDim]), [[2, 6], [2, 6], [4, 6], [4, 6], [2, 6], [2, 6], [2, 6], [2, 6]]);
  assert.is(sd1.sizeMultiple, 2);
});

fixtures('cudaGraphs: a setting the CPU keeps but does not act on; non-booleans are refused', async () => {
  const unet = await load('sd1-tiny');
  const { sample, context, timestep } = await io('sd1-tiny');
  assert.is(unet.cudaGraphs, true);
  const before = await values(await unet.predict(sample, timestep, context));
  for (let k = 0; k < 2; k++) assert.equal(await values(await unet.predict(sample, timestep, context)), before);
  assert.is(unet.cudaGraphReplays, 0);
  unet.cudaGraphs = false;
  assert.is(unet.cudaGraphs, false);
  const error = (() => {
    try {
      (unet as { cudaGraphs: unknown }).cudaGraphs = 'no';
    } catch (e) {
      return e as { code?: string };
    }
    return null;
  })();
  assert.is(error?.code, 'E_INVALID_ARGUMENT');
  unet.dispose();
  assert.throws(() => unet.cudaGraphs, (e: { code?: string }) => e.code === 'E_DISPOSED');
});

fixtures('per-entry timesteps: each batch entry is computed at its own timestep', async () => {
  const unet = await load('sd2-tiny');
  const { sample, context, timestep } = await io('sd2-tiny');
  const same = await values(await unet.predict(sample, [timestep, timestep], context));
  assert.equal(same, await values(await unet.predict(sample, timestep, context)));
  const mixed = await values(await unet.predict(sample, [timestep, 37.5], context));
  const s = await values(sample);
  const c = await values(context);
  const one = await values(await unet.predict(Tensor.from(rows(s, 2, 1, 2), [1, 4, 8, 8]), 37.5, Tensor.from(rows(c, 2, 1, 2), [1, 7, 48])));
  assert.ok(relativeError(rows(mixed, 2, 1, 2), one) <= 1e-6);
  assert.ok(relativeError(rows(mixed, 2, 0, 1), rows(same, 2, 0, 1)) <= 1e-6);
});

fixtures('other sizes: a 4x6 sample and a context of 3 tokens run', async () => {
  const unet = await load('sd1-tiny');
  const y = await unet.predict(Tensor.from(randomFloats(3 * 4 * 4 * 6, next), [3, 4, 4, 6]), 999, Tensor.from(randomFloats(3 * 3 * 32, next), [3, 3, 32]));
  assert.equal(y.shape, [3, 4, 4, 6]);
  assert.ok((await values(y)).every(Number.isFinite));
});

fixtures('inputs in another dtype are converted to the model\'s placement (CPU float32) for the call', async () => {
  const unet = await load('sd1-tiny');
  const { sample, context, timestep } = await io('sd1-tiny');
  assert.equal(unet.placement, { device: 'cpu', dtype: 'float32' });
  const half = await sample.to({ dtype: 'float16' });
  const rounded = await half.to({ dtype: 'float32' });
  const y = await unet.predict(half, timestep, context);
  assert.is(y.dtype, 'float32');
  assert.equal(await values(y), await values(await unet.predict(rounded, timestep, context)));
  // The caller's tensor is left as it was.
  assert.is(half.dtype, 'float16');
  assert.equal(await (await half.to({ dtype: 'float32' })).toArray(), await rounded.toArray());
});

const controls = suite('UNet2DConditionModel: per-layer controls');
const CROSS = (unet: UNet) => unet.attentionLayers.filter((l) => l.kind === 'cross').map((l) => l.name);
const SELF = (unet: UNet) => unet.attentionLayers.filter((l) => l.kind === 'self').map((l) => l.name);
const every = (names: string[], c: NonNullable<UNetControls['layers']>[string]) => Object.fromEntries(names.map((n) => [n, c]));

controls('AFM: unit gains leave the output unchanged, other gains change it, stats come back per layer', async () => {
  const unet = await load('sd1-tiny');
  const { sample, context, timestep } = await io('sd1-tiny');
  const plain = await values(await unet.predict(sample, timestep, context));
  const unit = await unet.run(sample, timestep, context, { layers: every(CROSS(unet), { afm: { gainLow: 1, gainHigh: 1 } }) });
  assert.ok(relativeError(await values(unit.output), plain) <= 1e-5);
  assert.equal([...unit.layers.keys()], CROSS(unet));
  const edited = await unet.run(sample, timestep, context, { layers: every(CROSS(unet), { afm: { gainLow: 0.8, gainHigh: 1.6, cutoff: 0.3 } }) });
  assert.ok(relativeError(await values(edited.output), plain) > 1e-3, 'AFM must move the output');
  assert.equal(edited.layers.get(CROSS(unet)[0]!)!.stats, { entropy: null, gainLow: Math.fround(0.8), gainHigh: Math.fround(1.6) });
  const gated = await unet.run(sample, timestep, context, {
    layers: { [CROSS(unet)[1]!]: { afm: { entropyGate: { strength: 0.2, wLow: -0.5, wHigh: 1 } } } },
  });
  const s = gated.layers.get(CROSS(unet)[1]!)!.stats;
  assert.ok(s.entropy !== null && s.entropy > 0 && s.entropy <= 1, `entropy ${s.entropy}`);
  assert.ok(Math.abs(s.gainHigh - (1 + 0.2 * (1 + 4 * (1 - s.entropy!)))) < 1e-5);
});

controls('capture: concentration maps and spectra of the layers asked, on their own grids', async () => {
  const unet = await load('sd2-tiny');
  const { sample, context, timestep } = await io('sd2-tiny');
  const asked = [CROSS(unet)[0]!, CROSS(unet)[1]!, SELF(unet)[2]!];
  const r = await unet.run(sample, timestep, context, { layers: every(asked, { capture: { topK: 3, bins: 5 } }) });
  assert.equal([...r.layers.keys()], asked);
  for (const name of asked) {
    const c = r.layers.get(name)!.capture!;
    const side = 8 / unet.attentionLayers.find((l) => l.name === name)!.downsample;
    assert.equal(c.grid, [side, side]);
    assert.is(c.concentration.length, 2 * side * side);
    assert.is(c.bins, 5);
    for (let b = 0; b < 2; b++) {
      const sum = c.spectrum.subarray(b * 5, b * 5 + 5).reduce((x, y) => x + y, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `spectrum row sums to ${sum}`);
    }
  }
  assert.ok(relativeError(await values(r.output), await values(await unet.predict(sample, timestep, context))) <= 1e-6, 'capture must not change the output');
});

controls('T-GATE record / replay: a replayed layer is skipped (context no longer matters) and returns what was recorded', async () => {
  const unet = await load('sd1-tiny');
  const { sample, context, timestep } = await io('sd1-tiny');
  const plain = await values(await unet.predict(sample, timestep, context));
  const caches = Object.fromEntries(CROSS(unet).map((n) => [n, new AttentionCache()]));
  const record = await unet.predict(sample, timestep, context, { layers: Object.fromEntries(CROSS(unet).map((n) => [n, { cache: { handle: caches[n]!, mode: 'record' } }])) });
  assert.equal(await values(record), plain, 'recording does not change the output');
  assert.equal(caches[CROSS(unet)[0]!]!.shape, [2, 64, 12]);
  const replay = { layers: Object.fromEntries(CROSS(unet).map((n) => [n, { cache: { handle: caches[n]!, mode: 'replay' as const } }])) };
  assert.equal(await values(await unet.predict(sample, timestep, context, replay)), plain);
  // Text enters only through attn2: with every attn2 replayed, another context gives the same output.
  const other = Tensor.from(randomFloats(2 * 5 * 32, next), [2, 5, 32]);
  assert.equal(await values(await unet.predict(sample, timestep, other, replay)), plain);
  assert.ok(relativeError(await values(await unet.predict(sample, timestep, other)), plain) > 1e-3);
});

controls('T-GATE record-mean stores the mean of the guidance halves: replay at half the batch', async () => {
  const unet = await load('sd2-tiny');
  const { sample, context, timestep } = await io('sd2-tiny');
  // Both halves identical, so the mean is each half: replay at batch 1 reproduces the plain run.
  const s = rows(await values(sample), 2, 1, 2);
  const c = rows(await values(context), 2, 1, 2);
  const one = Tensor.from(s, [1, 4, 8, 8]);
  const ctx = Tensor.from(c, [1, 7, 48]);
  const twice = (a: Float32Array) => { const r = new Float32Array(2 * a.length); r.set(a); r.set(a, a.length); return r; };
  const caches = Object.fromEntries(CROSS(unet).map((n) => [n, new AttentionCache()]));
  await unet.predict(Tensor.from(twice(s), [2, 4, 8, 8]), timestep, Tensor.from(twice(c), [2, 7, 48]), {
    layers: Object.fromEntries(CROSS(unet).map((n) => [n, { cache: { handle: caches[n]!, mode: 'record-mean' as const } }])),
  });
  assert.equal(caches[CROSS(unet)[1]!]!.shape, [1, 16, 24]);
  const replayed = await unet.predict(one, timestep, Tensor.from(randomFloats(9 * 48, next), [1, 9, 48]), {
    layers: Object.fromEntries(CROSS(unet).map((n) => [n, { cache: { handle: caches[n]!, mode: 'replay' as const } }])),
  });
  assert.ok(relativeError(await values(replayed), await values(await unet.predict(one, timestep, ctx))) <= 1e-6);
});

controls('NAG against the same context is a no-op, against another it moves the output', async () => {
  const unet = await load('sd2-tiny');
  const { sample, context, timestep } = await io('sd2-tiny');
  const plain = await values(await unet.predict(sample, timestep, context));
  const nag = every(CROSS(unet), { guidance: { kind: 'nag', scale: 4, tau: 2.5, alpha: 0.5 } });
  const same = await unet.predict(sample, timestep, context, { layers: nag, negativeContext: context });
  assert.ok(relativeError(await values(same), plain) <= 1e-5);
  const negative = Tensor.from(randomFloats(2 * 4 * 48, next), [2, 4, 48]);
  const moved = await unet.predict(sample, timestep, context, { layers: nag, negativeContext: negative });
  assert.ok(relativeError(await values(moved), plain) > 1e-3);
});

controls('PAG perturbs only the rows it names; GAG moves the output', async () => {
  const unet = await load('sd1-tiny');
  const { sample, context, timestep } = await io('sd1-tiny');
  const plain = await values(await unet.predict(sample, timestep, context));
  const pag = await values(await unet.predict(sample, timestep, context, { layers: every(SELF(unet), { guidance: { kind: 'pag', batch: [1, 2] } }) }));
  assert.ok(relativeError(rows(pag, 2, 0, 1), rows(plain, 2, 0, 1)) <= 1e-6);
  assert.ok(relativeError(rows(pag, 2, 1, 2), rows(plain, 2, 1, 2)) > 1e-3);
  const gag = await values(await unet.predict(sample, timestep, context, { layers: every(CROSS(unet), { guidance: { kind: 'gag', scale: 2 } }) }));
  assert.ok(relativeError(gag, plain) > 1e-3);
});

controls('bad inputs and controls are typed errors', async () => {
  const unet = await load('sd1-tiny');
  const { sample, context, timestep } = await io('sd1-tiny');
  const [cross] = CROSS(unet);
  const [self] = SELF(unet);
  await throwsCode(() => unet.predict(sample, timestep, context, { layers: { 'down_blocks.9.attn2': {} } }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => unet.predict(sample, timestep, context, { layers: { [self!]: { afm: { gainHigh: 2 } } } }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => unet.predict(sample, timestep, context, { layers: { [cross!]: { guidance: { kind: 'pag' } } } }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => unet.predict(sample, timestep, context, { layers: { [cross!]: { guidance: { kind: 'nag' } } } }), 'E_SHAPE');
  await throwsCode(() => unet.predict(sample, timestep, context, { layers: { [cross!]: { cache: { handle: new AttentionCache(), mode: 'replay' } } } }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => unet.predict(sample, timestep, context, { layers: { [cross!]: { afm: { cutoff: 2 } } } }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => unet.predict(sample, [1, 2, 3], context), 'E_INVALID_ARGUMENT');
  await throwsCode(() => unet.predict(Tensor.from(new Float32Array(2 * 4 * 7 * 8), [2, 4, 7, 8]), timestep, context), 'E_SHAPE');
  await throwsCode(() => unet.predict(sample, timestep, Tensor.from(new Float32Array(2 * 7 * 31), [2, 7, 31])), 'E_SHAPE');
  await throwsCode(() => unet.predict(Tensor.from(new Float32Array(2 * 3 * 8 * 8), [2, 3, 8, 8]), timestep, context), 'E_SHAPE');
  // Still usable after every error.
  assert.equal((await unet.predict(sample, timestep, context)).shape, [2, 4, 8, 8]);
});

fixtures.run();
controls.run();
console.log(`models.unet: seed ${SEED}`);
