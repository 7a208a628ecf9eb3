import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { AttentionCache, Tensor, attention, type AttentionOptions } from '../ts/index.js';
import { makeCase, randomMask, tensors, values, type CaseSpec } from './helpers/attention-case.js';
import {
  randomArray, referenceAttention, relativeError, tgateMean, type ReferenceOptions,
} from './helpers/attention-reference.js';
import { runChild } from './helpers/child.js';
import { throwsCode } from './helpers/errors.js';
import { rng, SEED } from './helpers/random.js';

// Float32 kernels against float64 references (test/helpers/attention-reference.ts) on fresh random
// inputs. Tolerance: relative error (norm of the difference / norm of the reference) <= 1e-5, the
// issue's float32 bound; float32 accumulation over d <= 160 and T <= 154 lands near 3e-7.
const TOL = 1e-5;
const next = rng();

/** Runs the op and the reference on one random case and compares outputs (and stats, capture). */
async function check(spec: CaseSpec, opts: AttentionOptions, ref: ReferenceOptions, what: string): Promise<void> {
  const c = makeCase(spec, next);
  const t = tensors(c);
  const r = referenceAttention(c.q, c.k, c.v, c.dims, { ...ref, mask: c.mask });
  const res = await attention(t.q, t.k, t.v, { ...opts, mask: c.mask, returnStats: true });
  const err = relativeError(await values(res.output), r.output);
  assert.ok(err <= TOL, `${what} ${JSON.stringify(spec)}: relative error ${err}`);
  if (ref.afm?.entropyGate) {
    assert.ok(Math.abs(res.stats!.entropy! - r.entropy) < 1e-5, `${what}: entropy ${res.stats!.entropy} vs ${r.entropy}`);
    assert.ok(Math.abs(res.stats!.gainLow - r.gainLow) < 1e-4 && Math.abs(res.stats!.gainHigh - r.gainHigh) < 1e-4, `${what}: gains`);
  }
  if (ref.capture) {
    const cap = await attention(t.q, t.k, t.v, { ...opts, mask: c.mask, capture: ref.capture });
    assert.ok(relativeError(cap.capture!.concentration, r.concentration!) <= TOL, `${what}: concentration`);
    assert.ok(relativeError(cap.capture!.spectrum, r.spectrum!) <= 1e-4, `${what}: spectrum ${relativeError(cap.capture!.spectrum, r.spectrum!)}`);
  }
}

// Odd N, non-square grids, T in {1, 7, 77, 154}, d in {8, 40, 64, 80, 160}, with and without masks.
const GRIDS: Array<[number, number]> = [[7, 9], [12, 20], [5, 5], [1, 13]];
const SHAPES: CaseSpec[] = [];
for (const d of [8, 40, 64, 80, 160]) {
  for (const T of [1, 7, 77, 154]) {
    const [gh, gw] = GRIDS[(d + T) % GRIDS.length]!;
    SHAPES.push({ B: 2, H: d > 80 ? 1 : 2, N: gh * gw, T, d, mask: T > 1 && (d + T) % 2 === 1 });
  }
}
const gridOf = (N: number): [number, number] => GRIDS.find(([h, w]) => h * w === N)!;

const plain = suite('attention: plain');

plain('matches the reference over d, T, odd and non-square N, masks', async () => {
  for (const s of SHAPES) await check(s, {}, {}, 'plain');
});

plain('explicit scale, one head, one batch', async () => {
  await check({ B: 1, H: 1, N: 31, T: 77, d: 40 }, { scale: 0.05 }, { scale: 0.05 }, 'scale');
});

plain('no NaN for huge logits and rows that mask all keys but one', async () => {
  const c = makeCase({ B: 2, H: 2, N: 20, T: 77, d: 40, qScale: 300 }, next);
  const mask = new Uint8Array(2 * 77);
  mask[5] = 1;  // batch 0 attends to key 5 only
  mask.fill(1, 77);
  const t = tensors(c);
  const out = await values(await attention(t.q, t.k, t.v, { mask }));
  assert.ok(out.every(Number.isFinite));
  const ref = referenceAttention(c.q, c.k, c.v, c.dims, { mask });
  assert.ok(relativeError(out, ref.output) <= TOL);
});

