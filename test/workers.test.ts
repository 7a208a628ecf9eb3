import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { loadPipeline, type GenerateOptions } from '../ts/index.js';

// The addon in worker threads: each thread loads the binary into its own environment and its own
// pipeline, and threads generate side by side with the main thread, giving exactly the images of
// calls made one after another on the main thread.
const MODEL = path.join(__dirname, 'fixtures', 'sd1-tiny');
const WORKER = path.join(__dirname, 'helpers', 'generate-worker.ts');
// Workers start from this bootstrap, which registers tsx's CommonJS hooks in the worker before
// requiring the TypeScript source (a worker does not inherit the runner's `--import tsx` hooks).
const BOOTSTRAP = `require('tsx/cjs'); require(${JSON.stringify(WORKER)});`;
const spawnWorker = (workerData: object) => new Worker(BOOTSTRAP, { eval: true, workerData });
const options = (seed: number): GenerateOptions => ({ prompt: 'a red circle', steps: 6, width: 16, height: 16, seed, batchSize: 2 });

function inWorker(seed: number): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const worker = spawnWorker({ model: MODEL, options: options(seed) });
    worker.on('message', (m: { started?: boolean; data?: Uint8Array[]; error?: string }) => {
      if (!m.started) (m.data ? resolve(m.data) : reject(new Error(m.error)));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with code ${code} before answering`)));
  });
}

test('worker threads and the main thread generate side by side, each image as a sequential call gives it', async () => {
  const seeds = [11, 12, 13];
  const pipe = await loadPipeline(MODEL);
  const expected: Uint8Array[][] = [];
  for (const seed of seeds) expected.push((await pipe.generate(options(seed))).images.map((i) => i.raw().data));

  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const [w1, w2, main] = await Promise.all([
    inWorker(seeds[0]!),
    inWorker(seeds[1]!),
    pipe.generate(options(seeds[2]!)).then((r) => r.images.map((i) => i.raw().data)),
  ]);
  clearInterval(timer);
  await pipe.close();

  for (const [got, want, who] of [[w1, expected[0]!, 'worker 1'], [w2, expected[1]!, 'worker 2'], [main, expected[2]!, 'main thread']] as const) {
    assert.is(got.length, 2, who);
    got.forEach((image, i) => assert.ok(Buffer.from(image).equals(Buffer.from(want[i]!)), `${who}, image ${i}`));
  }
  assert.ok(ticks > 0, 'the main thread\'s event loop was blocked');
});

test('a worker that exits mid-generation does not disturb the process', async () => {
  const worker = spawnWorker({ model: MODEL, options: { ...options(21), steps: 500, width: 32, height: 32 } });
  const finished = new Promise((resolve) => worker.on('message', (m: { data?: unknown }) => m.data && resolve('finished')));
  await new Promise((resolve) => worker.once('message', resolve));  // { started: true }: native steps under way
  await new Promise((resolve) => setTimeout(resolve, 50));
  await worker.terminate();
  assert.is(await Promise.race([finished, new Promise((resolve) => setTimeout(() => resolve('terminated'), 100))]), 'terminated',
    'the worker finished 500 steps before it could be terminated');
  // The main thread's pipeline still works and matches itself.
  const pipe = await loadPipeline(MODEL);
  const a = (await pipe.generate(options(22))).images[0]!.raw().data;
  const b = (await pipe.generate(options(22))).images[0]!.raw().data;
  assert.ok(Buffer.from(a).equals(Buffer.from(b)));
  await pipe.close();
});

test.run();
