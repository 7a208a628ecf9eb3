import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { loadPipeline, Tensor } from '../ts/index.js';
import { throwsCode } from './helpers/errors.js';

// One pipeline queues its own calls; two pipelines run side by side; the event loop stays free;
// close() releases the models.
const MODEL = path.join(__dirname, 'fixtures', 'sd1-tiny');
const BASE = { prompt: 'a red circle', steps: 8, width: 16, height: 16 };

test('concurrent calls on one pipeline queue up and give the results of sequential calls', async () => {
  const pipe = await loadPipeline(MODEL);
  const order: number[] = [];
  const [a, b] = await Promise.all([
    pipe.generate({ ...BASE, seed: 1, onProgress: () => order.push(1) }),
    pipe.generate({ ...BASE, seed: 2, onProgress: () => order.push(2) }),
  ]);
  // The second call starts only after the first finished.
  assert.equal(order, [...order].sort());
  assert.equal(a.images[0]!.raw().data, (await pipe.generate({ ...BASE, seed: 1 })).images[0]!.raw().data);
  assert.equal(b.images[0]!.raw().data, (await pipe.generate({ ...BASE, seed: 2 })).images[0]!.raw().data);
  // A failing call does not block the queue.
  await throwsCode(() => pipe.generate({ ...BASE, steps: -1 }), 'E_INVALID_ARGUMENT');
  assert.is((await pipe.generate({ ...BASE, seed: 3 })).images.length, 1);
});

test('two pipelines run side by side, and a timer keeps firing during generate()', async () => {
  const [p, q] = await Promise.all([loadPipeline(MODEL), loadPipeline(MODEL)]);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const [a, b] = await Promise.all([p.generate({ ...BASE, seed: 4, steps: 25, width: 32, height: 32 }), q.generate({ ...BASE, seed: 4, steps: 25, width: 32, height: 32 })]);
  clearInterval(timer);
  assert.equal(a.images[0]!.raw().data, b.images[0]!.raw().data);
  assert.ok(ticks > 0, 'the event loop was blocked');
});

test('close() waits for queued calls, releases the models, and later calls are E_DISPOSED', async () => {
  const pipe = await loadPipeline(MODEL);
  const pending = pipe.generate({ ...BASE, seed: 5 });
  await pipe.close();
  assert.is((await pending).images.length, 1, 'a call queued before close() completes');
  await throwsCode(() => pipe.generate({ ...BASE, seed: 5 }), 'E_DISPOSED');
  const sample = Tensor.from(new Float32Array(2 * 4 * 8 * 8), [2, 4, 8, 8]);
  await throwsCode(() => pipe.unet.predict(sample, 1, Tensor.from(new Float32Array(2 * 3 * 32), [2, 3, 32])), 'E_DISPOSED');
  await throwsCode(() => pipe.textEncoder!.encode(['x']), 'E_DISPOSED');
  await pipe.close();
});

test('a request over the memory budget fails early with E_RESOURCE and the estimate', async () => {
  const pipe = await loadPipeline(MODEL, { memoryBudget: 64 * 1024 });
  let progressed = false;
  await pipe.generate({ ...BASE, width: 64, height: 64, onProgress: () => { progressed = true; } }).then(
    () => assert.unreachable('must reject'),
    (err: Error & { code?: string }) => {
      assert.is(err.code, 'E_RESOURCE');
      assert.match(err.message, /needs about \d+ MiB of activations/);
    },
  );
  assert.not.ok(progressed, 'no work before the check');
  assert.is((await pipe.generate({ ...BASE, width: 8, height: 8, guidanceScale: 1 })).images.length, 1);
  await throwsCode(() => loadPipeline(MODEL, { memoryBudget: -1 }), 'E_INVALID_ARGUMENT');
});

test.run();