plain('every SIMD path gives the same answer', async () => {
  for (const level of ['scalar', 'avx2']) {
    const errs = runChild<number[]>(`
      const { makeCase, tensors, values } = require(${JSON.stringify(require.resolve('./helpers/attention-case.ts'))});
      const { referenceAttention, relativeError } = require(${JSON.stringify(require.resolve('./helpers/attention-reference.ts'))});
      const { rng } = require(${JSON.stringify(require.resolve('./helpers/random.ts'))});
      const next = rng();
      const errs = [];
      for (const s of [{ B: 2, H: 2, N: 63, T: 77, d: 40, mask: true }, { B: 1, H: 2, N: 35, T: 35, d: 80 }]) {
        const c = makeCase(s, next); const t = tensors(c);
        for (const opts of [{}, { afm: { grid: s.N === 63 ? [7, 9] : [5, 7], gainLow: 1.4, gainHigh: 0.8 } }, { guidance: { kind: 'gag' } }]) {
          const out = await values(await da.attention(t.q, t.k, t.v, { ...opts, mask: c.mask }));
          errs.push(relativeError(out, referenceAttention(c.q, c.k, c.v, c.dims, { ...opts, mask: c.mask }).output));
        }
      }
      return errs;`, { DIFFUSION_ATTENTION_SIMD: level, TEST_SEED: String(SEED) });
    for (const e of errs) assert.ok(e <= TOL, `${level}: relative error ${e}`);
  }
});

plain.run();

const afm = suite('attention: AFM');

afm('fused path with fixed gains matches the logit-domain reference (grids, cutoffs, widths, DC)', async () => {
  const settings = [
    { gainLow: 1.3, gainHigh: 0.7, cutoff: 0.25, width: 0.05, preserveDC: true },
    { gainLow: 0.6, gainHigh: 1.5, cutoff: 0.5, width: 0, preserveDC: false },
    { gainLow: 2, gainHigh: 1, cutoff: 0.1, width: 0.2, preserveDC: true },
    { gainLow: 1, gainHigh: 1.8, cutoff: 1, width: 0.05, preserveDC: false },
  ];
  for (const [i, s] of SHAPES.filter((x) => x.T > 1).entries()) {
    const a = { grid: gridOf(s.N), ...settings[i % settings.length]! };
    await check(s, { afm: a }, { afm: a }, 'afm fused');
  }
});

afm('the unfused reference mode matches too, and equals the fused path', async () => {
  for (const s of SHAPES.filter((x) => x.d <= 64 && x.T > 1).slice(0, 6)) {
    const a = { grid: gridOf(s.N), gainLow: 1.5, gainHigh: 0.6 };
    await check(s, { afm: { ...a, mode: 'reference' } }, { afm: a }, 'afm reference');
    const c = makeCase(s, next);
    const t = tensors(c);
    const fused = await values(await attention(t.q, t.k, t.v, { mask: c.mask, afm: a }));
    const unfused = await values(await attention(t.q, t.k, t.v, { mask: c.mask, afm: { ...a, mode: 'reference' } }));
    assert.ok(relativeError(fused, unfused) <= TOL);
  }
});

afm('gains (1, 1) equal plain attention', async () => {
  const c = makeCase({ B: 2, H: 2, N: 240, T: 77, d: 40, mask: true }, next);
  const t = tensors(c);
  const a = await values(await attention(t.q, t.k, t.v, { mask: c.mask }));
  const b = await values(await attention(t.q, t.k, t.v, { mask: c.mask, afm: { grid: [12, 20], gainLow: 1, gainHigh: 1 } }));
  assert.ok(relativeError(b, a) <= 1e-6, `${relativeError(b, a)}`);
});

