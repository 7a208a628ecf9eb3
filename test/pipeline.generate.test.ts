import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import extractChunks from 'png-chunks-extract';
import sharp from 'sharp';

import { loadPipeline, type GenerateOptions, type Pipeline } from '../ts/index.js';
import { GenerationPlan, gateActions } from '../ts/pipeline/plan.js';
import { parseGenerateOptions } from '../ts/pipeline/options.js';
import { withTextChunk } from '../ts/pipeline/image.js';
import { colour, panels } from '../ts/pipeline/fingerprint.js';
import { throwsCode } from './helpers/errors.js';

// generate() on the tiny fixture models (sd1-tiny: latent, VAE, epsilon; sd2-tiny: v-prediction).
// Random weights make meaningless pictures; these tests check the sampler's bookkeeping exactly.
const FIX = path.join(__dirname, 'fixtures');
let sd1: Pipeline;
let sd2: Pipeline;
const BASE: GenerateOptions = { prompt: 'a red circle on the left', steps: 6, seed: 7, width: 16, height: 16 };

async function pixels(pipe: Pipeline, o: Partial<GenerateOptions> = {}): Promise<Uint8Array[]> {
  const r = await pipe.generate({ ...BASE, ...o });
  return r.images.map((i) => i.raw().data);
}

const determinism = suite('generate: determinism and identities');
determinism.before(async () => {
  sd1 = await loadPipeline(path.join(FIX, 'sd1-tiny'));
  sd2 = await loadPipeline(path.join(FIX, 'sd2-tiny'));
});

determinism('the same seed and options give identical PNG bytes; another seed differs', async () => {
  for (const scheduler of ['ddim', 'euler', 'euler-ancestral', 'dpmpp-2m'] as const) {
    const a = await (await sd1.generate({ ...BASE, scheduler })).images[0]!.png();
    const b = await (await sd1.generate({ ...BASE, scheduler })).images[0]!.png();
    assert.ok(a.equals(b), `${scheduler}: repeated runs differ`);
    const c = await (await sd1.generate({ ...BASE, scheduler, seed: 8 })).images[0]!.png();
    assert.not.ok(a.equals(c), `${scheduler}: the seed is ignored`);
  }
});

determinism('image b of a batch is the image of seed + b generated alone', async () => {
  const batch = await sd2.generate({ ...BASE, batchSize: 3, scheduler: 'euler-ancestral' });
  assert.equal(batch.images.map((i) => i.seed), [7, 8, 9]);
  const alone = await sd2.generate({ ...BASE, seed: 9, scheduler: 'euler-ancestral' });
  assert.equal(batch.images[2]!.raw().data, alone.images[0]!.raw().data);
});

determinism('AFM with strength 0 and T-GATE with gateStep >= steps equal a plain run bit for bit', async () => {
  const plain = await pixels(sd1);
  assert.equal(await pixels(sd1, { afm: { strength: 0 } }), plain);
  assert.equal(await pixels(sd1, { tgate: { gateStep: 6 } }), plain);
  assert.equal(await pixels(sd1, { tgate: { gateStep: 50 } }), plain);
  assert.not.equal(await pixels(sd1, { afm: { strength: 1.5 } }), plain);
  assert.not.equal(await pixels(sd1, { tgate: { gateStep: 3 } }), plain);
});

