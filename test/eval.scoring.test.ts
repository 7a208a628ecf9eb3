import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import type { Detection, DetectedObject } from '../ts/eval/detector.js';
import { bandEnergy, hfCurve, hfRatio, highBandShare, radius } from '../ts/eval/frequency.js';
import type { Spec } from '../ts/eval/prompts.js';
import { judge, pairedChange, summarize, wilson, type Verdict } from '../ts/eval/scoring.js';

// Scoring and the frequency measures: pure functions, checked against published values and
// against identities (score-test inversion, Parseval) rather than against their own formulas.

const w = suite('eval: Wilson score interval');

w('matches published intervals (Newcombe 1998, Table I: 81/263, 15/148, 0/20, 1/29)', () => {
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 5e-5, `${a} vs ${b}`);
  for (const [k, n, lo, hi] of [[81, 263, 0.2553, 0.3662], [15, 148, 0.0624, 0.1605], [0, 20, 0, 0.1611], [1, 29, 0.0061, 0.1718]] as const) {
    const r = wilson(k, n);
    close(r.lo, lo);
    close(r.hi, hi);
    assert.is(r.rate, k / n);
  }
});

w('the bounds are where the score test is exactly at z: (p̂ - p)² = z² p (1 - p) / n', () => {
  const z = 1.959963984540054;
  for (const [k, n] of [[3, 7], [50, 100], [97, 100], [1, 400]] as const) {
    const r = wilson(k, n);
    const p = k / n;
    for (const b of [r.lo, r.hi]) assert.ok(Math.abs((p - b) ** 2 - (z * z * b * (1 - b)) / n) < 1e-12, `${k}/${n} bound ${b}`);
    assert.ok(r.lo < p && p < r.hi);
  }
});

w('edges: 0 and n successes stay in [0, 1], n = 0 is the whole range, bad counts throw', () => {
  assert.is(wilson(0, 10).lo, 0);
  assert.ok(Math.abs(wilson(0, 10).hi - 0.27753) < 1e-5);
  assert.is(wilson(10, 10).hi, 1);
  assert.ok(Math.abs(wilson(10, 10).lo - 0.72247) < 1e-5);
  const none = wilson(0, 0);
  assert.ok(Number.isNaN(none.rate));
  assert.equal([none.lo, none.hi], [0, 1]);
  assert.throws(() => wilson(3, 2), RangeError);
  assert.throws(() => wilson(-1, 2), RangeError);
  assert.throws(() => wilson(0.5, 2), RangeError);
});

const j = suite('eval: judging a detection against a caption');

function obj(colour: string, shape: DetectedObject['shape'], position: string, x: number, y: number, sizeWord: DetectedObject['sizeWord'] = 'medium', area = 80): DetectedObject {
  return { colour, shape, size: 10, sizeWord, centroid: { x, y }, centre: { x, y }, area, position, shapeError: 0.1 };
}
const detection = (...objects: DetectedObject[]): Detection => ({ background: [0.3, 0.3, 0.3], objects });
// Relation from a to b by the dominant axis, as the detector reads it.
const relation = (a: DetectedObject, b: DetectedObject) => {
  const dx = b.centre.x - a.centre.x;
  const dy = b.centre.y - a.centre.y;
  return Math.abs(dx) > Math.abs(dy) ? (dx > 0 ? 'left of' : 'right of') : (dy > 0 ? 'above' : 'below');
};

j('one object: every attribute, and size words are not required', () => {
  const spec: Spec = { objects: [{ colour: 'red', shape: 'circle', size: 'small' }], position: 'left' };
  const right = judge(spec, detection(obj('red', 'circle', 'left', 8, 16)), relation);
  assert.equal(right, { count: true, colour: true, shape: true, place: true, size: false, correct: true });
  assert.equal(judge(spec, detection(obj('red', 'square', 'left', 8, 16, 'small')), relation), { count: true, colour: true, shape: false, place: true, size: true, correct: false });
  assert.equal(judge(spec, detection(obj('red', 'circle', 'top', 16, 8, 'small')), relation).place, false);
  assert.equal(judge(spec, detection(obj('blue', 'circle', 'left', 8, 16)), relation), { count: true, colour: false, shape: false, place: false, size: false, correct: false });
  assert.equal(judge(spec, detection(), relation), { count: false, colour: false, shape: false, place: false, size: false, correct: false });
  // An extra object breaks the count only; the captioned object is the largest of its colour.
  const extra = judge(spec, detection(obj('red', 'circle', 'left', 8, 16, 'small', 60), obj('red', 'square', 'right', 24, 16, 'small', 20)), relation);
  assert.equal(extra, { count: false, colour: true, shape: true, place: true, size: true, correct: false });
  // No position word: place does not apply.
  const free = judge({ objects: [{ colour: 'red', shape: 'circle', size: null }], position: null }, detection(obj('red', 'circle', 'top', 16, 8)), relation);
  assert.equal(free, { count: true, colour: true, shape: true, place: null, size: true, correct: true });
});

j('two objects: the relation is read between the objects of the captioned colours, in caption order', () => {
  const spec: Spec = { objects: [{ colour: 'blue', shape: 'square', size: null }, { colour: 'yellow', shape: 'triangle', size: 'large' }], relation: 'above' };
  const above = detection(obj('yellow', 'triangle', 'bottom', 16, 24, 'large', 120), obj('blue', 'square', 'top', 16, 8));
  assert.equal(judge(spec, above, relation), { count: true, colour: true, shape: true, place: true, size: true, correct: true });
  const swapped = detection(obj('yellow', 'triangle', 'top', 16, 8, 'large'), obj('blue', 'square', 'bottom', 16, 24));
  assert.equal(judge(spec, swapped, relation).place, false);
  const missing = judge(spec, detection(obj('blue', 'square', 'top', 16, 8)), relation);
  assert.equal(missing, { count: false, colour: false, shape: false, place: false, size: false, correct: false });
});