afm('with preserveDC each token\'s spatial-mean logit is unchanged', async () => {
  // Two keys and values 0 and 1 with d = 1 make the output sigmoid(L1 - L0) per position, so the
  // logit difference can be read back from the op and its spatial mean compared.
  const [gh, gw] = [7, 9];
  const N = gh * gw;
  const q = randomArray(N, next), k = randomArray(2, next);
  const qt = Tensor.from(q, [1, 1, N, 1]), kt = Tensor.from(k, [1, 1, 2, 1]), vt = Tensor.from(new Float32Array([0, 1]), [1, 1, 2, 1]);
  const meanLogitDiff = (p: Float32Array) => p.reduce((s, x) => s + Math.log(x / (1 - x)), 0) / N;
  const base = meanLogitDiff(await values(await attention(qt, kt, vt)));
  const kept = meanLogitDiff(await values(await attention(qt, kt, vt, { afm: { grid: [gh, gw], gainLow: 1.7, gainHigh: 0.4 } })));
  const moved = meanLogitDiff(await values(await attention(qt, kt, vt, { afm: { grid: [gh, gw], gainLow: 1.7, gainHigh: 0.4, preserveDC: false } })));
  assert.ok(Math.abs(kept - base) < 1e-4, `DC kept: ${kept} vs ${base}`);
  assert.ok(Math.abs(moved - 1.7 * base) < 1e-3 * Math.max(1, Math.abs(base)), `DC scaled by the low gain: ${moved} vs ${1.7 * base}`);
});

afm('entropy gate: H and the gains match the reference, computed in the same call', async () => {
  for (const s of SHAPES.filter((x) => x.T > 1).slice(0, 8)) {
    const gate = { strength: 0.3, wLow: 0.7, wHigh: 0.3, beta: 20, gamma: 4 };
    await check(s, { afm: { grid: gridOf(s.N), entropyGate: gate } }, { afm: { grid: gridOf(s.N), entropyGate: gate } }, 'gate');
  }
  // The gate in the reference path as well.
  const s = SHAPES[5]!;
  const gate = { strength: 0.2, wLow: 1, wHigh: 0 };
  await check(s, { afm: { grid: gridOf(s.N), entropyGate: gate, mode: 'reference' } }, { afm: { grid: gridOf(s.N), entropyGate: gate } }, 'gate reference');
});

afm.run();

const guidance = suite('attention: guidance');

guidance('GAG matches the reference (alpha 1.5 and 2, zeta, eta cap, masks)', async () => {
  const params = [
    { kind: 'gag' as const },
    { kind: 'gag' as const, alpha: 2 as const, scale: 3, zeta: 0.5 },
    { kind: 'gag' as const, scale: 5, eta: 0.05 },
    { kind: 'gag' as const, alpha: 1.5 as const, eta: Infinity, zeta: 1 },
  ];
  for (const [i, s] of SHAPES.filter((x) => x.T > 1).entries()) {
    const g = params[i % params.length]!;
    await check(s, { guidance: g }, { guidance: g }, `gag ${JSON.stringify(g)}`);
  }
});

guidance('NAG matches the reference, with a masked negative prompt', async () => {
  for (const s of [SHAPES[1]!, SHAPES[6]!, SHAPES[10]!, SHAPES[17]!]) {
    const Tneg = 5 + (s.T % 9);
    const kNeg = randomArray(s.B * s.H * Tneg * s.d, next), vNeg = randomArray(s.B * s.H * Tneg * s.d, next);
    const maskNeg = randomMask(s.B, Tneg, next);
    const shape = [s.B, s.H, Tneg, s.d];
    for (const p of [{ scale: 5, tau: 2.5, alpha: 0.5 }, { scale: 3, tau: 1.1, alpha: 0.25 }]) {
      await check(s,
        { guidance: { kind: 'nag', kNeg: Tensor.from(kNeg, shape), vNeg: Tensor.from(vNeg, shape), maskNeg, ...p } },
        { guidance: { kind: 'nag', kNeg, vNeg, Tneg, maskNeg, ...p } }, 'nag');
    }
  }
});

guidance('PAG: identity attention on the perturbed rows, plain elsewhere', async () => {
  await check({ B: 3, H: 2, N: 35, T: 35, d: 40 }, { guidance: { kind: 'pag', batch: [2, 3] } }, { guidance: { kind: 'pag', batch: [2, 3] } }, 'pag');
  await check({ B: 2, H: 1, N: 12, T: 12, d: 8 }, { guidance: { kind: 'pag' } }, { guidance: { kind: 'pag' } }, 'pag all');
});

guidance.run();

const cache = suite('attention: T-GATE cache and capture');

