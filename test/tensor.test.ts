import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { Tensor, info } from '../ts/index.js';
import {
  bf16BitsToNumber, halfBitsToNumber, isBf16NaN, isHalfNaN, numberToBf16Bits, numberToHalfBits, specialFloats,
} from './helpers/float16.js';
import { throwsCode } from './helpers/errors.js';
import { randomFloats, rng } from './helpers/random.js';

const next = rng();
const SHAPES: number[][] = [[], [0], [1], [7], [3, 5], [2, 0, 4], [1, 1, 1, 1, 1, 1, 1, 1], [2, 3, 17], [33, 31], [4, 77, 40]];

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const roundtrip = suite('Tensor float32');

roundtrip('holds exactly the data it was made from, for many shapes', async () => {
  for (const shape of SHAPES) {
    const data = randomFloats(numel(shape), next);
    const t = Tensor.from(data, shape);
    assert.equal(t.shape, shape);
    assert.is(t.dtype, 'float32');
    assert.is(t.device, 'cpu');
    assert.is(t.size, numel(shape));
    const back = await t.toArray();
    assert.instance(back, Float32Array);
    assert.equal(Array.from(back), Array.from(data));
    t.dispose();
  }
});

roundtrip('keeps signed zeros, infinities and NaN bit for bit', async () => {
  const data = specialFloats();
  const back = await Tensor.from(data, [data.length]).toArray();
  assert.equal(new Uint32Array(back.buffer), new Uint32Array(data.buffer));
});

roundtrip('copies its input: later writes to the source array do not change the tensor', async () => {
  const data = new Float32Array([1, 2, 3]);
  const t = Tensor.from(data, [3]);
  data[0] = 42;
  assert.equal(Array.from(await t.toArray()), [1, 2, 3]);
});

roundtrip('accepts a subarray view (non-zero byte offset)', async () => {
  const base = randomFloats(20, next);
  const view = base.subarray(5, 17);
  assert.equal(Array.from(await Tensor.from(view, [3, 4]).toArray()), Array.from(view));
});

roundtrip.run();

const conv = suite('Tensor dtype conversion');

function checkHalf(input: Float32Array, bits: Uint16Array): void {
  for (let i = 0; i < input.length; i++) {
    const want = numberToHalfBits(input[i]!);
    if (Number.isNaN(input[i]!)) assert.ok(isHalfNaN(bits[i]!), `NaN stays NaN at ${i}`);
    else assert.is(bits[i], want, `float16 of ${input[i]} (index ${i})`);
  }
}

function checkBf16(input: Float32Array, bits: Uint16Array): void {
  for (let i = 0; i < input.length; i++) {
    if (Number.isNaN(input[i]!)) assert.ok(isBf16NaN(bits[i]!), `NaN stays NaN at ${i}`);
    else assert.is(bits[i], numberToBf16Bits(input[i]!), `bfloat16 of ${input[i]} (index ${i})`);
  }
}

conv('float32 -> float16 rounds to nearest even (random values, ties, subnormals, overflow)', async () => {
  for (const n of [1, 7, 8, 15, 16, 17, 33, 1000, 4099]) {
    const data = new Float32Array([...specialFloats(), ...randomFloats(n, next)]);
    const t = Tensor.from(data, [data.length], { dtype: 'float16' });
    assert.is(t.dtype, 'float16');
    checkHalf(data, (await t.toArray()) as Uint16Array);
  }
});

conv('float32 -> bfloat16 rounds to nearest even', async () => {
  for (const n of [1, 9, 16, 31, 1000, 4099]) {
    const data = new Float32Array([...specialFloats(), ...randomFloats(n, next)]);
    const t = Tensor.from(data, [data.length], { dtype: 'bfloat16' });
    checkBf16(data, (await t.toArray()) as Uint16Array);
  }
});