determinism('several prompts with their negative prompts, T-GATE intervals and NAG\'s own negative prompt run deterministically', async () => {
  const o: GenerateOptions = {
    ...BASE, prompt: ['a red circle', 'a blue square'], negativePrompt: ['green', 'yellow'], batchSize: 2,
    tgate: { gateStep: 4, warmUp: 1, spInterval: 2, fiInterval: 2 }, attentionGuidance: { kind: 'nag', negativePrompt: 'blurry' },
    afm: { strength: 0.5, layers: 'all' }, capture: { layers: ['down_blocks.0.attentions.0.transformer_blocks.0.attn2'], topK: 2 },
  };
  const a = await sd1.generate(o);
  assert.is(a.images.length, 4);
  assert.match(a.images[2]!.parameters, /^a blue square\nNegative prompt: yellow\n/);
  assert.equal((await sd1.generate(o)).images.map((i) => i.raw().data), a.images.map((i) => i.raw().data));
  assert.equal(a.capture!.layers.map((l) => l.name), ['down_blocks.0.attentions.0.transformer_blocks.0.attn2']);
  // The first prompt's images equal those of a run with that prompt alone (every row is computed on
  // its own; the entropy gate would differ, as its H is one mean over the call's whole batch).
  const first = await sd1.generate({ ...o, prompt: 'a red circle', negativePrompt: 'green' });
  assert.equal(first.images.map((i) => i.raw().data), a.images.slice(0, 2).map((i) => i.raw().data));
});

determinism('guidanceScale 1 drops the unconditional branch; NAG, GAG and PAG run and change the image', async () => {
  const plain = await pixels(sd2);
  assert.not.equal(await pixels(sd2, { guidanceScale: 1 }), plain);
  for (const attentionGuidance of [{ kind: 'gag' as const, scale: 2 }, { kind: 'nag' as const }, { kind: 'pag' as const }]) {
    const r = await sd2.generate({ ...BASE, attentionGuidance });
    assert.not.equal(r.images.map((i) => i.raw().data), plain, attentionGuidance.kind);
  }
  // Composition: T-GATE after the gate drops PAG's branch with CFG's; AFM on top.
  const all = await sd2.generate({ ...BASE, attentionGuidance: { kind: 'pag' }, tgate: { gateStep: 3 }, afm: {} });
  assert.is(all.images.length, 1);
});

determinism('guidanceRescale: 0 is plain CFG bit for bit; above 0 it changes the picture while CFG runs and is recorded', async () => {
  const plain = await pixels(sd2);
  assert.equal(await pixels(sd2, { guidanceRescale: 0 }), plain);
  const r = await sd2.generate({ ...BASE, guidanceRescale: 0.7 });
  assert.not.equal(r.images.map((i) => i.raw().data), plain);
  assert.match(r.images[0]!.parameters, /CFG scale: 7.5, CFG rescale: 0.7, /);
  // Without the unconditional branch there is nothing to rescale.
  assert.equal(await pixels(sd2, { guidanceScale: 1, guidanceRescale: 0.7 }), await pixels(sd2, { guidanceScale: 1 }));
  await throwsCode(() => sd2.generate({ ...BASE, guidanceRescale: 1.2 }), 'E_INVALID_ARGUMENT');
});

const plan = suite('generate: the T-GATE and AFM schedule');

plan('gateActions follows tgate.md §3 (SD-XL: N=25, gate 10, sp 5, fi 1, warm-up 2)', () => {
  const t = { gateStep: 10, warmUp: 2, spInterval: 5, fiInterval: 1 };
  const self = Array.from({ length: 25 }, (_, s) => gateActions(s, t, true).self);
  const cross = Array.from({ length: 25 }, (_, s) => gateActions(s, t, true).cross);
  assert.equal(self.slice(0, 10), ['compute', 'compute', 'record', 'replay', 'replay', 'record', 'replay', 'replay', 'replay', 'record-mean']);
  assert.ok(self.slice(10).every((a) => a === 'record'));
  assert.equal(cross.slice(0, 10), [...Array(9).fill('compute'), 'record-mean']);
  assert.ok(cross.slice(10).every((a) => a === 'replay'));
  // PixArt: gate 15, sp 3, warm-up 2: SA cached 2, 3, 6, 9, 12; replayed 4, 5, 7, 8, 10, 11, 13.
  const pix = Array.from({ length: 15 }, (_, s) => gateActions(s, { gateStep: 15, warmUp: 2, spInterval: 3, fiInterval: 1 }, true).self);
  assert.equal([2, 3, 6, 9, 12].map((s) => pix[s]), Array(5).fill('record'));
  assert.equal([4, 5, 7, 8, 10, 11, 13].map((s) => pix[s]), Array(7).fill('replay'));
  // Without guidance halves (no CFG) the gate records the batch as is.
  assert.equal(gateActions(9, t, false), { cross: 'record', self: 'record' });
});

