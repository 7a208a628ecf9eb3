/**
 * Fuzz cases of model loading: `openModel` and `loadPipeline` on mutated copies of the sd1-tiny
 * fixtures (model-mutations.ts), written to a temporary folder, and on locations and options that
 * are not a model. A load that succeeds then runs one tiny `generate()` (2 steps, 16x16) or
 * `unet.predict`, which must succeed or throw a typed error too, and the pipeline is closed.
 */
import fs from 'node:fs';
import path from 'node:path';

import { Tensor, loadPipeline, type GenerateResult, type LoadOptions, type Pipeline } from '../../ts/index.js';
import { openModel, type ModelSource } from '../../ts/models/layout.js';
import { Arena } from './arena.js';
import { CheckFailure, type Expectation, type FuzzCase } from './case.js';
import { mutateFolder, mutateSingleFile, overall, type Applied } from './model-mutations.js';
import { Random } from './random.js';
import type { Verdict } from './safetensors-mutations.js';
import { show } from './show.js';

export interface ModelContext {
  /** test/fixtures */
  fixtures: string;
  /** A folder of this worker's own, for the mutated copies. */
  scratch: string;
}

/** `predict-dispose` disposes the UNet while its call runs, which must finish first (UNet.dispose). */
type Run = 'openModel' | 'generate' | 'predict' | 'predict-dispose';
type Loaded = ModelSource | GenerateResult | Tensor;

/** Prompts that exercise the tokenizer: empty, long, special tokens, non-ASCII, broken UTF-16. */
const PROMPTS = ['a red circle', '', 'x '.repeat(500), '<|endoftext|><|startoftext|>', '\u0000\u0001', '\ud800', 'ça fait 🐱 猫 ١٢٣', 'e\u0301\u0301\u0301', ' \t\n '];

/** The inputs of the run after a successful load; values are drawn from `seed` when the sizes are known. */
interface RunInput {
  prompt: string;
  seed: number;
  batch: number;
  timestep: number;
}

async function runLoaded(pipe: Pipeline, run: Run, input: RunInput, arena: Arena): Promise<GenerateResult | Tensor> {
  if (run === 'generate') return pipe.generate({ prompt: input.prompt, steps: 2, width: 16, height: 16, seed: input.seed });
  const { in_channels: C, cross_attention_dim: D } = pipe.unet.config;
  const r = new Random(input.seed);
  const B = input.batch;
  const sample = arena.keep(Tensor.from(r.normals(B * C * 64), [B, C, 8, 8]));
  const context = arena.keep(Tensor.from(r.normals(B * 7 * D), [B, 7, D]));
  const running = pipe.unet.predict(sample, input.timestep, context);
  if (run === 'predict-dispose') pipe.unet.dispose();
  return arena.keep(await running);
}

function check(run: Run, result: Loaded, input: RunInput, outChannels: number): void {
  if (run === 'generate') {
    const g = result as GenerateResult;
    if (g.images.length !== 1 || g.images[0]!.raw().data.length !== 16 * 16 * 3) throw new CheckFailure(`generate gave ${g.images.length} images of ${g.images[0]?.raw().data.length} bytes`);
  } else if (run === 'predict' || run === 'predict-dispose') {
    const t = result as Tensor;
    const want = [input.batch, outChannels, 8, 8].join();
    if (t.shape.join() !== want) throw new CheckFailure(`predict gave [${t.shape}], expected [${want}]`);
  }
}

function expectation(verdict: Verdict, run: Run, why: string): Expectation | undefined {
  if (verdict === 'valid') return { kind: 'succeed' };
  if (verdict === 'invalid' || (verdict === 'unloadable' && run !== 'openModel')) return { kind: 'reject', codes: ['E_MODEL_FORMAT'], why };
  return undefined;
}