j('summaries: per subset and attribute, place over captions with a position only; paired changes', () => {
  const v = (correct: boolean, place: boolean | null): Verdict => ({ count: true, colour: true, shape: true, place, size: true, correct });
  const s = summarize([
    { group: 'one-seen', verdict: v(true, true) },
    { group: 'one-seen', verdict: v(true, null) },
    { group: 'one-held-out', verdict: v(false, false) },
    { group: 'two-seen', verdict: v(true, true) },
  ]);
  assert.equal(Object.keys(s), ['one object, seen', 'one object, held-out', 'one object', 'two objects, seen', 'two objects', 'all']);
  assert.is(s['one object, seen']!.place.n, 1);
  assert.is(s['one object']!.correct.k, 2);
  assert.is(s['one object']!.correct.n, 3);
  assert.is(s.all!.correct.n, 4);
  assert.is(s.all!.place.n, 3);

  const a = [v(true, true), v(true, true), v(false, false), v(false, null)];
  const b = [v(true, true), v(false, false), v(true, true), v(true, null)];
  assert.equal(pairedChange(a, b, 'correct'), { points: 25, onlyA: 1, onlyB: 2, n: 4 });
  assert.equal(pairedChange(a, b, 'place'), { points: 0, onlyA: 1, onlyB: 1, n: 3 });
  assert.throws(() => pairedChange(a, b.slice(1), 'correct'), RangeError);
});

const f = suite('eval: frequency measures');

f('radius: corner-normalised (1 at the corner, 0.707 at an axis Nyquist), fftfreq order', () => {
  assert.is(radius(8, 8, 4, 4), 1);
  assert.ok(Math.abs(radius(8, 8, 0, 4) - Math.SQRT1_2) < 1e-15);
  assert.is(radius(8, 8, 1, 1), 0.25);
  assert.is(radius(8, 8, 7, 7), 0.25); // -1/8, -1/8
  assert.is(radius(5, 5, 0, 0), 0);
});

f('bandEnergy: Parseval, and a wave lands in its band', () => {
  const W = 32;
  const H = 32;
  const next = (() => {
    let s = 12345;
    return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
  })();
  const noise = Float64Array.from({ length: W * H * 3 }, next);
  const e = bandEnergy(noise, W, H, 3, 0.25);
  const direct = noise.reduce((s, v) => s + v * v, 0) * W * H;
  assert.ok(Math.abs(e.low + e.high - direct) < 1e-9 * direct, `${e.low + e.high} vs ${direct}`);
  // A cosine at (kx, ky) = (2, 1) has r = sqrt(5)/32/sqrt(0.5) = 0.099: all low. At (10, 3): r = 0.46: all high.
  const wave = (kx: number, ky: number) => Float64Array.from({ length: W * H }, (_, i) => Math.cos(2 * Math.PI * ((kx * (i % W)) / W + (ky * Math.floor(i / W)) / H)));
  const low = bandEnergy(wave(2, 1), W, H, 1, 0.25);
  assert.ok(low.high < 1e-9 * low.low);
  const high = bandEnergy(wave(10, 3), W, H, 1, 0.25);
  assert.ok(high.low < 1e-9 * high.high);
  // Channels are transformed separately: the energy of an interleaved pair adds up.
  const pair = new Float64Array(W * H * 2);
  wave(2, 1).forEach((v, i) => (pair[2 * i] = v));
  wave(10, 3).forEach((v, i) => (pair[2 * i + 1] = v));
  const both = bandEnergy(pair, W, H, 2, 0.25);
  assert.ok(Math.abs(both.low - low.low) < 1e-6 && Math.abs(both.high - high.high) < 1e-6);
});

f('highBandShare counts the frequencies at or above the cutoff', () => {
  // 8x8: below r = 0.25 are DC and the four axis neighbours (r = 0.177); the diagonal (r = 0.25) is high.
  assert.is(highBandShare(8, 8, 0.25), 59 / 64);
  assert.is(highBandShare(8, 8, 1.01), 0);
});

f('hfRatio and hfCurve: the share at or above the cutoff bin, averaged over layers, NaN rows skipped', () => {
  const spectrum = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8].map((v) => v / 3.6);
  assert.ok(Math.abs(hfRatio(spectrum, 0.25) - (0.3 + 0.4 + 0.5 + 0.6 + 0.7 + 0.8) / 3.6) < 1e-12);
  assert.throws(() => hfRatio(spectrum, 0.3), RangeError);
  assert.ok(Number.isNaN(hfRatio([0, 0, 0, 0], 0.25)));
  const a = { name: 'a', grid: [8, 8] as [number, number], bins: 4, spectra: Float32Array.from([1, 0, 0, 0, 0.5, 0.5, 0, 0]) };
  const b = { name: 'b', grid: [4, 4] as [number, number], bins: 4, spectra: Float32Array.from([0, 1, 0, 0, NaN, NaN, NaN, NaN]) };
  const curve = hfCurve([a, b], 2, 0.25);
  assert.equal(Array.from(curve), [0.5, 0.5]);
});

w.run();
j.run();
f.run();
