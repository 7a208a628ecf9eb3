import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { DiffusionAttentionError, Tensor, attention, loadPipeline } from '../ts/index.js';
import { loadNative } from '../ts/native/load.js';
import { Random } from './fuzz/random.js';

// A failure inside native work (the simulated allocation failure of native/core/fault_injection.h)
// surfaces as E_RESOURCE, and everything stays usable: the next call gives exactly the result of a
// call that never saw a failure.
const MODEL = path.join(__dirname, 'fixtures', 'sd1-tiny');
const OPTIONS = { prompt: 'a red circle', steps: 3, width: 16, height: 16, seed: 9 };
const native = () => loadNative().binding;

async function failsOrMatches(run: () => Promise<Uint8Array>, expected: Uint8Array, after: number): Promise<'failed' | 'passed'> {
  native().simulateAllocationFailure(after);
  try {
    const got = await run();
    // Fewer allocations than `after`: the call must be untouched.
    assert.ok(Buffer.from(got).equals(Buffer.from(expected)), `after ${after}: a call that did not fail changed its result`);
    return 'passed';
  } catch (err) {
    assert.instance(err, DiffusionAttentionError, `after ${after}: ${String(err)}`);
    assert.is((err as DiffusionAttentionError).code, 'E_RESOURCE', (err as Error).message);
    assert.match((err as Error).message, /simulated allocation failure/);
    return 'failed';
  } finally {
    native().simulateAllocationFailure(-1);
  }
}

test('generate(): an allocation failure at any point rejects with E_RESOURCE, and the pipeline still works', async () => {
  const pipe = await loadPipeline(MODEL);
  const image = async () => (await pipe.generate(OPTIONS)).images[0]!.raw().data;
  const expected = await image();
  const r = new Random(5);
  const points = [0, 1, 2, 5, 10, 30, 100, 300, 1000, ...Array.from({ length: 12 }, () => r.int(0, 2000)), 1e9];
  const outcomes: string[] = [];
  for (const after of points) {
    outcomes.push(await failsOrMatches(image, expected, after));
    assert.ok(Buffer.from(await image()).equals(Buffer.from(expected)), `the call after a failure at allocation ${after} differs`);
  }
  assert.ok(outcomes.filter((o) => o === 'failed').length >= 8, `too few simulated failures hit generate(): ${outcomes}`);
  assert.is(outcomes[outcomes.length - 1], 'passed', 'a failure armed a billion allocations ahead must not fire');
  await pipe.close();
});

test('loadPipeline(): an allocation failure while loading rejects with E_RESOURCE; the next load works', async () => {
  let failures = 0;
  for (const after of [0, 3, 20, 60]) {
    native().simulateAllocationFailure(after);
    try {
      const pipe = await loadPipeline(MODEL);
      await pipe.close();
    } catch (err) {
      assert.is((err as DiffusionAttentionError).code, 'E_RESOURCE', (err as Error).message);
      failures++;
    } finally {
      native().simulateAllocationFailure(-1);
    }
  }
  assert.ok(failures >= 2, `only ${failures} loads met the failure`);
  const pipe = await loadPipeline(MODEL);
  assert.is((await pipe.generate(OPTIONS)).images.length, 1);
  await pipe.close();
});

test('attention(): an allocation failure rejects with E_RESOURCE; inputs stay valid and the next call matches', async () => {
  const r = new Random(6);
  const q = Tensor.from(r.normals(2 * 3 * 37 * 24), [2, 3, 37, 24]);
  const k = Tensor.from(r.normals(2 * 3 * 11 * 24), [2, 3, 11, 24]);
  const run = async () => {
    const out = await attention(q, k, k, { afm: { grid: [37, 1], gainLow: 1.2, gainHigh: 0.8 } }) as Tensor;
    const data = new Uint8Array((await out.toArray() as Float32Array).buffer);
    out.dispose();
    return data;
  };
  const expected = await run();
  let failures = 0;
  for (const after of [0, 1, 2, 3, 4, 8]) {
    if ((await failsOrMatches(run, expected, after)) === 'failed') failures++;
    assert.ok(Buffer.from(await run()).equals(Buffer.from(expected)));
  }
  assert.ok(failures >= 2, `only ${failures} calls met the failure`);
  q.dispose();
  k.dispose();
});

test('simulateAllocationFailure refuses a non-integer', () => {
  for (const bad of [0.5, NaN, Infinity, '3', undefined]) {
    assert.throws(() => native().simulateAllocationFailure(bad as number), (e: Error & { code?: string }) => e.code === 'E_INVALID_ARGUMENT');
  }
});

test.run();