conv('large conversions, split across threads at odd boundaries, match the reference', async () => {
  const n = 3 * 2 ** 18 + 12345;
  const data = randomFloats(n, next);
  const half = (await Tensor.from(data, [n], { dtype: 'float16' }).toArray()) as Uint16Array;
  const bf = (await Tensor.from(data, [n], { dtype: 'bfloat16' }).toArray()) as Uint16Array;
  for (let i = 0; i < n; i += 997) {
    assert.is(half[i], numberToHalfBits(data[i]!), `float16 at ${i}`);
    assert.is(bf[i], numberToBf16Bits(data[i]!), `bfloat16 at ${i}`);
  }
  assert.is(half[n - 1], numberToHalfBits(data[n - 1]!));
  const back = (await (await Tensor.from(half, [n], { dtype: 'float16' }).to({ dtype: 'float32' })).toArray()) as Float32Array;
  for (let i = 0; i < n; i += 991) assert.is(back[i], halfBitsToNumber(half[i]!));
});

conv('float16 -> float32 is exact for all 65536 bit patterns', async () => {
  const bits = new Uint16Array(65536).map((_, i) => i);
  const f = (await (await Tensor.from(bits, [65536], { dtype: 'float16' }).to({ dtype: 'float32' })).toArray()) as Float32Array;
  for (let i = 0; i < 65536; i++) {
    const want = halfBitsToNumber(i);
    if (Number.isNaN(want)) assert.ok(Number.isNaN(f[i]!), `NaN pattern ${i}`);
    else assert.ok(Object.is(f[i], want), `pattern ${i.toString(16)}: ${f[i]} vs ${want}`);
  }
});

conv('bfloat16 -> float32 is exact for all 65536 bit patterns', async () => {
  const bits = new Uint16Array(65536).map((_, i) => i);
  const f = (await (await Tensor.from(bits, [256, 256], { dtype: 'bfloat16' }).to({ dtype: 'float32' })).toArray()) as Float32Array;
  for (let i = 0; i < 65536; i++) {
    const want = bf16BitsToNumber(i);
    if (Number.isNaN(want)) assert.ok(Number.isNaN(f[i]!));
    else assert.ok(Object.is(f[i], want), `pattern ${i.toString(16)}`);
  }
});

conv('float16 <-> bfloat16 equals rounding the exact value', async () => {
  const bits = new Uint16Array(65536).map((_, i) => i);
  const asBf16 = (await (await Tensor.from(bits, [65536], { dtype: 'float16' }).to({ dtype: 'bfloat16' })).toArray()) as Uint16Array;
  const asHalf = (await (await Tensor.from(bits, [65536], { dtype: 'bfloat16' }).to({ dtype: 'float16' })).toArray()) as Uint16Array;
  for (let i = 0; i < 65536; i++) {
    const h = halfBitsToNumber(i);
    if (Number.isNaN(h)) assert.ok(isBf16NaN(asBf16[i]!));
    else assert.is(asBf16[i], numberToBf16Bits(h));
    const b = bf16BitsToNumber(i);
    if (Number.isNaN(b)) assert.ok(isHalfNaN(asHalf[i]!));
    else assert.is(asHalf[i], numberToHalfBits(b));
  }
});

conv('to() makes an independent copy and leaves the source unchanged', async () => {
  const data = randomFloats(50, next);
  const t = Tensor.from(data, [5, 10]);
  const same = await t.to({});
  assert.is(same.dtype, 'float32');
  assert.equal(same.shape, [5, 10]);
  t.dispose();
  assert.equal(Array.from(await same.toArray()), Array.from(data));
  const cpu = await same.to('cpu');
  assert.equal(Array.from(await cpu.toArray()), Array.from(data));
});

conv.run();

const errors = suite('Tensor errors');

