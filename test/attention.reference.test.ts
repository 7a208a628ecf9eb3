/**
 * Checks the float64 attention references (test/helpers/attention-reference.ts) against facts that do
 * not come from the same code: DFT identities, the linearity of the AFM edit (afm.md §12), entmax
 * optimality conditions, special cases of the guidance formulas (guidance.md §2, §4, §5).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import {
  type AfmEdit, type Dims, afmEditLogits, afmGain, applyProbs, concentration, dft2, entmax, fftfreq, filterMap,
  gagAttention, gagCombine, gateGains, logits, lowBandMask, nagCombine, pagRows, radialSpectrum, randomArray,
  referenceAttention, relativeError, softmaxRows, tgateMean, toFloat64, tokenEntropy,
} from './helpers/attention-reference.js';
import { rng } from './helpers/random.js';

const next = rng();

/** Shapes with odd, square and non-square grids; N = Hg * Wg. */
const SHAPES: { grid: [number, number]; B: number; H: number; T: number; d: number }[] = [
  { grid: [3, 5], B: 2, H: 2, T: 4, d: 3 },
  { grid: [7, 9], B: 1, H: 2, T: 5, d: 2 },
  { grid: [4, 4], B: 3, H: 1, T: 3, d: 4 },
  { grid: [12, 20], B: 1, H: 1, T: 3, d: 2 },
];

function dimsOf(s: (typeof SHAPES)[number]): Dims {
  return { B: s.B, H: s.H, N: s.grid[0] * s.grid[1], T: s.T, d: s.d };
}

/** Largest |a[i] - b[i]|. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.is(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  const err = maxAbsDiff(got, want);
  assert.ok(err <= tol, `${what}: max error ${err} > ${tol}`);
}

/** A random key-padding mask `[B * T]` where each batch element attends to at least one key. */
function randomMask(B: number, T: number): Uint8Array {
  const mask = new Uint8Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < T; j++) mask[b * T + j] = next() < 0.7 ? 1 : 0;
    mask[b * T + Math.floor(next() * T)] = 1;
  }
  return mask;
}

/** Random AFM parameters on a grid, gains in [0.2, 2.2]. */
function randomAfm(grid: [number, number], preserveDC: boolean): AfmEdit {
  return {
    grid, gainLow: 0.2 + 2 * next(), gainHigh: 0.2 + 2 * next(), cutoff: 0.15 + 0.5 * next(), width: 0.1 * next(),
    preserveDC,
  };
}

