import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { Tensor, info, type DType } from '../ts/index.js';
import { specialFloats } from './helpers/float16.js';
import { randomFloats, rng } from './helpers/random.js';

// CUDA tensors against the CPU backend: device conversions must give the same bits as the CPU's.
const i = info();
const run = i.backend === 'cuda' ? test : test.skip;
if (i.backend !== 'cuda') console.log(`cuda.test.ts: skipping CUDA tensor tests: ${i.reason}`);

const next = rng();
const DTYPES: DType[] = ['float32', 'float16', 'bfloat16'];

run('float32 round trip host -> device -> host is exact, for odd and empty sizes', async () => {
  for (const n of [0, 1, 7, 1000, 65537]) {
    const data = randomFloats(n, next);
    const t = Tensor.from(data, [n], { device: 'cuda' });
    assert.is(t.device, 'cuda');
    assert.equal(Array.from(await t.toArray()), Array.from(data));
  }
});

/** Elementwise: equal bits, or both NaN (NaN payloads may differ between backends). */
async function assertSameValues(a: Tensor, b: Tensor, what: string): Promise<void> {
  const x = (await (await a.to({ dtype: 'float32', device: 'cpu' })).toArray()) as Float32Array;
  const y = (await (await b.to({ dtype: 'float32', device: 'cpu' })).toArray()) as Float32Array;
  assert.is(x.length, y.length);
  for (let k = 0; k < x.length; k++) {
    assert.ok(Object.is(x[k], y[k]) || (Number.isNaN(x[k]) && Number.isNaN(y[k])), `${what}: element ${k}: ${x[k]} vs ${y[k]}`);
  }
}

run('device dtype conversions give the CPU backend\'s values (all pairs)', async () => {
  const data = new Float32Array([...specialFloats(), ...randomFloats(10007, next)]);
  for (const from of DTYPES) {
    const cpu = Tensor.from(data, [data.length], { dtype: from });
    const gpu = await cpu.to('cuda');
    for (const to of DTYPES) {
      const converted = await gpu.to({ dtype: to });
      assert.is(converted.device, 'cuda');
      assert.is(converted.dtype, to);
      await assertSameValues(await cpu.to({ dtype: to }), converted, `${from} -> ${to}`);
      await assertSameValues(await cpu.to({ dtype: to }), await gpu.to({ dtype: to, device: 'cpu' }), `${from} -> ${to} on the way down`);
    }
  }
});

test.run();
