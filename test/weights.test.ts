import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { fromNative } from '../ts/errors.js';
import { loadNative } from '../ts/native/load.js';
import { readSafetensorsHeader } from '../ts/weights/safetensors.js';
import { WeightFile } from '../ts/weights/weight-file.js';
import { throwsCode } from './helpers/errors.js';
import { halfBitsToNumber } from './helpers/float16.js';
import { randomFloats, rng } from './helpers/random.js';
import { writeF32, writeRaw } from './helpers/safetensors.js';

const FIX = path.join(__dirname, 'fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'da-weights-'));
const next = rng();

/** Values of a stored tensor read straight from the file bytes (independently of the loader). */
function rawValues(file: string, offset: number, nbytes: number, dtype: 'F32' | 'F16'): Float64Array {
  const buf = fs.readFileSync(file).subarray(offset, offset + nbytes);
  const out = new Float64Array(nbytes / (dtype === 'F32' ? 4 : 2));
  for (let i = 0; i < out.length; i++) out[i] = dtype === 'F32' ? buf.readFloatLE(4 * i) : halfBitsToNumber(buf.readUInt16LE(2 * i));
  return out;
}

const good = suite('weights: well-formed files');

good('reads a fixture header: names, dtypes, shapes, absolute offsets', async () => {
  const file = path.join(FIX, 'sd1-tiny', 'text_encoder', 'model.safetensors');
  const h = await readSafetensorsHeader(file);
  const e = h.tensors.get('text_model.embeddings.token_embedding.weight');
  assert.ok(e, 'token embedding present');
  assert.is(e!.dtype, 'F32');
  assert.is(e!.shape.length, 2);
  assert.ok(e!.offset >= h.dataOffset && e!.offset + e!.nbytes <= h.fileSize);
});

good('loads every tensor of a file with the exact stored values', async () => {
  const file = path.join(FIX, 'sd1-tiny', 'vae', 'diffusion_pytorch_model.safetensors');
  const wf = await WeightFile.open(file);
  for (const name of wf.names()) {
    const e = wf.entry(name)!;
    const t = await wf.load(name);
    assert.equal(t.shape, e.shape);
    assert.equal(Array.from(await t.toArray()), Array.from(rawValues(file, e.offset, e.nbytes, 'F32')), name);
  }
});

good('converts float16 weights to float32 on load, exactly', async () => {
  const file = path.join(FIX, 'sd1-tiny-vae-fp16.safetensors');
  const wf = await WeightFile.open(file);
  const name = wf.names().find((n) => wf.entry(n)!.dtype === 'F16')!;
  const e = wf.entry(name)!;
  const t = await wf.load(name, 'float32');
  assert.is(t.dtype, 'float32');
  assert.equal(Array.from(await t.toArray()), Array.from(rawValues(file, e.offset, e.nbytes, 'F16')));
  const kept = await wf.load(name, 'float16');
  assert.is(kept.dtype, 'float16');
});

good('a tensor in the compute dtype stays valid after its file handle is gone (mapping kept alive)', async () => {
  const file = path.join(tmp, 'small.safetensors');
  const data = randomFloats(1000, next);
  writeF32(file, { a: { shape: [10, 100], data } });
  const t = await (await WeightFile.open(file)).load('a');
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setImmediate(r));
  assert.equal(Array.from(await t.toArray()), Array.from(data));
});

good.run();

const hostile = suite('weights: hostile files are refused with E_MODEL_FORMAT');

function f(name: string): string {
  return path.join(tmp, name);
}
const entry = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

hostile('headers that lie about their own size', async () => {
  fs.writeFileSync(f('short'), Buffer.from([1, 2, 3]));
  await throwsCode(() => readSafetensorsHeader(f('short')), 'E_MODEL_FORMAT');
  writeRaw(f('long'), { a: entry('F32', [1], [0, 4]) }, new Uint8Array(4), 1000n);
  await throwsCode(() => readSafetensorsHeader(f('long')), 'E_MODEL_FORMAT');
  writeRaw(f('huge'), { a: entry('F32', [1], [0, 4]) }, new Uint8Array(4), 2n ** 64n - 1n);
  await throwsCode(() => readSafetensorsHeader(f('huge')), 'E_MODEL_FORMAT');
  const big = Buffer.alloc(8);
  big.writeBigUInt64LE(200n * 1024n * 1024n);
  fs.writeFileSync(f('over-limit'), Buffer.concat([big, Buffer.alloc(16)]));
  await throwsCode(() => readSafetensorsHeader(f('over-limit')), 'E_MODEL_FORMAT');
});

