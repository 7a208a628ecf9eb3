import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { info } from '../ts/index.js';
import { runChild } from './helpers/child.js';
import { isBf16NaN, isHalfNaN, numberToBf16Bits, numberToHalfBits, specialFloats } from './helpers/float16.js';
import { randomFloats, rng, SEED } from './helpers/random.js';

// Every SIMD path the CPU supports (chosen per process with DIFFUSION_ATTENTION_SIMD) must produce
// the reference bits on lengths that exercise full vectors and every tail length.
const cpu = info().devices[0] as { simd: string };
const levels = ['scalar', 'avx2', 'avx512'].slice(0, ['scalar', 'avx2', 'avx512'].indexOf(cpu.simd) + 1);
const LENGTHS = [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 4103];

for (const level of levels) {
  test(`SIMD path ${level}: float32 -> float16/bfloat16 -> float32 match the reference`, () => {
    const r = runChild<{ simd: string; half: number[][]; bf16: number[][]; back: boolean }>(`
      const { rng, randomFloats } = require(${JSON.stringify(require.resolve('./helpers/random.ts'))});
      const { specialFloats: specials } = require(${JSON.stringify(require.resolve('./helpers/float16.ts'))});
      const next = rng();
      const half = [], bf16 = []; let back = true;
      for (const n of ${JSON.stringify(LENGTHS)}) {
        const data = new Float32Array([...specials(), ...randomFloats(n, next)]);
        const h = da.Tensor.from(data, [data.length], { dtype: 'float16' });
        const b = da.Tensor.from(data, [data.length], { dtype: 'bfloat16' });
        half.push(Array.from(await h.toArray()));
        bf16.push(Array.from(await b.toArray()));
        const hb = await (await h.to({ dtype: 'float32' })).toArray();
        const hb2 = await (await (da.Tensor.from(await hb, [data.length]).to({ dtype: 'float16' }))).toArray();
        back = back && hb2.every((v, i) => v === half[half.length - 1][i] || Number.isNaN(hb[i]));
      }
      return { simd: da.info().devices[0].simd, half, bf16, back };
    `, { DIFFUSION_ATTENTION_SIMD: level, TEST_SEED: String(SEED) });
    assert.is(r.simd, level);
    const next = rng(SEED);
    LENGTHS.forEach((n, k) => {
      const data = new Float32Array([...specialFloats(), ...randomFloats(n, next)]);
      for (let i = 0; i < data.length; i++) {
        const x = data[i]!;
        if (Number.isNaN(x)) {
          assert.ok(isHalfNaN(r.half[k]![i]!) && isBf16NaN(r.bf16[k]![i]!));
        } else {
          assert.is(r.half[k]![i], numberToHalfBits(x), `${level} float16 of ${x}, length ${n}`);
          assert.is(r.bf16[k]![i], numberToBf16Bits(x), `${level} bfloat16 of ${x}, length ${n}`);
        }
      }
    });
    assert.ok(r.back, 'float16 -> float32 -> float16 is the identity');
  });
}

test.run();
