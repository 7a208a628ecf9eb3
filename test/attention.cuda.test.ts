import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { AttentionCache, Tensor, attention, info, type AttentionOptions, type DType } from '../ts/index.js';
import { makeCase, values, type Case, type CaseSpec } from './helpers/attention-case.js';
import { randomArray, relativeError } from './helpers/attention-reference.js';
import { rng } from './helpers/random.js';

// The CUDA attention family against the CPU backend (itself checked against float64 references in
// attention.cpu.test.ts), on inputs already rounded to the tested dtype, so only the arithmetic
// differs. Tolerances (relative error): float32 1e-5; float16 3e-3; bfloat16 1e-2 (the bounds).
const i = info();
const run = i.backend === 'cuda' ? test : test.skip;
if (i.backend !== 'cuda') console.log(`attention.cuda.test.ts: skipping CUDA attention tests: ${i.reason}`);

const next = rng();
const TOL: Record<DType, number> = { float32: 1e-5, float16: 3e-3, bfloat16: 1e-2 };
const DTYPES: DType[] = ['float32', 'float16', 'bfloat16'];

/** The case's inputs rounded to `dtype`, as float32 CPU tensors and as `dtype` CUDA tensors. */
async function pair(c: Case, dtype: DType) {
  const { B, H, N, T, d } = c.dims;
  const make = async (data: Float32Array, shape: number[]) => {
    const rounded = await values(Tensor.from(data, shape, { dtype }));
    return { cpu: Tensor.from(rounded, shape), cuda: Tensor.from(rounded, shape, { dtype, device: 'cuda' }) };
  };
  return { q: await make(c.q, [B, H, N, d]), k: await make(c.k, [B, H, T, d]), v: await make(c.v, [B, H, T, d]) };
}

async function compare(spec: CaseSpec, opts: () => AttentionOptions, what: string): Promise<void> {
  const c = makeCase(spec, next);
  for (const dtype of DTYPES) {
    const t = await pair(c, dtype);
    const o = opts();
    const want = await values(await attention(t.q.cpu, t.k.cpu, t.v.cpu, { ...o, mask: c.mask }));
    const got = await attention(t.q.cuda, t.k.cuda, t.v.cuda, { ...o, mask: c.mask });
    assert.is(got.dtype, dtype);
    assert.is(got.device, 'cuda');
    const err = relativeError(await values(got), want);
    assert.ok(err <= TOL[dtype], `${what} ${dtype} ${JSON.stringify(spec)}: relative error ${err}`);
  }
}

const SHAPES: CaseSpec[] = [
  { B: 2, H: 2, N: 63, T: 77, d: 40, mask: true },
  { B: 1, H: 3, N: 240, T: 154, d: 80 },
  { B: 2, H: 1, N: 35, T: 7, d: 160, mask: true },
  { B: 2, H: 2, N: 64, T: 64, d: 64 },
  { B: 1, H: 1, N: 13, T: 1, d: 8 },
];
const GRID: Record<number, [number, number]> = { 63: [7, 9], 240: [12, 20], 35: [5, 7], 64: [8, 8], 13: [1, 13] };

run('plain attention: every dtype, odd shapes, masks', async () => {
  for (const s of SHAPES) await compare(s, () => ({}), 'plain');
});

run('AFM fused, entropy gate, and the reference path', async () => {
  for (const s of SHAPES.filter((x) => x.T > 1)) {
    const grid = GRID[s.N]!;
    await compare(s, () => ({ afm: { grid, gainLow: 1.3, gainHigh: 0.8 } }), 'afm');
    await compare(s, () => ({ afm: { grid, entropyGate: { strength: 0.3, wLow: 0.6, wHigh: 0.4 } } }), 'afm gate');
    await compare(s, () => ({ afm: { grid, gainLow: 0.7, gainHigh: 1.4, preserveDC: false, mode: 'reference' } }), 'afm reference');
  }
});

run('GAG, NAG and PAG', async () => {
  for (const s of SHAPES.filter((x) => x.T > 1)) {
    await compare(s, () => ({ guidance: { kind: 'gag', scale: 3, zeta: 0.3 } }), 'gag');
    const Tn = 9;
    const kn = randomArray(s.B * s.H * Tn * s.d, next), vn = randomArray(s.B * s.H * Tn * s.d, next);
    const shape = [s.B, s.H, Tn, s.d];
    for (const dtype of DTYPES) {
      const c = makeCase(s, next);
      const t = await pair(c, dtype);
      const knr = await values(Tensor.from(kn, shape, { dtype })), vnr = await values(Tensor.from(vn, shape, { dtype }));
      const want = await values(await attention(t.q.cpu, t.k.cpu, t.v.cpu, { mask: c.mask, guidance: { kind: 'nag', kNeg: Tensor.from(knr, shape), vNeg: Tensor.from(vnr, shape) } }));
      const got = await values(await attention(t.q.cuda, t.k.cuda, t.v.cuda, {
        mask: c.mask, guidance: { kind: 'nag', kNeg: Tensor.from(knr, shape, { dtype, device: 'cuda' }), vNeg: Tensor.from(vnr, shape, { dtype, device: 'cuda' }) },
      }));
      assert.ok(relativeError(got, want) <= TOL[dtype], `nag ${dtype}`);
    }
  }
  await compare({ B: 3, H: 2, N: 35, T: 35, d: 40 }, () => ({ guidance: { kind: 'pag', batch: [1, 3] } }), 'pag');
});

run('T-GATE record and replay, and capture, on the device', async () => {
  const c = makeCase({ B: 2, H: 2, N: 240, T: 77, d: 40, mask: true, minKeys: 8 }, next);
  for (const dtype of DTYPES) {
    const t = await pair(c, dtype);
    const cpuCache = new AttentionCache(), gpuCache = new AttentionCache();
    const opts = { mask: c.mask, afm: { grid: [12, 20] as [number, number], gainLow: 1.2, gainHigh: 0.9 }, capture: { topK: 4, bins: 8 } };
    const want = await attention(t.q.cpu, t.k.cpu, t.v.cpu, { ...opts, cache: { handle: cpuCache, mode: 'record' } });
    const got = await attention(t.q.cuda, t.k.cuda, t.v.cuda, { ...opts, cache: { handle: gpuCache, mode: 'record' } });
    assert.ok(relativeError(await values(got.output), await values(want.output)) <= TOL[dtype], `record ${dtype}`);
    assert.ok(relativeError(got.capture!.concentration, want.capture!.concentration) <= TOL[dtype], `concentration ${dtype}`);
    assert.ok(relativeError(got.capture!.spectrum, want.capture!.spectrum) <= 10 * TOL[dtype], `spectrum ${dtype}`);
    const half = Tensor.from(new Float32Array(2 * 240 * 40), [1, 2, 240, 40], { dtype, device: 'cuda' });
    const replayed = await attention(half, half, half, { cache: { handle: gpuCache, mode: 'replay' } });
    const halfCpu = Tensor.from(new Float32Array(2 * 240 * 40), [1, 2, 240, 40]);
    const wantReplay = await attention(halfCpu, halfCpu, halfCpu, { cache: { handle: cpuCache, mode: 'replay' } });
    assert.ok(relativeError(await values(replayed), await values(wantReplay)) <= TOL[dtype], `replay ${dtype}`);
  }
});

test.run();
