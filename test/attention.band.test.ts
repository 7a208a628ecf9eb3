import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { Tensor } from '../ts/index.js';
import { dft2, lowBandMask, randomArray, relativeError } from './helpers/attention-reference.js';
import { throwsCode } from './helpers/errors.js';
import { runOp, values } from './helpers/ops-case.js';
import { rng } from './helpers/random.js';

// The fused AFM path's band split alone (native cpu::afm_low_band) against the float64 definition
// Q_low = IDFT2(M_low . DFT2(q)) per (batch, head, channel) over the H x W grid (afm.md §12).
const next = rng();

function reference(q: Float32Array, B: number, H: number, gh: number, gw: number, d: number, cutoff: number, width: number): Float64Array {
  const N = gh * gw;
  const mask = lowBandMask(gh, gw, cutoff, width);
  mask[0] = 1;  // the DC bin is in the low band (r = 0)
  const out = new Float64Array(q.length);
  for (let bh = 0; bh < B * H; bh++) {
    for (let c = 0; c < d; c++) {
      const re = new Float64Array(N);
      for (let n = 0; n < N; n++) re[n] = q[(bh * N + n) * d + c]!;
      const f = dft2(re, new Float64Array(N), gh, gw, false);
      for (let k = 0; k < N; k++) {
        f.re[k]! *= mask[k]!;
        f.im[k]! *= mask[k]!;
      }
      const back = dft2(f.re, f.im, gh, gw, true);
      for (let n = 0; n < N; n++) out[(bh * N + n) * d + c] = back.re[n]!;
    }
  }
  return out;
}

test('afm_low_band matches the float64 DFT definition on square, odd and degenerate grids', async () => {
  const cases: Array<[number, number, number, number, number, number, number]> = [
    // B, H, gh, gw, d, cutoff, width
    [1, 1, 8, 8, 40, 0.25, 0.05], [2, 2, 5, 7, 17, 0.25, 0.05], [1, 3, 3, 11, 1, 0.6, 0], [1, 1, 16, 16, 64, 0.05, 0],
    [2, 1, 1, 6, 33, 1, 0.3], [1, 2, 9, 4, 80, 0.4, 0.2], [1, 1, 12, 12, 160, 0.25, 0.05],
  ];
  for (const [B, H, gh, gw, d, cutoff, width] of cases) {
    const q = randomArray(B * H * gh * gw * d, next);
    const got = await values(await runOp('afm_low_band', [Tensor.from(q, [B, H, gh * gw, d])], { gridH: gh, gridW: gw, cutoff, width }));
    const err = relativeError(got, reference(q, B, H, gh, gw, d, cutoff, width));
    assert.ok(err <= 2e-6, `[${B}, ${H}, ${gh}x${gw}, ${d}] cutoff ${cutoff} width ${width}: relative error ${err}`);
  }
});

test('afm_low_band refuses a grid that does not cover the queries', async () => {
  await throwsCode(() => runOp('afm_low_band', [Tensor.from(new Float32Array(2 * 15 * 4), [1, 2, 15, 4])], { gridH: 4, gridW: 4 }), 'E_INVALID_ARGUMENT');
});

test.run();
