import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { loadPipeline, type GenerateOptions, type GenerateProgress, type Pipeline } from '../ts/index.js';
import { rng } from './helpers/random.js';

// Cancellation soak on sd1-tiny: 100 generate() calls aborted at a random point, and after each
// one a call with the same seed that must give exactly the image of an uninterrupted call. An
// aborted call rejects with its signal's reason (Pipeline.generate): the AbortError DOMException
// of AbortController.abort(), the TimeoutError one of AbortSignal.timeout(); it writes nothing.
const MODEL = path.join(__dirname, 'fixtures', 'sd1-tiny');
const STEPS = 6;
const BASE: GenerateOptions = { prompt: 'a red circle on the left', steps: STEPS, width: 16, height: 16 };
const SEEDS = [3, 14, 15, 92, 65];
const TRIALS = 100;
const next = rng();

type Mode = 'progress' | 'pre-aborted' | 'timeout' | 'queued';

let pipe: Pipeline;
const reference = new Map<number, Uint8Array>();
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'da-cancel-'));

async function image(seed: number): Promise<Uint8Array> {
  return (await pipe.generate({ ...BASE, seed })).images[0]!.raw().data;
}

/** Runs one aborted call the way `mode` says; resolves to what it rejected with (undefined if it did not). */
async function aborted(mode: Mode, seed: number, file: string): Promise<{ error: unknown; signal: AbortSignal }> {
  const save = async (o: GenerateOptions) => (await pipe.generate(o)).images[0]!.save(file);
  if (mode === 'pre-aborted') {
    const signal = AbortSignal.abort();
    return { error: await save({ ...BASE, seed, signal }).then(() => undefined, (e: unknown) => e), signal };
  }
  if (mode === 'timeout') {
    // 250 steps take a second or more, so the timer (0-30 ms) always fires first, at a random step.
    const signal = AbortSignal.timeout(Math.floor(next() * 30));
    return { error: await save({ ...BASE, steps: 250, seed, signal }).then(() => undefined, (e: unknown) => e), signal };
  }
  const controller = new AbortController();
  if (mode === 'queued') {
    // Aborted while it waits behind another call of the same pipeline, which must be unaffected.
    const first = pipe.generate({ ...BASE, seed });
    const second = save({ ...BASE, seed, signal: controller.signal });
    controller.abort();
    assert.equal((await first).images[0]!.raw().data, reference.get(seed), 'the call ahead in the queue changed');
    return { error: await second.then(() => undefined, (e: unknown) => e), signal: controller.signal };
  }
  // Progress events before decoding: encode (step 0), denoise 0..STEPS. Aborting at the decode event
  // comes after the last model call, where the run no longer stops.
  const at = Math.floor(next() * (STEPS + 2));
  let events = 0;
  const onProgress = (p: GenerateProgress) => {
    if (p.phase !== 'decode' && events++ === at) controller.abort();
  };
  return { error: await save({ ...BASE, seed, signal: controller.signal, onProgress }).then(() => undefined, (e: unknown) => e), signal: controller.signal };
}

test.before(async () => {
  pipe = await loadPipeline(MODEL);
  for (const seed of SEEDS) reference.set(seed, await image(seed));
});

test.after(async () => {
  await pipe.close();
  fs.rmSync(out, { recursive: true, force: true });
});

test(`${TRIALS} aborted generate() calls reject with the signal's reason, write nothing, and leave the next call exact`, async () => {
  const modes: Mode[] = ['progress', 'pre-aborted', 'timeout', 'queued'];
  for (let trial = 0; trial < TRIALS; trial++) {
    const mode = modes[trial % modes.length]!;
    const seed = SEEDS[Math.floor(next() * SEEDS.length)]!;
    const dir = path.join(out, `trial-${trial}`);
    fs.mkdirSync(dir);
    const { error, signal } = await aborted(mode, seed, path.join(dir, 'image.png'));
    const what = `trial ${trial} (${mode}, seed ${seed})`;
    assert.ok(error !== undefined, `${what}: the call was not aborted`);
    assert.is(error, signal.reason, `${what}: rejected with ${String(error)}, not the signal's reason`);
    assert.is((error as Error).name, mode === 'timeout' ? 'TimeoutError' : 'AbortError', what);
    assert.equal(fs.readdirSync(dir), [], `${what}: files were written`);
    assert.equal(await image(seed), reference.get(seed), `${what}: the next call differs from an uninterrupted one`);
  }
});

test.run();
