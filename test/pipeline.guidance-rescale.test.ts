/**
 * rescaleGuidance (ts/pipeline/guidance-rescale.ts) against a float64 reference written from Lin et
 * al. 2024, section 3.4 (and diffusers' rescale_noise_cfg): per image, x_cfg * (phi std(x_pos) /
 * std(x_cfg) + 1 - phi), torch.std's n - 1. Random inputs of several sizes, odd ones included.
 * Tolerance 1e-6 relative: the output is float32, the statistics are float64 in both.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { rescaleGuidance } from '../ts/pipeline/guidance-rescale.js';
import { rng } from './helpers/random.js';

const next = rng();

function reference(guided: number[], cond: number[], images: number, per: number, phi: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < images; b++) {
    const g = guided.slice(b * per, (b + 1) * per);
    const c = cond.slice(b * per, (b + 1) * per);
    const sd = (a: number[]) => {
      const m = a.reduce((s, v) => s + v, 0) / a.length;
      return Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / (a.length - 1));
    };
    const rescaled = g.map((v) => (v * sd(c)) / sd(g));
    out.push(...g.map((v, i) => phi * rescaled[i]! + (1 - phi) * v));
  }
  return out;
}

test('matches the float64 reference on random inputs of many sizes and phi', () => {
  for (const [images, per] of [[1, 2], [1, 3 * 7 * 5], [2, 4 * 8 * 8], [3, 3 * 13 * 11], [5, 1 * 1 * 17]] as const) {
    for (const phi of [0, 0.3, 0.7, 1]) {
      const cond = Float32Array.from({ length: images * per }, () => (next() - 0.5) * 2);
      // the guided output: a scaled and shifted relative of cond with some noise, as CFG gives
      const guided = Float32Array.from(cond, (v) => 3 * v + 0.2 + (next() - 0.5));
      const want = reference(Array.from(guided), Array.from(cond), images, per, phi);
      rescaleGuidance(guided, cond, images, per, phi);
      for (let i = 0; i < want.length; i++) {
        assert.ok(Math.abs(guided[i]! - want[i]!) <= 1e-6 * Math.max(1, Math.abs(want[i]!)), `${images}x${per} phi ${phi} at ${i}: ${guided[i]} vs ${want[i]}`);
      }
    }
  }
});

test('phi 1 gives each image the conditional output\'s standard deviation; a constant image is left alone', () => {
  const per = 50;
  const cond = Float32Array.from({ length: 2 * per }, (_, i) => (i < per ? Math.sin(i) : 0.5 * Math.cos(i)));
  const guided = Float32Array.from({ length: 2 * per }, (_, i) => (i < per ? 4 * Math.sin(i) : 1.25));
  rescaleGuidance(guided, cond, 2, per, 1);
  const sd = (a: Float32Array) => {
    const m = a.reduce((s, v) => s + v, 0) / a.length;
    return Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / (a.length - 1));
  };
  assert.ok(Math.abs(sd(guided.subarray(0, per)) - sd(cond.subarray(0, per))) < 1e-6);
  assert.ok(guided.subarray(per).every((v) => v === 1.25));
});

test.run();