plan('the batch halves after the gate; the PAG branch goes with it; AFM gains follow u = s / (S - 1)', async () => {
  const o = parseGenerateOptions({ prompt: 'x', tgate: { gateStep: 3 }, attentionGuidance: { kind: 'pag' }, afm: { strength: 0.5 } });
  const p = new GenerationPlan(sd1.unet.attentionLayers, o, 5, 2, true);
  assert.equal([0, 1, 2, 3, 4].map((s) => p.call(s).branches), [
    ['uncond', 'cond', 'perturbed'], ['uncond', 'cond', 'perturbed'], ['uncond', 'cond', 'perturbed'], ['cond'], ['cond'],
  ]);
  const gate = p.call(2);
  const cross = 'down_blocks.0.attentions.0.transformer_blocks.0.attn2';
  // The gate's mean covers the two guidance halves (4 rows of 6), not the PAG branch.
  assert.equal(gate.layers[cross]!.cache!.mode, 'record-mean');
  assert.is(gate.layers[cross]!.cache!.rows, 4);
  assert.equal(gate.layers['mid_block.attentions.0.transformer_blocks.0.attn1']!.guidance, { kind: 'pag', batch: [4, 6] });
  const after = p.call(3);
  assert.is(after.layers[cross]!.cache!.mode, 'replay');
  assert.is(after.layers[cross]!.afm, undefined, 'a replayed layer is not edited');
  assert.equal(p.call(0).layers[cross]!.afm, { cutoff: 0.25, width: 0.05, preserveDC: true, gainLow: 1.5, gainHigh: 1 });
  assert.equal(p.call(0).afm, { u: 0, wLow: 1, wHigh: 0 });
  assert.equal(p.call(2).afm, { u: 0.5, wLow: 0.5, wHigh: 0.5 });
  // AFM's default layers are the down blocks' cross-attention only.
  assert.equal(Object.keys(p.call(0).layers).filter((n) => p.call(0).layers[n]!.afm), [cross]);
  p.dispose();
});