hostile('malformed JSON, non-UTF-8, wrong types', async () => {
  writeRaw(f('json'), '{"a": {"dtype": "F32",', new Uint8Array(0));
  await throwsCode(() => readSafetensorsHeader(f('json')), 'E_MODEL_FORMAT');
  const bad = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]);  // {"\xff\xfe":1}
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(bad.length));
  fs.writeFileSync(f('utf8'), Buffer.concat([len, bad]));
  await throwsCode(() => readSafetensorsHeader(f('utf8')), 'E_MODEL_FORMAT');
  writeRaw(f('array'), '[1, 2]', new Uint8Array(0));
  await throwsCode(() => readSafetensorsHeader(f('array')), 'E_MODEL_FORMAT');
  writeRaw(f('meta'), { __metadata__: { a: 1 } }, new Uint8Array(0));
  await throwsCode(() => readSafetensorsHeader(f('meta')), 'E_MODEL_FORMAT');
});

hostile('unknown dtypes, bad shapes, sizes that do not match, ranges out of bounds or overlapping', async () => {
  const cases: Array<[string, unknown, number]> = [
    ['dtype', { a: entry('F33', [1], [0, 4]) }, 4],
    ['shape-neg', { a: entry('F32', [-1], [0, 4]) }, 4],
    ['shape-frac', { a: entry('F32', [1.5], [0, 4]) }, 4],
    ['size', { a: entry('F32', [2], [0, 4]) }, 8],
    ['gigantic', { a: entry('F32', [2 ** 52, 2 ** 52, 16], [0, 0]) }, 4],
    ['range', { a: entry('F32', [2], [4, 12]) }, 8],
    ['reversed', { a: entry('F32', [0], [8, 4]) }, 8],
    ['overlap', { a: entry('F32', [2], [0, 8]), b: entry('F32', [2], [4, 12]) }, 12],
    ['offsets', { a: entry('F32', [1], [0]) }, 4],
  ];
  for (const [name, header, size] of cases) {
    writeRaw(f(name), header, new Uint8Array(size));
    await throwsCode(() => readSafetensorsHeader(f(name)), 'E_MODEL_FORMAT');
  }
});

hostile('missing tensors and non-float dtypes cannot be loaded', async () => {
  writeRaw(f('ints'), { ids: entry('I64', [2], [0, 16]) }, new Uint8Array(16));
  const wf = await WeightFile.open(f('ints'));
  await throwsCode(() => wf.load('ids'), 'E_MODEL_FORMAT');
  await throwsCode(() => wf.load('nope'), 'E_MODEL_FORMAT');
});

hostile('the native side re-checks every range it is handed (no out-of-bounds read)', async () => {
  writeF32(f('native'), { a: { shape: [4], data: new Float32Array(4) } });
  const { binding } = loadNative();
  const nf = new binding.NativeWeightFile(f('native'));
  const size = nf.size;
  const attempts: Array<[number, number, string, number[]]> = [
    [size - 8, 16, 'F32', [4]],        // runs past the end
    [0, 2 ** 53 - 1, 'F32', [4]],      // absurd length
    [size + 100, 4, 'F32', [1]],       // starts past the end
    [8, 8, 'F32', [4]],                // length does not match the shape
    [8, 4, 'I64', [1]],                // dtype it cannot load
  ];
  for (const [offset, nbytes, dtype, shape] of attempts) {
    // Some checks throw synchronously, some reject: both must be coded errors.
    const call = () => Promise.resolve().then(() => nf.load(offset, nbytes, dtype, shape, 'float32'));
    await throwsCode(() => call().catch((err) => { throw fromNative(err, new Error()); }), 'E_MODEL_FORMAT');
  }
  await throwsCode(() => WeightFile.open(f('does-not-exist')), 'E_MODEL_FORMAT');
});

hostile.run();