/** A mutated copy of the folder or the single file, loaded and run. */
function mutatedModelCase(r: Random, ctx: ModelContext, caseDir: string): FuzzCase<Loaded> {
  const arena = new Arena();
  const singleFile = r.chance(0.35);
  const mutations = r.weighted<number>([[0, 1], [1, 16], [2, 2], [3, 1]]);
  const run = r.weighted<Run>([['generate', 5], ['predict', 2], ['predict-dispose', 0.5], ['openModel', 3]]);
  const input: RunInput = { prompt: r.pick(PROMPTS), seed: r.int(0, 2 ** 31), batch: r.int(1, 2), timestep: r.int(0, 999) };
  let location: string;
  let options: LoadOptions = {};
  const applied: Applied[] = [];
  let verdict: Verdict;

  fs.mkdirSync(caseDir, { recursive: true });
  const folder = path.join(caseDir, 'sd1-tiny');
  if (singleFile) {
    location = path.join(caseDir, 'sd1-tiny.safetensors');
    fs.copyFileSync(path.join(ctx.fixtures, 'sd1-tiny.safetensors'), location);
    // Mostly the single file's bytes; sometimes the folder that describes it.
    const mutateConfig = r.chance(0.2);
    if (mutateConfig) fs.cpSync(path.join(ctx.fixtures, 'sd1-tiny'), folder, { recursive: true });
    for (let i = 0; i < mutations; i++) {
      if (!mutateConfig || !r.chance(0.7)) applied.push(mutateSingleFile(r, location));
      else {
        // The folder's weights are opened (headers checked) but not loaded: the single file's are.
        const a = mutateFolder(r, folder);
        applied.push(a.verdict === 'unloadable' ? { ...a, verdict: 'unknown' } : a);
      }
    }
    options = { config: mutateConfig ? folder : path.join(ctx.fixtures, 'sd1-tiny') };
    verdict = overall(applied);
    // Without { config }, the tiny checkpoint does not fit the built-in SD 1.x values (fixtures README).
    if (r.chance(0.1)) {
      options = {};
      verdict = 'invalid';
      applied.push({ what: 'no { config }: the built-in SD 1.x config does not fit the tiny model', verdict: 'invalid' });
    }
  } else {
    location = folder;
    fs.cpSync(path.join(ctx.fixtures, 'sd1-tiny'), folder, { recursive: true });
    for (let i = 0; i < mutations; i++) applied.push(mutateFolder(r, folder));
    verdict = overall(applied);
  }
  const why = applied.map((a) => a.what).join('; ');
  let pipe: Pipeline | undefined;
  return {
    category: `model/${singleFile ? 'single-file' : 'folder'}`,
    description: `${run === 'openModel' ? 'openModel' : `loadPipeline + ${run} ${show(input)}`}(${singleFile ? 'sd1-tiny.safetensors' : 'sd1-tiny/'}${options.config ? ', { config }' : ''}) after: ${why || 'no mutation'}`,
    call: async () => {
      if (run === 'openModel') return openModel(location, options);
      pipe = await loadPipeline(location, options);
      try {
        return await runLoaded(pipe, run, input, arena);
      } finally {
        await pipe.close();
      }
    },
    expect: expectation(verdict, run, why),
    check: (result) => check(run, result, input, pipe?.unet.config.out_channels ?? 0),
    cleanup: () => {
      arena.dispose();
      fs.rmSync(caseDir, { recursive: true, force: true });
    },
  };
}

/** Locations and options that are not a model at all. */
function notAModelCase(r: Random, ctx: ModelContext, caseDir: string): FuzzCase<unknown> {
  fs.mkdirSync(caseDir, { recursive: true });
  const text = path.join(caseDir, 'model.txt');
  fs.writeFileSync(text, 'not a model');
  const folder = path.join(ctx.fixtures, 'sd1-tiny');
  const single = path.join(ctx.fixtures, 'sd1-tiny.safetensors');
  const viaOpen = r.chance(0.5);
  // [what, location, options, whether it must fail]: null is no location to loadPipeline (the
  // default model); device and dtype are loadPipeline's options, which openModel does not take.
  const calls: Array<[string, unknown, unknown, boolean]> = [
    ['empty string', '', undefined, true], ['missing path', path.join(caseDir, 'nope'), undefined, true], ['empty folder', caseDir, undefined, true],
    ['a text file', text, undefined, true], ['a NUL in the path', `${folder}\u0000x`, undefined, true], ['a number', 123, undefined, true],
    ['null', null, undefined, false], ['an object', { path: folder }, undefined, true], ['a file: URL', `file://${folder}`, undefined, true],
    ['device gpu', folder, { device: 'gpu' }, !viaOpen], ['dtype float16', folder, { dtype: 'float16' }, !viaOpen], ['predictionType x', folder, { predictionType: 'x' }, true],
    ['tokenizer not a folder', folder, { tokenizer: text }, true], ['tokenizer a number', folder, { tokenizer: 5 }, true],
    ['config missing', single, { config: path.join(caseDir, 'nope') }, true], ['config the file itself', single, { config: single }, true],
  ];
  calls.push(['config a number', single, { config: 7 }, true]);
  calls.push(['options null', folder, null, false]);
  const [what, location, options, mustFail] = r.pick(calls);
  return {
    category: 'model/location',
    description: `${viaOpen ? 'openModel' : 'loadPipeline'}(${show(location)}, ${show(options)}): ${what}`,
    call: async () => {
      if (viaOpen) return openModel(location as string, options as LoadOptions);
      const pipe = await loadPipeline(location as string, options as LoadOptions);
      await pipe.close();
      return pipe;
    },
    expect: { kind: mustFail ? 'reject' : 'either', codes: ['E_MODEL_FORMAT', 'E_INVALID_ARGUMENT', 'E_IO'], why: what },
    cleanup: () => fs.rmSync(caseDir, { recursive: true, force: true }),
  };
}

export function modelCase(r: Random, ctx: ModelContext, index: number): FuzzCase<unknown> {
  const caseDir = path.join(ctx.scratch, `case-${index}`);
  return r.chance(0.08) ? notAModelCase(r, ctx, caseDir) : mutatedModelCase(r, ctx, caseDir) as FuzzCase<unknown>;
}