plan('every AFM, guidance and capture option reaches the layers it names', () => {
  const layers = sd1.unet.attentionLayers;
  const cross = layers.filter((l) => l.kind === 'cross').map((l) => l.name);
  const make = (o: Partial<GenerateOptions>, steps = 5) => new GenerationPlan(layers, parseGenerateOptions({ prompt: 'x', ...o }), steps, 1, true);
  const afmAt = (o: Partial<GenerateOptions>, s: number, name = cross[0]!) => make(o).call(s).layers[name]?.afm;
  assert.equal(afmAt({ afm: { schedule: 'constant', strength: 0.4 } }, 3), { cutoff: 0.25, width: 0.05, preserveDC: true, gainLow: 1.4, gainHigh: 1.4 });
  assert.equal(afmAt({ afm: { schedule: 'lf-only' } }, 4), { cutoff: 0.25, width: 0.05, preserveDC: true, gainLow: 1.2, gainHigh: 1 });
  assert.equal(afmAt({ afm: { schedule: 'hf-only', cutoff: 0.4, width: 0, preserveDC: false } }, 0), { cutoff: 0.4, width: 0, preserveDC: false, gainLow: 1, gainHigh: 1.2 });
  assert.equal(afmAt({ afm: { entropyGate: { beta: 10 } } }, 1)!.entropyGate, { strength: 0.2, wLow: 0.75, wHigh: 0.25, beta: 10, gamma: 4 });
  assert.equal(afmAt({ afm: { entropyGate: true } }, 4)!.entropyGate, { strength: 0.2, wLow: 0, wHigh: 1, beta: 20, gamma: 4 });
  const all = make({ afm: { layers: 'all' } }).call(0).layers;
  assert.equal(Object.keys(all).filter((n) => all[n]!.afm), cross);
  const named = make({ afm: { layers: [cross[2]!] } }).call(0).layers;
  assert.equal(Object.keys(named), [cross[2]]);
  // GAG: the up and down blocks' cross-attention by default (mid excluded); NAG: every attn2.
  const gag = make({ attentionGuidance: { kind: 'gag', scale: 3, eta: Infinity } }).call(0).layers;
  assert.equal(Object.keys(gag), cross.filter((n) => !n.startsWith('mid')));
  assert.equal(gag[cross[0]!]!.guidance, { kind: 'gag', scale: 3, alpha: 1.5, eta: Infinity, zeta: 0 });
  const nag = make({ attentionGuidance: { kind: 'nag', tau: 2, alpha: 0.25 } }).call(0).layers;
  assert.equal(Object.keys(nag), cross);
  assert.equal(nag[cross[3]!]!.guidance, { kind: 'nag', scale: 5, tau: 2, alpha: 0.25 });
  const pag = make({ attentionGuidance: { kind: 'pag', layers: 'up' } }).call(0);
  assert.equal(Object.keys(pag.layers), layers.filter((l) => l.kind === 'self' && l.block === 'up').map((l) => l.name));
  const cap = make({ capture: { layers: 'down', topK: 3, bins: 5 } }).call(0).layers;
  assert.equal(cap, { [cross[0]!]: { capture: { topK: 3, bins: 5 } } });
  // T-GATE's intervals: warm-up 1, sp 2, fi 2 at gate 4 of 7.
  const t = make({ tgate: { gateStep: 4, warmUp: 1, spInterval: 2, fiInterval: 2 } }, 7);
  assert.equal([0, 1, 2, 3, 4, 5, 6].map((s) => t.call(s).self), ['compute', 'record', 'record', 'record-mean', 'record', 'replay', 'record']);
});

const output = suite('generate: output, progress, cancellation, capture');

output('PNG: the image as encoded, with the parameters in a text chunk; save() is atomic', async () => {
  const r = await sd1.generate({ ...BASE, negativePrompt: 'blurry', afm: {} });
  const img = r.images[0]!;
  const png = await img.png();
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.equal([info.width, info.height, info.channels], [16, 16, 3]);
  assert.equal(new Uint8Array(data), img.raw().data);
  const text = extractChunks(png).find((c) => c.name === 'tEXt')!;
  const [key, value] = Buffer.from(text.data).toString('latin1').split('\0');
  assert.is(key, 'parameters');
  assert.match(value!, /^a red circle on the left\nNegative prompt: blurry\nSteps: 6, Sampler: DPM\+\+ 2M, CFG scale: 7.5, Seed: 7, Size: 16x16, Model: sd1-tiny, AFM: strength 0.2 curve/);
  // Non-Latin-1 parameters go in an iTXt chunk.
  const utf8 = extractChunks(withTextChunk(png, 'parameters', 'un chat 猫')).find((c) => c.name === 'iTXt')!;
  assert.ok(Buffer.from(utf8.data).toString('utf8').endsWith('un chat 猫'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'da-save-'));
  await img.save(path.join(dir, 'x.png'));
  assert.equal(fs.readdirSync(dir), ['x.png']);
  assert.ok(fs.readFileSync(path.join(dir, 'x.png')).equals(png));
  await throwsCode(() => img.save(path.join(dir, 'missing', 'x.png')), 'E_IO');
  assert.equal(fs.readdirSync(dir), ['x.png']);
});

output('onProgress reports every phase and model call; timings cover each call', async () => {
  const seen: string[] = [];
  const r = await sd1.generate({ ...BASE, onProgress: (p) => seen.push(`${p.phase}:${p.step}/${p.steps}`) });
  assert.equal(seen, ['encode:0/6', 'denoise:0/6', ...[1, 2, 3, 4, 5, 6].map((s) => `denoise:${s}/6`), 'decode:6/6']);
  assert.is(r.timings.stepsMs.length, 6);
  assert.ok(r.timings.totalMs >= r.timings.stepsMs.reduce((a, b) => a + b, 0));
});