cache('record stores the mean of the guidance halves; replay returns it without computing', async () => {
  const c = makeCase({ B: 4, H: 2, N: 63, T: 77, d: 40, mask: true }, next);
  const t = tensors(c);
  const handle = new AttentionCache();
  assert.not.ok(handle.recorded);
  await throwsCode(() => attention(t.q, t.k, t.v, { cache: { handle, mode: 'replay' } }), 'E_INVALID_ARGUMENT');
  const out = await values(await attention(t.q, t.k, t.v, { mask: c.mask, cache: { handle, mode: 'record' } }));
  const ref = referenceAttention(c.q, c.k, c.v, c.dims, { mask: c.mask });
  assert.ok(relativeError(out, ref.output) <= TOL);
  assert.equal(handle.shape, [2, 2, 63, 40]);
  const half = Tensor.from(c.q.subarray(0, c.q.length / 2), [2, 2, 63, 40]);
  const replayed = await values(await attention(half, half, half, { cache: { handle, mode: 'replay' } }));
  assert.ok(relativeError(replayed, tgateMean(ref.output, c.dims)) <= TOL);
  handle.clear();
  assert.not.ok(handle.recorded);
});

cache('record composes with AFM, GAG and capture in one call', async () => {
  // More attended keys than topK: otherwise c(x) is flat and its spectrum is rounding noise.
  const s = { B: 2, H: 2, N: 240, T: 77, d: 40, mask: true, minKeys: 8 };
  const c = makeCase(s, next);
  const t = tensors(c);
  const handle = new AttentionCache();
  const a = { grid: [12, 20] as [number, number], gainLow: 1.2, gainHigh: 0.9 };
  const g = { kind: 'gag' as const, scale: 2 };
  const res = await attention(t.q, t.k, t.v, { mask: c.mask, afm: a, guidance: g, cache: { handle, mode: 'record' }, capture: { topK: 4, bins: 8 } });
  const ref = referenceAttention(c.q, c.k, c.v, c.dims, { mask: c.mask, afm: a, guidance: g, capture: { topK: 4, bins: 8, grid: [12, 20] } });
  assert.ok(relativeError(await values(res.output), ref.output) <= TOL);
  assert.ok(relativeError(res.capture!.concentration, ref.concentration!) <= TOL);
  assert.ok(relativeError(res.capture!.spectrum, ref.spectrum!) <= 1e-4);
  const half = Tensor.from(new Float32Array(2 * 240 * 40), [1, 2, 240, 40]);
  assert.ok(relativeError(await values(await attention(half, half, half, { cache: { handle, mode: 'replay' } })), tgateMean(ref.output, c.dims)) <= TOL);
});

cache('capture matches the reference (plain and AFM, several grids)', async () => {
  // Without masks and with K < T: when the top K covers every attended key, c(x) = 1/K is flat and
  // its spectrum is rounding noise on both sides.
  for (const s of SHAPES.filter((x) => x.T > 1).slice(0, 6).map((x) => ({ ...x, mask: false }))) {
    const capture = { topK: Math.min(1 + (s.T % 8), s.T - 1), bins: 3 + (s.d % 7), grid: gridOf(s.N) };
    await check(s, {}, { capture }, 'capture');
    await check(s, { afm: { grid: gridOf(s.N), gainLow: 1.2, gainHigh: 0.8 } }, { capture, afm: { grid: gridOf(s.N), gainLow: 1.2, gainHigh: 0.8 } }, 'capture afm');
  }
});

cache.run();

const errors = suite('attention: errors');