errors('bad shapes are E_SHAPE', async () => {
  await throwsCode(() => Tensor.from(new Float32Array(5), [2, 3]), 'E_SHAPE');
  await throwsCode(() => Tensor.from(new Float32Array(6), [2, -3]), 'E_SHAPE');
  await throwsCode(() => Tensor.from(new Float32Array(6), [2, 1.5, 2]), 'E_SHAPE');
  await throwsCode(() => Tensor.from(new Float32Array(6), [2, NaN]), 'E_SHAPE');
  await throwsCode(() => Tensor.from(new Float32Array(1), [1, 1, 1, 1, 1, 1, 1, 1, 1]), 'E_SHAPE');
  await throwsCode(() => Tensor.from(new Float32Array(1), 'x' as unknown as number[]), 'E_SHAPE');
  await throwsCode(() => Tensor.from(new Float32Array(1), [2 ** 40, 2 ** 40]), 'E_SHAPE');
});

errors('bad dtypes are E_DTYPE', async () => {
  await throwsCode(() => Tensor.from(new Uint16Array(4), [4]), 'E_DTYPE');
  await throwsCode(() => Tensor.from(new Uint16Array(4), [4], { dtype: 'float32' }), 'E_DTYPE');
  await throwsCode(() => Tensor.from(new Int32Array(4) as unknown as Float32Array, [4]), 'E_DTYPE');
  await throwsCode(() => Tensor.from(new Float32Array(4), [4], { dtype: 'float64' as 'float32' }), 'E_DTYPE');
  await throwsCode(() => Tensor.from(new Float32Array(4), [4]).to({ dtype: 'int8' as 'float32' }), 'E_DTYPE');
});

errors('bad devices are E_DEVICE, and CUDA without a GPU is E_NO_CUDA', async () => {
  await throwsCode(() => Tensor.from(new Float32Array(4), [4], { device: 'tpu' as 'cpu' }), 'E_DEVICE');
  await throwsCode(() => Tensor.from(new Float32Array(4), [4]).to('gpu' as 'cpu'), 'E_DEVICE');
  if (info().backend !== 'cuda') {
    await throwsCode(() => Tensor.from(new Float32Array(4), [4], { device: 'cuda' }), 'E_NO_CUDA');
    await throwsCode(() => Tensor.from(new Float32Array(4), [4]).to('cuda'), 'E_NO_CUDA');
  }
});

errors('a disposed tensor is E_DISPOSED everywhere, and dispose() is idempotent', async () => {
  const t = Tensor.from(new Float32Array(4), [4]);
  t.dispose();
  t.dispose();
  assert.ok(t.disposed);
  await throwsCode(() => t.shape, 'E_DISPOSED');
  await throwsCode(() => t.dtype, 'E_DISPOSED');
  await throwsCode(() => t.toArray(), 'E_DISPOSED');
  await throwsCode(() => t.to({ dtype: 'float16' }), 'E_DISPOSED');
});

errors('errors carry the caller\'s stack, not only native frames', async () => {
  try {
    await Tensor.from(new Float32Array(4), [4]).to({ dtype: 'bfloat16' }).then((t) => { t.dispose(); return t.toArray(); });
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).stack ?? '', /tensor\.test\.ts/);
  }
});

errors.run();

const memory = suite('Tensor memory');

memory('dispose() during a pending toArray() still resolves with the right data', async () => {
  const data = randomFloats(1 << 20, next);
  const t = Tensor.from(data, [1 << 20]);
  const pending = t.toArray();
  t.dispose();
  const back = await pending;
  assert.is(back[12345], data[12345]);
  assert.is(back[(1 << 20) - 1], data[(1 << 20) - 1]);
});

memory('the finalizer frees tensors that were never disposed', async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc (npm test does)');
  const data = new Float32Array(1 << 20);  // 4 MiB each
  const before = process.memoryUsage().rss;
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 50; i++) Tensor.from(data, [1 << 20]);
    gc();
    await new Promise((r) => setImmediate(r));  // N-API finalizers run after the GC pass
  }
  gc();
  await new Promise((r) => setImmediate(r));
  const grown = (process.memoryUsage().rss - before) / 2 ** 20;
  // 500 tensors of 4 MiB = 2000 MiB if nothing were freed.
  assert.ok(grown < 600, `resident memory grew by ${grown.toFixed(0)} MiB`);
});

memory.run();