output('an abort stops at the next model call, rejects with an AbortError, and the pipeline stays usable', async () => {
  const controller = new AbortController();
  let calls = 0;
  const run = sd1.generate({ ...BASE, signal: controller.signal, onProgress: (p) => { if (p.phase === 'denoise' && p.step === 2) controller.abort(); calls = p.step; } });
  await run.then(() => assert.unreachable('must reject'), (err: Error) => assert.is(err.name, 'AbortError'));
  assert.is(calls, 2);
  await sd1.generate({ ...BASE, signal: AbortSignal.abort() }).then(() => assert.unreachable('must reject'), (err: Error) => assert.is(err.name, 'AbortError'));
  assert.equal(await pixels(sd1), await pixels(sd1));
});

output('capture: one spectrum per model call and cross-attention layer, NaN where T-GATE replays', async () => {
  const r = await sd1.generate({ ...BASE, capture: { bins: 4 }, tgate: { gateStep: 4 } });
  const layers = r.capture!.layers;
  assert.equal(layers.map((l) => l.name), sd1.unet.attentionLayers.filter((l) => l.kind === 'cross').map((l) => l.name));
  for (const l of layers) {
    assert.is(l.spectra.length, 6 * 4);
    for (let s = 0; s < 6; s++) {
      const row = Array.from(l.spectra.subarray(s * 4, s * 4 + 4));
      if (s < 4) assert.ok(row.every(Number.isFinite) && Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4 || row.every((v) => v === 0), `${l.name} call ${s}`);
      else assert.ok(row.every(Number.isNaN), `${l.name} call ${s} is replayed`);
    }
  }
});

output('fingerprint panels average the layers of each grid, ignoring calls a layer did not run', () => {
  const nan = NaN;
  const capture = {
    steps: 2,
    layers: [
      { name: 'a', grid: [4, 4] as [number, number], bins: 2, spectra: Float32Array.from([0.2, 0.8, nan, nan]) },
      { name: 'b', grid: [4, 4] as [number, number], bins: 2, spectra: Float32Array.from([0.4, 0.6, 0.5, 0.5]) },
      { name: 'c', grid: [2, 2] as [number, number], bins: 2, spectra: Float32Array.from([1, 0, nan, nan]) },
    ],
  };
  const ps = panels(capture);
  assert.equal(ps.map((p) => [p.grid, p.layers]), [[[4, 4], 2], [[2, 2], 1]]);
  assert.ok(Math.abs(ps[0]!.values[0]! - 0.3) < 1e-6 && Math.abs(ps[0]!.values[2]! - 0.5) < 1e-6);
  assert.ok(Number.isNaN(ps[1]!.values[2]!));
  assert.is(colour(0), 'rgb(68,1,84)');
  assert.is(colour(1), 'rgb(253,231,37)');
});

output('bad options are E_INVALID_ARGUMENT before any model work', async () => {
  await throwsCode(() => sd1.generate({ ...BASE, width: 15 }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => sd1.generate({ ...BASE, steps: 0 }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => sd1.generate({ ...BASE, scheduler: 'plms' as 'ddim' }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => sd1.generate({ ...BASE, afm: { layers: ['mid_block.attentions.0.transformer_blocks.0.attn1'] } }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => sd1.generate({ ...BASE, attentionGuidance: { kind: 'pag', layers: ['nope'] } }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => sd1.generate({ ...BASE, prompt: ['a', 'b'], negativePrompt: ['x', 'y', 'z'] }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => sd1.generate({ ...BASE, typo: 1 } as GenerateOptions), 'E_INVALID_ARGUMENT');
  await throwsCode(() => sd1.generate({ ...BASE, ddim: true } as unknown as GenerateOptions), 'E_INVALID_ARGUMENT');
});

determinism.run();
plan.run();
output.run();