errors('bad inputs are typed errors, raised before native work', async () => {
  const c = makeCase({ B: 2, H: 2, N: 6, T: 5, d: 8 }, next);
  const t = tensors(c);
  await throwsCode(() => attention(t.q, t.k, Tensor.from(new Float32Array(2 * 2 * 4 * 8), [2, 2, 4, 8])), 'E_SHAPE');
  await throwsCode(() => attention(Tensor.from(new Float32Array(8), [8]), t.k, t.v), 'E_SHAPE');
  await throwsCode(() => attention(t.q, t.k, t.v, { mask: new Uint8Array(3) }), 'E_SHAPE');
  await throwsCode(() => attention(t.q, t.k, t.v, { mask: new Uint8Array(10).fill(1, 0, 5) }), 'E_SHAPE');
  await throwsCode(() => attention(t.q, t.k, t.v, { afm: { grid: [2, 2], gainLow: 2 } }), 'E_SHAPE');
  await throwsCode(() => attention(t.q, t.k, t.v, { afm: { grid: [2, 3], gainLow: 2, entropyGate: { strength: 1, wLow: 1, wHigh: 0 } } }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => attention(t.q, t.k, t.v, { guidance: { kind: 'gag', alpha: 1.7 as 1.5 } }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => attention(t.q, t.k, t.v, { guidance: { kind: 'pag' } }), 'E_SHAPE');
  await throwsCode(() => attention(t.q, t.k, t.v, { bogus: 1 } as AttentionOptions), 'E_INVALID_ARGUMENT');
  await throwsCode(() => attention(t.q, t.k, t.v, { scale: -1 }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => attention(t.q, t.k, t.v, { capture: {} }), 'E_INVALID_ARGUMENT');  // N = 6 is not square
  const odd = makeCase({ B: 3, H: 1, N: 4, T: 2, d: 8 }, next);
  const o = tensors(odd);
  await throwsCode(() => attention(o.q, o.k, o.v, { cache: { handle: new AttentionCache(), mode: 'record' } }), 'E_SHAPE');
  const h16 = Tensor.from(c.q, [2, 2, 6, 8], { dtype: 'float16' });
  await throwsCode(() => attention(h16, h16, h16), 'E_DTYPE');
  t.v.dispose();
  await throwsCode(() => attention(t.q, t.k, t.v), 'E_DISPOSED');
});

errors.run();

const causal = suite('attention: causal (text encoders)');

causal('query i attends keys j <= i only, across key blocks, with a padding mask', async () => {
  for (const s of [{ B: 2, H: 3, N: 77, T: 77, d: 64 }, { B: 1, H: 2, N: 150, T: 150, d: 40 }, { B: 2, H: 1, N: 5, T: 5, d: 8 }]) {
    const c = makeCase(s, next);
    const t = tensors(c);
    const mask = randomMask(s.B, s.T, next, 1);
    const got = await values(await attention(t.q, t.k, t.v, { causal: true, mask }));
    // Reference: softmax over j <= i (and unmasked), per (b, h, i), in float64.
    const { B, H, N, T, d } = c.dims;
    const want = new Float64Array(B * H * N * d);
    const scale = 1 / Math.sqrt(d);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < N; i++) {
      const logit = (j: number) => {
        let z = 0;
        for (let k = 0; k < d; k++) z += c.q[((b * H + h) * N + i) * d + k]! * c.k[((b * H + h) * T + j) * d + k]!;
        return z * scale;
      };
      const allowed = (j: number) => j <= i && mask[b * T + j] !== 0;
      const js = Array.from({ length: T }, (_, j) => j).filter(allowed);
      const zs = js.map(logit), mx = Math.max(...zs);
      const ps = zs.map((z) => Math.exp(z - mx)), sum = ps.reduce((a2, x) => a2 + x, 0);
      js.forEach((j, n) => {
        for (let k = 0; k < d; k++) want[((b * H + h) * N + i) * d + k]! += (ps[n]! / sum) * c.v[((b * H + h) * T + j) * d + k]!;
      });
    }
    assert.ok(got.every(Number.isFinite));
    assert.ok(relativeError(got, want) <= TOL, `causal ${JSON.stringify(s)}: ${relativeError(got, want)}`);
  }
});

causal('causal does not combine with the guidance variants, and query 0 must see key 0', async () => {
  const c = makeCase({ B: 2, H: 1, N: 4, T: 4, d: 8 }, next);
  const t = tensors(c);
  await throwsCode(() => attention(t.q, t.k, t.v, { causal: true, guidance: { kind: 'gag' } }), 'E_INVALID_ARGUMENT');
  await throwsCode(() => attention(t.q, t.k, t.v, { causal: true, mask: new Uint8Array([1, 1, 1, 1, 0, 1, 1, 1]) }), 'E_SHAPE');
});

causal.run();