/** Applies the AFM grid filter to every channel of q `[B, H, N, d]` over the N axis. */
function filterQueries(q: ArrayLike<number>, dims: Dims, afm: AfmEdit): Float64Array {
  const { B, H, N, d } = dims;
  const G = afmGain(afm);
  const out = new Float64Array(B * H * N * d);
  const column = new Float64Array(N);
  for (let bh = 0; bh < B * H; bh++) {
    for (let c = 0; c < d; c++) {
      for (let x = 0; x < N; x++) column[x] = q[(bh * N + x) * d + c];
      const f = filterMap(column, G, afm.grid[0], afm.grid[1]);
      for (let x = 0; x < N; x++) out[(bh * N + x) * d + c] = f[x];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Utilities

test('toFloat64, relativeError and randomArray behave as documented', () => {
  const a = randomArray(1000, next, 3);
  assert.instance(a, Float32Array);
  const f = toFloat64(a);
  assert.instance(f, Float64Array);
  assert.equal(Array.from(f), Array.from(a));
  let mean = 0;
  let sq = 0;
  for (const x of f) {
    mean += x / f.length;
    sq += (x * x) / f.length;
  }
  assert.ok(Math.abs(mean) < 0.5 && Math.abs(Math.sqrt(sq) - 3) < 0.5, `mean ${mean}, rms ${Math.sqrt(sq)}`);
  assert.is(relativeError([3, 4], [3, 4]), 0);
  assert.ok(Math.abs(relativeError([3, 5], [3, 4]) - 1 / 5) < 1e-15);
  assert.is(relativeError([3, 4], [0, 0]), 5);
});

test('fftfreq matches numpy for even and odd n', () => {
  assert.equal(fftfreq(1), [0]);
  assert.equal(fftfreq(4), [0, 0.25, -0.5, -0.25]);
  assert.equal(fftfreq(5), [0, 0.2, 0.4, -0.4, -0.2]);
  assert.equal(fftfreq(6).map((f) => f * 6), [0, 1, 2, -3, -2, -1]);
});

test('lowBandMask: hard and soft edges on the corner-normalised radius', () => {
  // 4x4: radii of (fy, fx) = (0, 0.25) is 0.25/sqrt(0.5) = 0.3536; (0.5, 0.5) is 1.
  const hard = lowBandMask(4, 4, 0.36, 0);
  assert.is(hard[0], 1);
  assert.is(hard[1], 1); // fx = 0.25
  assert.is(hard[4 + 1], 0); // fx = fy = 0.25: r = 0.5
  assert.is(hard[2 * 4 + 2], 0); // corner
  const soft = lowBandMask(4, 4, 0.3536, 0.2);
  assert.ok(Math.abs(soft[1] - 0.5) < 1e-3, `centre of the edge ${soft[1]}`);
  assert.is(soft[0], 1);
  assert.is(soft[2 * 4 + 2], 0);
  // Non-square 3x5, index ky * 5 + kx: (ky, kx) = (0, 2) has fx = 0.4, r = 0.566; (1, 0) has fy = 1/3, r = 0.471.
  const rect = lowBandMask(3, 5, 0.5, 0);
  assert.is(rect[2], 0);
  assert.is(rect[5], 1);
  for (const s of SHAPES) {
    const [Hg, Wg] = s.grid;
    const m = lowBandMask(Hg, Wg, 0.3, 0.1);
    for (let ky = 0; ky < Hg; ky++) {
      for (let kx = 0; kx < Wg; kx++) {
        const v = m[ky * Wg + kx];
        assert.ok(v >= 0 && v <= 1);
        // Even in k: bin -k is ((Hg - ky) % Hg, (Wg - kx) % Wg).
        assert.ok(Math.abs(v - m[((Hg - ky) % Hg) * Wg + ((Wg - kx) % Wg)]) < 1e-15, 'mask not even');
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// DFT

test('dft2: forward then inverse returns the input, on every grid', () => {
  for (const { grid: [Hg, Wg] } of SHAPES) {
    const re = toFloat64(randomArray(Hg * Wg, next));
    const im = toFloat64(randomArray(Hg * Wg, next));
    const f = dft2(re, im, Hg, Wg, false);
    const back = dft2(f.re, f.im, Hg, Wg, true);
    close(back.re, re, 1e-9, `${Hg}x${Wg} real part`);
    close(back.im, im, 1e-9, `${Hg}x${Wg} imaginary part`);
  }
});

test('dft2: a real map has a Hermitian spectrum; a delta and a plane wave transform as expected', () => {
  for (const { grid: [Hg, Wg] } of SHAPES) {
    const N = Hg * Wg;
    const re = toFloat64(randomArray(N, next));
    const f = dft2(re, new Float64Array(N), Hg, Wg, false);
    let sum = 0;
    for (const x of re) sum += x;
    assert.ok(Math.abs(f.re[0] - sum) < 1e-9 && Math.abs(f.im[0]) < 1e-9, 'DC bin is the sum');
    for (let ky = 0; ky < Hg; ky++) {
      for (let kx = 0; kx < Wg; kx++) {
        const mirror = ((Hg - ky) % Hg) * Wg + ((Wg - kx) % Wg);
        assert.ok(Math.abs(f.re[ky * Wg + kx] - f.re[mirror]) < 1e-9, 'Re not even');
        assert.ok(Math.abs(f.im[ky * Wg + kx] + f.im[mirror]) < 1e-9, 'Im not odd');
      }
    }
    // A unit delta at the origin has a flat spectrum of ones.
    const delta = new Float64Array(N);
    delta[0] = 1;
    const fd = dft2(delta, new Float64Array(N), Hg, Wg, false);
    close(fd.re, new Float64Array(N).fill(1), 1e-12, 'delta spectrum re');
    close(fd.im, new Float64Array(N), 1e-12, 'delta spectrum im');
    // e^{+2 pi i (py m / Hg + px n / Wg)} puts N at bin (py, px) and nothing elsewhere.
    const py = Math.floor(next() * Hg);
    const px = Math.floor(next() * Wg);
    const wRe = new Float64Array(N);
    const wIm = new Float64Array(N);
    for (let m = 0; m < Hg; m++) {
      for (let n = 0; n < Wg; n++) {
        const a = 2 * Math.PI * ((py * m) / Hg + (px * n) / Wg);
        wRe[m * Wg + n] = Math.cos(a);
        wIm[m * Wg + n] = Math.sin(a);
      }
    }
    const fw = dft2(wRe, wIm, Hg, Wg, false);
    const want = new Float64Array(N);
    want[py * Wg + px] = N;
    close(fw.re, want, 1e-9, `plane wave (${py}, ${px}) on ${Hg}x${Wg}`);
    close(fw.im, new Float64Array(N), 1e-9, 'plane wave imaginary part');
  }
});

// ---------------------------------------------------------------------------------------------
// AFM edit

test('afmEditLogits: unit gains return the input, with or without preserveDC', () => {
  for (const s of SHAPES) {
    const dims = dimsOf(s);
    const L = toFloat64(randomArray(dims.B * dims.H * dims.N * dims.T, next, 2));
    for (const preserveDC of [true, false]) {
      const out = afmEditLogits(L, dims, { ...randomAfm(s.grid, preserveDC), gainLow: 1, gainHigh: 1 });
      close(out, L, 1e-9, `${s.grid} preserveDC ${preserveDC}`);
    }
  }
});

test('afmEditLogits: preserveDC keeps every token map mean; without it, equal gains g scale by g', () => {
  for (const s of SHAPES) {
    const dims = dimsOf(s);
    const { B, H, N, T } = dims;
    const L = toFloat64(randomArray(B * H * N * T, next, 2));
    const afm = randomAfm(s.grid, true);
    const out = afmEditLogits(L, dims, afm);
    assert.ok(maxAbsDiff(out, L) > 1e-3, 'the edit changed nothing');
    for (let bh = 0; bh < B * H; bh++) {
      for (let j = 0; j < T; j++) {
        let before = 0;
        let after = 0;
        for (let x = 0; x < N; x++) {
          before += L[(bh * N + x) * T + j] / N;
          after += out[(bh * N + x) * T + j] / N;
        }
        assert.ok(Math.abs(before - after) < 1e-9, `${s.grid} token ${j}: mean ${before} -> ${after}`);
      }
    }
    const g = 0.3 + 2 * next();
    const scaled = afmEditLogits(L, dims, { ...afm, preserveDC: false, gainLow: g, gainHigh: g });
    close(scaled, L.map((x) => g * x), 1e-9, `${s.grid} gain ${g}`);
  }
});

test('afmEditLogits: a real plane wave at bin (py, px) is scaled by the gain of its radius', () => {
  for (const s of SHAPES) {
    const [Hg, Wg] = s.grid;
    const N = Hg * Wg;
    const dims: Dims = { B: 1, H: 1, N, T: 1, d: 1 };
    for (let trial = 0; trial < 4; trial++) {
      const py = Math.floor(next() * Hg);
      const px = 1 + Math.floor(next() * (Wg - 1)); // not the DC bin
      const map = new Float64Array(N);
      for (let m = 0; m < Hg; m++) {
        for (let n = 0; n < Wg; n++) map[m * Wg + n] = Math.cos(2 * Math.PI * ((py * m) / Hg + (px * n) / Wg));
      }
      // Signed frequencies by hand: bin i of n is i/n below n/2 and i/n - 1 from n/2 on.
      const fy = py < Hg / 2 ? py / Hg : py / Hg - 1;
      const fx = px < Wg / 2 ? px / Wg : px / Wg - 1;
      const r = Math.hypot(fx, fy) / Math.sqrt(0.5);
      const cutoff = 0.1 + 0.8 * next();
      const gain = r <= cutoff ? 1.7 : 0.4;
      const out = afmEditLogits(map, dims, { grid: s.grid, gainLow: 1.7, gainHigh: 0.4, cutoff, width: 0, preserveDC: true });
      close(out, map.map((x) => gain * x), 1e-9, `${Hg}x${Wg} bin (${py}, ${px}), r ${r}, cutoff ${cutoff}`);
    }
  }
});

test('AFM linearity (afm.md §12): editing the logits equals logits from the filtered queries', () => {
  for (const s of SHAPES) {
    const dims = dimsOf(s);
    const { B, H, N, T, d } = dims;
    const q = randomArray(B * H * N * d, next);
    const k = randomArray(B * H * T * d, next);
    const scale = 1 / Math.sqrt(d);
    for (const preserveDC of [true, false]) {
      const afm = randomAfm(s.grid, preserveDC);
      const edited = afmEditLogits(logits(q, k, dims, scale), dims, afm);
      const fromQ = logits(filterQueries(q, dims, afm), k, dims, scale);
      close(edited, fromQ, 1e-9, `${s.grid} preserveDC ${preserveDC}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Softmax, logits, P v

test('logits and applyProbs agree with single hand-computed entries', () => {
  const dims: Dims = { B: 2, H: 3, N: 4, T: 5, d: 6 };
  const q = randomArray(2 * 3 * 4 * 6, next);
  const k = randomArray(2 * 3 * 5 * 6, next);
  const v = randomArray(2 * 3 * 5 * 6, next);
  const L = logits(q, k, dims, 0.7);
  // b = 1, h = 2, x = 3, j = 4.
  let dot = 0;
  for (let c = 0; c < 6; c++) dot += q[((1 * 3 + 2) * 4 + 3) * 6 + c] * k[((1 * 3 + 2) * 5 + 4) * 6 + c];
  assert.ok(Math.abs(L[((1 * 3 + 2) * 4 + 3) * 5 + 4] - 0.7 * dot) < 1e-12);
  // One-hot probabilities pick one value row.
  const P = new Float64Array(2 * 3 * 4 * 5);
  for (let row = 0; row < 2 * 3 * 4; row++) P[row * 5 + (row % 5)] = 1;
  const out = applyProbs(P, v, dims);
  for (let row = 0; row < 2 * 3 * 4; row++) {
    const bh = Math.floor(row / 4);
    const j = row % 5;
    for (let c = 0; c < 6; c++) assert.is(out[row * 6 + c], v[(bh * 5 + j) * 6 + c]);
  }
});

test('softmaxRows: rows sum to 1 over unmasked keys, masked entries are exactly 0, ratios are exp differences', () => {
  for (const s of SHAPES) {
    const dims = dimsOf(s);
    const { B, H, N, T } = dims;
    const L = toFloat64(randomArray(B * H * N * T, next, 300)); // large logits: needs the max shift
    for (const mask of [undefined, randomMask(B, T)]) {
      const P = softmaxRows(L, dims, mask);
      for (let b = 0; b < B; b++) {
        for (let row = b * H * N; row < (b + 1) * H * N; row++) {
          let sum = 0;
          let first = -1;
          for (let j = 0; j < T; j++) {
            const p = P[row * T + j];
            assert.ok(Number.isFinite(p) && p >= 0);
            if (mask !== undefined && mask[b * T + j] === 0) {
              assert.is(p, 0, 'masked entry');
              continue;
            }
            sum += p;
            if (first < 0) first = j;
            else if (P[row * T + first] > 1e-200 && p > 1e-200) {
              const ratio = Math.log(p / P[row * T + first]);
              assert.ok(Math.abs(ratio - (L[row * T + j] - L[row * T + first])) < 1e-9, 'ratio');
            }
          }
          assert.ok(Math.abs(sum - 1) < 1e-12, `row sum ${sum}`);
        }
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Entropy and gate

test('tokenEntropy: 1 for uniform rows over unmasked keys, 0 for one-hot rows and for a single key', () => {
  const dims: Dims = { B: 3, H: 2, N: 5, T: 7, d: 1 };
  const mask = randomMask(3, 7);
  mask.fill(0, 14, 21);
  mask[14 + 3] = 1; // batch 2 attends to one key only
  mask[0] = 1;
  mask[1] = 1; // batch 0 attends to at least two
  const uniform = softmaxRows(new Float64Array(3 * 2 * 5 * 7), dims, mask);
  // Batch 2 rows count 0 (n_b = 1): the mean is 2/3.
  assert.ok(Math.abs(tokenEntropy(uniform, dims, mask) - 2 / 3) < 1e-12, 'masked uniform');
  const all = softmaxRows(new Float64Array(3 * 2 * 5 * 7), dims);
  assert.ok(Math.abs(tokenEntropy(all, dims) - 1) < 1e-12, 'uniform');
  const oneHot = new Float64Array(3 * 2 * 5 * 7);
  for (let row = 0; row < 30; row++) oneHot[row * 7 + (row % 7)] = 1;
  assert.is(tokenEntropy(oneHot, dims), 0);
  // Random rows lie strictly between.
  const P = softmaxRows(toFloat64(randomArray(3 * 2 * 5 * 7, next, 2)), dims);
  const e = tokenEntropy(P, dims);
  assert.ok(e > 0 && e < 1, `entropy ${e}`);
});

test('gateGains follows afm.md §7 and reduces to §6 at H = 0', () => {
  assert.equal(gateGains(0, { strength: 0.2, wLow: 1, wHigh: 0, beta: 0, gamma: 0 }), { gainLow: 1.2, gainHigh: 1 });
  const g = gateGains(0.25, { strength: 0.5, wLow: 0.4, wHigh: 0.6, beta: 20, gamma: 4 });
  assert.ok(Math.abs(g.gainLow - (1 + 0.5 * 0.4 * 6)) < 1e-12);
  assert.ok(Math.abs(g.gainHigh - (1 + 0.5 * 0.6 * 4)) < 1e-12);
  assert.equal(gateGains(0.7, { strength: 0, wLow: 3, wHigh: 5 }), { gainLow: 1, gainHigh: 1 });
  const d = gateGains(0.5, { strength: 1, wLow: 1, wHigh: 1 }); // defaults beta 20, gamma 4
  assert.ok(Math.abs(d.gainLow - 12) < 1e-12 && Math.abs(d.gainHigh - 4) < 1e-12, `${d.gainLow}, ${d.gainHigh}`);
});

// ---------------------------------------------------------------------------------------------
// Entmax

/** tau with sum_j max(zs_j - tau, 0)^2 = 1, by bisection to 1e-13. */
function bisectTau15(zs: number[]): number {
  const max = Math.max(...zs);
  let lo = max - 1; // sum >= 1 here
  let hi = max; // sum = 0 here
  while (hi - lo > 1e-13) {
    const mid = (lo + hi) / 2;
    let sum = 0;
    for (const z of zs) sum += Math.max(z - mid, 0) ** 2;
    if (sum > 1) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

test('entmax alpha 2: the hand example and the projection conditions', () => {
  close(entmax([1, 0.5, -1], 2), [0.75, 0.25, 0], 1e-15, 'sparsemax([1, 0.5, -1])');
  close(entmax([0.3, 0.3], 2), [0.5, 0.5], 1e-15, 'ties');
  close(entmax([5, 0, 9], 2, [true, true, false]), [1, 0, 0], 0, 'disallowed entry ignored');
  for (let trial = 0; trial < 50; trial++) {
    const n = 1 + Math.floor(next() * 12);
    const z = Array.from(randomArray(n, next, 2));
    const p = entmax(z, 2);
    let sum = 0;
    for (const x of p) sum += x;
    assert.ok(Math.abs(sum - 1) < 1e-12, `sum ${sum}`);
    // KKT: one tau with p_j = z_j - tau on the support and z_j <= tau off it.
    let j0 = 0;
    for (let j = 0; j < n; j++) if (p[j] > p[j0]) j0 = j;
    const tau = z[j0] - p[j0];
    for (let j = 0; j < n; j++) {
      if (p[j] > 0) assert.ok(Math.abs(p[j] - (z[j] - tau)) < 1e-12, 'support');
      else assert.ok(z[j] <= tau + 1e-12, 'outside the support');
    }
  }
});

test('entmax alpha 1.5: sums to 1, satisfies p = max(z/2 - tau, 0)^2 for the bisection tau, exact zeros', () => {
  // Two equal logits: tau = -1/sqrt(2), p = 1/2 each. Known pair: z = [1, 0] gives t = (1 + sqrt 7)/4.
  close(entmax([2, 2], 1.5), [0.5, 0.5], 1e-15, 'ties');
  const t = (1 + Math.sqrt(7)) / 4;
  close(entmax([1, 0], 1.5), [t * t, (t - 0.5) ** 2], 1e-14, 'entmax15([1, 0])');
  for (let trial = 0; trial < 50; trial++) {
    const n = 1 + Math.floor(next() * 12);
    const z = Array.from(randomArray(n, next, 3));
    const allowed = z.map(() => next() < 0.8);
    allowed[Math.floor(next() * n)] = true;
    const p = entmax(z, 1.5, allowed);
    const zs = z.filter((_, j) => allowed[j]).map((x) => x / 2);
    const tau = bisectTau15(zs);
    let sum = 0;
    let k = 0;
    for (let j = 0; j < n; j++) {
      sum += p[j];
      if (!allowed[j]) {
        assert.is(p[j], 0, 'disallowed');
        continue;
      }
      assert.ok(Math.abs(p[j] - Math.max(zs[k] - tau, 0) ** 2) < 1e-10, `p ${p[j]} vs ${Math.max(zs[k] - tau, 0) ** 2}`);
      k++;
    }
    assert.ok(Math.abs(sum - 1) < 1e-12, `sum ${sum}`);
  }
  // Low logits get exact zeros; shift invariance.
  const p = entmax([4, 3.5, 0, -3, 3.9], 1.5);
  assert.is(p[2], 0);
  assert.is(p[3], 0);
  assert.ok(p[0] > 0 && p[1] > 0 && p[4] > 0);
  close(entmax([104, 103.5, 100, 97, 103.9], 1.5), p, 1e-12, 'shift invariance');
});

// ---------------------------------------------------------------------------------------------
// GAG

test('gagCombine: zeta = 1, eta = Infinity is PLADIS D + (1 + w)(S - D); zeta = 0 keeps only the part along S', () => {
  for (let trial = 0; trial < 20; trial++) {
    const d = 1 + Math.floor(next() * 8);
    const S = toFloat64(randomArray(d, next));
    const D = toFloat64(randomArray(d, next));
    const w = 5 * next();
    const pladis = S.map((s, c) => D[c] + (1 + w) * (s - D[c]));
    close(gagCombine(S, D, { scale: w, eta: Infinity, zeta: 1 }), pladis, 1e-12, 'PLADIS case');
    // zeta = 0: out - S is parallel to S.
    const out = gagCombine(S, D, { scale: w, eta: Infinity, zeta: 0 });
    const step = out.map((o, c) => o - S[c]);
    let cross = 0;
    let ss = 0;
    let st = 0;
    for (let c = 0; c < d; c++) {
      ss += S[c] * S[c];
      st += S[c] * step[c];
    }
    for (let c = 0; c < d; c++) cross = Math.max(cross, Math.abs(step[c] - (st / ss) * S[c]));
    assert.ok(cross < 1e-12, `orthogonal residue ${cross}`);
    // A small eta caps the step: |out - S| = w * eta.
    const eta = 1e-3;
    const capped = gagCombine(S, D, { scale: w, eta, zeta: 1 });
    let norm = 0;
    for (let c = 0; c < d; c++) norm += (capped[c] - S[c]) ** 2;
    const gNorm = Math.sqrt(D.reduce((acc, x, c) => acc + (S[c] - x) ** 2, 0));
    if (gNorm > eta) assert.ok(Math.abs(Math.sqrt(norm) - w * eta) < 1e-12, 'cap');
  }
  // S = 0 does not divide by zero.
  const zero = gagCombine([0, 0], [1, 2], { scale: 2, eta: Infinity, zeta: 1 });
  close(zero, [-2, -4], 1e-15, 'S = 0');
});

test('gagAttention: equal value rows pass through; scale 0 with a clear winner is the winner value row', () => {
  const dims: Dims = { B: 2, H: 2, N: 6, T: 5, d: 3 };
  const { B, H, N, T, d } = dims;
  const mask = randomMask(B, T);
  const L = toFloat64(randomArray(B * H * N * T, next, 2));
  const u = [0.3, -1.2, 2];
  const v = new Float64Array(B * H * T * d).map((_, i) => u[i % d]);
  for (const alpha of [1.5, 2] as const) {
    const out = gagAttention(L, v, dims, mask, { alpha, scale: 5, eta: 15, zeta: 0.5 });
    close(out, new Float64Array(B * H * N * d).map((_, i) => u[i % d]), 1e-12, `alpha ${alpha}`);
  }
  // Make key (x % T) win each row by 3 (alpha 2) or 6 (alpha 1.5): entmax is one-hot, so S = that value row.
  const vr = toFloat64(randomArray(B * H * T * d, next));
  for (const [alpha, gap] of [[2, 3], [1.5, 6]] as const) {
    const Lw = new Float64Array(B * H * N * T);
    for (let row = 0; row < B * H * N; row++) {
      for (let j = 0; j < T; j++) Lw[row * T + j] = next();
      Lw[row * T + (row % T)] = 1 + gap;
    }
    const out = gagAttention(Lw, vr, dims, undefined, { alpha, scale: 0, eta: 15, zeta: 0 });
    for (let row = 0; row < B * H * N; row++) {
      const bh = Math.floor(row / N);
      for (let c = 0; c < d; c++) assert.ok(Math.abs(out[row * d + c] - vr[(bh * T + (row % T)) * d + c]) < 1e-12);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// NAG, PAG, T-GATE

test('nagCombine: scale 1 returns Zp; huge tau with alpha 1 is the plain extrapolation; small tau caps the L1 ratio', () => {
  const dims: Dims = { B: 2, H: 3, N: 4, T: 1, d: 5 };
  const { B, H, N, d } = dims;
  const Zp = toFloat64(randomArray(B * H * N * d, next));
  const Zn = toFloat64(randomArray(B * H * N * d, next));
  close(nagCombine(Zp, Zn, dims, { scale: 1, tau: 2.5, alpha: 0.5 }), Zp, 1e-15, 'scale 1');
  const s = 4;
  close(nagCombine(Zp, Zn, dims, { scale: s, tau: 1e9, alpha: 1 }), Zp.map((p, i) => s * p - (s - 1) * Zn[i]), 1e-12,
    'no cap');
  // Per (b, x): if the L1 ratio |Zt|_1 / |Zp|_1 exceeds tau the output is Zt rescaled to ratio tau, else Zt.
  // Even x: Zn near Zp, so Zt = Zp - 0.15 noise (ratio about 1, uncapped); odd x: Zn near -Zp, so
  // Zt = 7 Zp + 0.15 noise (ratio about 7, capped).
  const tau = 2.5;
  const noise = toFloat64(randomArray(B * H * N * d, next));
  const ZnMixed = Zp.map((z, i) => ((Math.floor(i / d) % N) % 2 === 0 ? z : -z) + 0.05 * noise[i]);
  const out = nagCombine(Zp, ZnMixed, dims, { scale: s, tau, alpha: 1 });
  let capped = 0;
  for (let b = 0; b < B; b++) {
    for (let x = 0; x < N; x++) {
      let a = 0;
      let zt = 0;
      let p = 0;
      let ratioOut = Infinity;
      for (let h = 0; h < H; h++) {
        for (let c = 0; c < d; c++) {
          const i = ((b * H + h) * N + x) * d + c;
          a += Math.abs(out[i]);
          const t = s * Zp[i] - (s - 1) * ZnMixed[i];
          zt += Math.abs(t);
          p += Math.abs(Zp[i]);
          ratioOut = Math.min(ratioOut, out[i] / t);
        }
      }
      if (zt > tau * p) {
        capped++;
        assert.ok(Math.abs(a / p - tau) < 1e-12, `capped ratio ${a / p}`);
        assert.ok(Math.abs(ratioOut - (tau * p) / zt) < 1e-12, 'output is a rescaled Zt');
      } else {
        assert.ok(Math.abs(ratioOut - 1) < 1e-12, 'uncapped output is Zt');
      }
    }
  }
  assert.is(capped, B * N / 2, 'odd positions capped, even ones not');
  // alpha blends linearly between Zp (alpha 0) and the capped result (alpha 1).
  const half = nagCombine(Zp, ZnMixed, dims, { scale: s, tau, alpha: 0.25 });
  close(half, out.map((o, i) => 0.25 * o + 0.75 * Zp[i]), 1e-12, 'alpha blend');
});

test('pagRows and tgateMean', () => {
  const dims: Dims = { B: 4, H: 2, N: 3, T: 3, d: 2 };
  const per = 2 * 3 * 2;
  const plain = toFloat64(randomArray(4 * per, next));
  const v = toFloat64(randomArray(4 * per, next));
  const out = pagRows(plain, v, dims, 1, 3);
  for (let i = 0; i < 4 * per; i++) assert.is(out[i], i >= per && i < 3 * per ? v[i] : plain[i]);
  const mean = tgateMean(plain, dims);
  assert.is(mean.length, 2 * per);
  for (let i = 0; i < 2 * per; i++) assert.is(mean[i], (plain[i] + plain[i + 2 * per]) / 2);
});

// ---------------------------------------------------------------------------------------------
// Capture

test('concentration: 1 for one-hot rows with topK 1, 1/T for uniform rows', () => {
  const dims: Dims = { B: 2, H: 3, N: 5, T: 7, d: 1 };
  const oneHot = new Float64Array(2 * 3 * 5 * 7);
  for (let row = 0; row < 30; row++) oneHot[row * 7 + ((row * 3) % 7)] = 1;
  close(concentration(oneHot, dims, 1), new Float64Array(10).fill(1), 1e-15, 'one-hot');
  const uniform = softmaxRows(new Float64Array(2 * 3 * 5 * 7), dims);
  for (const K of [1, 3, 8, 100]) close(concentration(uniform, dims, K), new Float64Array(10).fill(1 / 7), 1e-15, `K ${K}`);
  const P = softmaxRows(toFloat64(randomArray(2 * 3 * 5 * 7, next, 2)), dims);
  const c = concentration(P, dims, 3);
  for (const x of c) assert.ok(x >= 1 / 7 - 1e-15 && x <= 1, `c ${x}`);
});

test('radialSpectrum: rows sum to 1 or are 0 when flat; a low cosine lands in a low bin, a checkerboard in the last', () => {
  for (const s of SHAPES) {
    const [Hg, Wg] = s.grid;
    const N = Hg * Wg;
    const bins = 16;
    const c = new Float64Array(3 * N);
    c.set(randomArray(N, next), 0);
    c.fill(0.37, N, 2 * N); // flat map
    for (let m = 0; m < Hg; m++) {
      for (let n = 0; n < Wg; n++) c[2 * N + m * Wg + n] = 5 + Math.cos((2 * Math.PI * m) / Hg);
    }
    const spec = radialSpectrum(c, 3, s.grid, bins);
    let sum = 0;
    for (let i = 0; i < bins; i++) sum += spec[i];
    assert.ok(Math.abs(sum - 1) < 1e-12, `random map sum ${sum}`);
    close(spec.subarray(bins, 2 * bins), new Float64Array(bins), 0, 'flat map');
    // cos(2 pi m / Hg): all power at fy = +-1/Hg, radius (1/Hg)/sqrt(0.5).
    const low = Math.min(Math.floor(((1 / Hg) / Math.sqrt(0.5)) * bins), bins - 1);
    const want = new Float64Array(bins);
    want[low] = 1;
    close(spec.subarray(2 * bins), want, 1e-12, `${Hg}x${Wg} cosine`);
    assert.ok(low < bins / 2);
    if (Hg % 2 === 0 && Wg % 2 === 0) {
      const board = new Float64Array(N).map((_, i) => ((Math.floor(i / Wg) + (i % Wg)) % 2 === 0 ? 1 : -1));
      const last = new Float64Array(bins);
      last[bins - 1] = 1;
      close(radialSpectrum(board, 1, s.grid, bins), last, 1e-12, `${Hg}x${Wg} checkerboard`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// The whole op

test('referenceAttention: zero keys average the unmasked values; unit AFM gains and a zero-strength gate change nothing', () => {
  for (const s of SHAPES) {
    const dims = dimsOf(s);
    const { B, H, N, T, d } = dims;
    const q = randomArray(B * H * N * d, next);
    const k = randomArray(B * H * T * d, next);
    const v = randomArray(B * H * T * d, next);
    const mask = randomMask(B, T);
    // k = 0: uniform attention, so the output is the mean of the unmasked value rows.
    const flat = referenceAttention(q, new Float32Array(B * H * T * d), v, dims, { mask }).output;
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const mean = new Float64Array(d);
        let n = 0;
        for (let j = 0; j < T; j++) {
          if (mask[b * T + j] === 0) continue;
          n++;
          for (let c = 0; c < d; c++) mean[c] += v[((b * H + h) * T + j) * d + c];
        }
        for (let x = 0; x < N; x++) {
          for (let c = 0; c < d; c++) assert.ok(Math.abs(flat[((b * H + h) * N + x) * d + c] - mean[c] / n) < 1e-12);
        }
      }
    }
    const plain = referenceAttention(q, k, v, dims, { mask });
    assert.ok(Number.isNaN(plain.entropy));
    assert.is(plain.gainLow, 1);
    assert.is(plain.gainHigh, 1);
    const unit = referenceAttention(q, k, v, dims, { mask, afm: { grid: s.grid } });
    close(unit.output, plain.output, 1e-9, 'unit gains');
    const gated = referenceAttention(q, k, v, dims, {
      mask, afm: { grid: s.grid, entropyGate: { strength: 0, wLow: 1, wHigh: 1 } },
    });
    close(gated.output, plain.output, 1e-9, 'zero-strength gate');
    assert.ok(gated.entropy >= 0 && gated.entropy <= 1, `entropy ${gated.entropy}`); // 0 if every row has one key
  }
});

test('referenceAttention: AFM with a gate equals plain attention on filtered queries with the gated gains', () => {
  for (const s of SHAPES) {
    const dims = dimsOf(s);
    const { B, H, N, T, d } = dims;
    const q = randomArray(B * H * N * d, next, 2);
    const k = randomArray(B * H * T * d, next, 2);
    const v = randomArray(B * H * T * d, next);
    const mask = randomMask(B, T);
    const gate = { strength: 0.3, wLow: 0.5, wHigh: 0.5, beta: 2, gamma: 3 };
    const r = referenceAttention(q, k, v, dims, { mask, scale: 0.6, afm: { grid: s.grid, entropyGate: gate } });
    // The gate's entropy from the unedited softmax, computed here by hand.
    const P0 = softmaxRows(logits(q, k, dims, 0.6), dims, mask);
    let total = 0;
    for (let b = 0; b < B; b++) {
      let n = 0;
      for (let j = 0; j < T; j++) n += mask[b * T + j] ? 1 : 0;
      for (let row = b * H * N; row < (b + 1) * H * N; row++) {
        let e = 0;
        for (let j = 0; j < T; j++) if (P0[row * T + j] > 0) e -= P0[row * T + j] * Math.log(P0[row * T + j]);
        total += n > 1 ? e / Math.log(n) : 0;
      }
    }
    const H0 = total / (B * H * N);
    assert.ok(Math.abs(r.entropy - H0) < 1e-12, `entropy ${r.entropy} vs ${H0}`);
    assert.ok(Math.abs(r.gainLow - (1 + 0.3 * 0.5 * (1 + 2 * H0))) < 1e-12);
    assert.ok(Math.abs(r.gainHigh - (1 + 0.3 * 0.5 * (1 + 3 * (1 - H0)))) < 1e-12);
    const afm: AfmEdit = { grid: s.grid, gainLow: r.gainLow, gainHigh: r.gainHigh, cutoff: 0.25, width: 0.05, preserveDC: true };
    const viaQ = applyProbs(softmaxRows(logits(filterQueries(q, dims, afm), k, dims, 0.6), dims, mask), v, dims);
    close(r.output, viaQ, 1e-9, `${s.grid}`);
  }
});

test('referenceAttention: guidance special cases (NAG scale 1, PAG identity, GAG PLADIS, GAG equal values)', () => {
  const s = SHAPES[0];
  const dims = dimsOf(s);
  const { B, H, N, T, d } = dims;
  const q = randomArray(B * H * N * d, next);
  const k = randomArray(B * H * T * d, next);
  const v = randomArray(B * H * T * d, next);
  const mask = randomMask(B, T);
  const afm = { grid: s.grid, gainLow: 1.4, gainHigh: 0.7 };
  const base = referenceAttention(q, k, v, dims, { mask, afm }).output;
  // NAG: scale 1 keeps the positive output; scale 3, huge tau, alpha 1 is the extrapolation against an
  // AFM-edited negative branch (computed here through the filtered queries).
  const Tneg = 6;
  const kNeg = randomArray(B * H * Tneg * d, next);
  const vNeg = randomArray(B * H * Tneg * d, next);
  const maskNeg = randomMask(B, Tneg);
  const nag1 = referenceAttention(q, k, v, dims, { mask, afm, guidance: { kind: 'nag', kNeg, vNeg, Tneg, maskNeg, scale: 1 } });
  close(nag1.output, base, 1e-12, 'NAG scale 1');
  const nag3 = referenceAttention(q, k, v, dims, {
    mask, afm, guidance: { kind: 'nag', kNeg, vNeg, Tneg, maskNeg, scale: 3, tau: 1e9, alpha: 1 },
  });
  const negDims: Dims = { ...dims, T: Tneg };
  const edit: AfmEdit = { grid: s.grid, gainLow: 1.4, gainHigh: 0.7, cutoff: 0.25, width: 0.05, preserveDC: true };
  const qf = filterQueries(q, dims, edit);
  const Zn = applyProbs(softmaxRows(logits(qf, kNeg, negDims, 1 / Math.sqrt(d)), negDims, maskNeg), vNeg, negDims);
  close(nag3.output, base.map((p, i) => 3 * p - 2 * Zn[i]), 1e-9, 'NAG extrapolation');
  // GAG: zeta 1, eta Infinity is PLADIS with lambda = 1 + w, S from sparsemax over the edited logits.
  const w = 2;
  const gag = referenceAttention(q, k, v, dims, { mask, afm, guidance: { kind: 'gag', alpha: 2, scale: w, eta: Infinity, zeta: 1 } });
  const Le = logits(qf, k, dims, 1 / Math.sqrt(d));
  const Ps = new Float64Array(B * H * N * T);
  for (let b = 0; b < B; b++) {
    const allowed = Array.from({ length: T }, (_, j) => mask[b * T + j] !== 0);
    for (let row = b * H * N; row < (b + 1) * H * N; row++) {
      Ps.set(entmax(Le.subarray(row * T, (row + 1) * T), 2, allowed), row * T);
    }
  }
  const S = applyProbs(Ps, v, dims);
  close(gag.output, base.map((D, i) => D + (1 + w) * (S[i] - D)), 1e-9, 'GAG PLADIS');
  // PAG needs N == T: identity attention returns v on the perturbed rows.
  const pd: Dims = { B: 3, H: 2, N: 4, T: 4, d: 3 };
  const pq = randomArray(3 * 2 * 4 * 3, next);
  const pk = randomArray(3 * 2 * 4 * 3, next);
  const pv = randomArray(3 * 2 * 4 * 3, next);
  const plain = referenceAttention(pq, pk, pv, pd).output;
  close(referenceAttention(pq, pk, pv, pd, { guidance: { kind: 'pag' } }).output, pv, 0, 'PAG whole batch');
  const part = referenceAttention(pq, pk, pv, pd, { guidance: { kind: 'pag', batch: [1, 2] } }).output;
  const per = 2 * 4 * 3;
  close(part.subarray(0, per), plain.subarray(0, per), 0, 'PAG row 0');
  close(part.subarray(per, 2 * per), pv.subarray(per, 2 * per), 0, 'PAG row 1');
  close(part.subarray(2 * per), plain.subarray(2 * per), 0, 'PAG row 2');
});

test('referenceAttention: capture returns concentration in [1/T, 1] and spectra that sum to 1', () => {
  for (const s of SHAPES) {
    const dims = dimsOf(s);
    const { B, H, N, T, d } = dims;
    const q = randomArray(B * H * N * d, next, 2);
    const k = randomArray(B * H * T * d, next, 2);
    const v = randomArray(B * H * T * d, next);
    const r = referenceAttention(q, k, v, dims, { afm: { grid: s.grid, gainLow: 1.3 }, capture: { topK: 2, bins: 8 } });
    assert.ok(r.concentration !== undefined && r.spectrum !== undefined);
    assert.is(r.concentration.length, B * N);
    assert.is(r.spectrum.length, B * 8);
    for (const c of r.concentration) assert.ok(c >= 1 / T - 1e-12 && c <= 1 + 1e-12, `c ${c}`);
    for (let b = 0; b < B; b++) {
      let sum = 0;
      for (let i = 0; i < 8; i++) sum += r.spectrum[b * 8 + i];
      assert.ok(Math.abs(sum - 1) < 1e-12, `spectrum sum ${sum}`);
    }
    // Same result with the grid given to capture instead of AFM (unit gains: plain attention).
    const a = referenceAttention(q, k, v, dims, { capture: { grid: s.grid, topK: 2 } });
    const b = referenceAttention(q, k, v, dims, { afm: { grid: s.grid, gainLow: 1, gainHigh: 1 }, capture: { topK: 2 } });
    close(a.spectrum ?? [], b.spectrum ?? [], 1e-9, 'grid source');
    assert.is(a.spectrum?.length, B * 16);
    // The default topK 8 >= T averages every probability: 1/T up to rounding.
    const flat = referenceAttention(q, k, v, dims, { capture: { grid: s.grid } });
    close(flat.concentration ?? [], new Float64Array(B * N).fill(1 / T), 1e-15, 'topK >= T');
  }
});

test.run();
