/**
 * Fuzz cases of `attention()`: runs a random call (attention-inputs.ts) and checks a successful
 * result: the documented output shape, dtype and device; finite values, stats and capture when the
 * inputs were finite and moderate; the T-GATE mean on replay; and, for plain attention on small
 * sizes, agreement with the float64 reference of test/helpers/attention-reference.ts.
 */
import { AttentionCache, Tensor, attention, type AttentionResult, type ErrorCode } from '../../ts/index.js';
import { referenceAttention, relativeError } from '../helpers/attention-reference.js';
import { Arena } from './arena.js';
import { CheckFailure, type Expectation, type FuzzCase } from './case.js';
import { CacheSpec, TensorSpec, attentionSpec, type AttentionSpec } from './attention-inputs.js';
import type { Random } from './random.js';
import { show } from './show.js';
import { allFinite } from './values.js';

/** The float32 bound against the float64 reference (test/attention.cpu.test.ts). */
const REFERENCE_TOLERANCE = 1e-5;

/** What a call produced, with the recording a replay must reproduce. */
interface Called {
  result: Tensor | AttentionResult;
  /** The output of the record call made before a replay. */
  recorded?: Float32Array;
}

/** Makes the tensors and caches a spec describes; a recording runs its record call here. */
async function materialize(value: unknown, arena: Arena, into: { recorded?: Tensor; inputs: Tensor[] }): Promise<unknown> {
  if (value instanceof TensorSpec) {
    const t = arena.keep(Tensor.from(value.values, value.shape, { dtype: value.dtype }));
    if (value.disposed) t.dispose();
    into.inputs.push(t);
    return t;
  }
  if (value instanceof CacheSpec) {
    const cache = new AttentionCache();
    if (value.record) {
      const { q, k, v } = value.record;
      const made = await Promise.all([q, k, v].map((s) => materialize(s, arena, into))) as Tensor[];
      into.recorded = arena.keep(await attention(made[0]!, made[1]!, made[2]!, { cache: { handle: cache, mode: 'record' } }));
    }
    return cache;
  }
  if (Array.isArray(value) || value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = await materialize(v, arena, into);
  return out;
}

function expectation(spec: AttentionSpec): Expectation {
  // attention() reads its tensors after an internal await, so inputs disposed before it reaches
  // native code give E_DISPOSED; once the native job runs, it must finish safely.
  const problems = spec.disposeInFlight ? [...spec.problems, { what: 'inputs disposed in flight', codes: ['E_DISPOSED'] as ErrorCode[], certain: false }] : spec.problems;
  if (problems.length === 0) return { kind: 'succeed' };
  const codes = [...new Set(problems.flatMap((p) => p.codes))];
  const certain = problems.filter((p) => p.certain);
  const why = (certain.length ? certain : problems).map((p) => p.what).join('; ');
  return { kind: certain.length ? 'reject' : 'either', codes, why };
}

/** The mask a spec gives, as the reference takes it (B*T bytes), or undefined. */
function maskBytes(mask: unknown): Uint8Array | undefined {
  if (mask === undefined) return undefined;
  if (mask instanceof TensorSpec) return Uint8Array.from(mask.values, (x) => (x !== 0 ? 1 : 0));
  return Uint8Array.from(mask as ArrayLike<number | boolean>, (x) => (x ? 1 : 0));
}

function near(a: number, b: number, tol: number): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

async function checkResult(spec: AttentionSpec, called: Called): Promise<void> {
  const o = (spec.options ?? {}) as Record<string, unknown>;
  const wantsResult = o.returnStats === true || o.capture !== undefined;
  const { result } = called;
  const output = wantsResult ? (result as AttentionResult).output : result;
  if (!(output instanceof Tensor)) throw new CheckFailure(`expected ${wantsResult ? '{ output }' : 'a Tensor'}, got ${show(result)}`);
  const q = spec.q as TensorSpec;
  if (output.shape.join() !== q.shape.join() || output.dtype !== q.dtype || output.device !== 'cpu') {
    throw new CheckFailure(`output ${output.dtype}[${output.shape}] on ${output.device}, expected ${q.dtype}[${q.shape}] on cpu`);
  }
  const values = await output.toArray() as Float32Array;
  if (spec.sane && !allFinite(values)) throw new CheckFailure('non-finite output for finite inputs');

  if (called.recorded) {
    // Replay returns the mean of the two guidance halves of the recorded output (tgate.md).
    const rec = called.recorded;
    const half = rec.length / 2;
    const mean = Float64Array.from({ length: half }, (_, i) => (rec[i]! + rec[i + half]!) / 2);
    if (relativeError(values, mean) > 1e-6) throw new CheckFailure(`replay differs from the recorded mean by ${relativeError(values, mean)}`);
  }

  if (spec.referenceable) {
    const { dims } = spec;
    const [k, v] = [spec.k as TensorSpec, spec.v as TensorSpec];
    const ref = referenceAttention(q.values, k.values, v.values, dims, { scale: o.scale as number | undefined, mask: maskBytes(o.mask) });
    const err = relativeError(values, ref.output);
    if (!(err <= REFERENCE_TOLERANCE)) throw new CheckFailure(`relative error ${err} against the float64 reference`);
  }

  // Without queries there is nothing to gate or measure (and no capture comes back): only a
  // non-empty call's stats and capture are checked.
  const { B, H, N } = spec.dims;
  if (wantsResult && spec.sane && B * H * N > 0) checkExtras(spec, result as AttentionResult);
}

/** Stats and capture: finite, in range, and consistent with the options. */
function checkExtras(spec: AttentionSpec, r: AttentionResult): void {
  const o = spec.options as Record<string, unknown>;
  const { B, N } = spec.dims;
  if (o.returnStats === true) {
    const s = r.stats;
    if (!s || !Number.isFinite(s.gainLow) || !Number.isFinite(s.gainHigh)) throw new CheckFailure(`stats ${show(s)}`);
    const afm = o.afm as { gainLow?: number; gainHigh?: number; entropyGate?: { strength: number; wLow: number; wHigh: number; beta?: number; gamma?: number } } | undefined;
    if (afm?.entropyGate) {
      const H = s.entropy;
      if (H === null || !(H >= -1e-6 && H <= 1 + 1e-6)) throw new CheckFailure(`entropy ${H} outside [0, 1]`);
      const g = afm.entropyGate;
      const low = 1 + g.strength * g.wLow * (1 + (g.beta ?? 20) * H);
      const high = 1 + g.strength * g.wHigh * (1 + (g.gamma ?? 4) * (1 - H));
      if (!near(s.gainLow, low, 1e-4) || !near(s.gainHigh, high, 1e-4)) throw new CheckFailure(`gated gains ${s.gainLow}, ${s.gainHigh}, expected ${low}, ${high} for H = ${H}`);
    } else {
      const [low, high] = afm ? [afm.gainLow ?? 1, afm.gainHigh ?? 1] : [1, 1];
      if (s.entropy !== null || !near(s.gainLow, low, 1e-6) || !near(s.gainHigh, high, 1e-6)) throw new CheckFailure(`stats ${show(s)}, expected gains ${low}, ${high} and no entropy`);
    }
  }
  if (o.capture !== undefined) {
    const c = r.capture;
    if (!c) throw new CheckFailure('capture asked for but not returned');
    const bins = (o.capture as { bins?: number }).bins ?? 16;
    if (c.concentration.length !== B * N || c.spectrum.length !== B * bins || c.bins !== bins || c.grid[0] * c.grid[1] !== N) {
      throw new CheckFailure(`capture sizes: concentration ${c.concentration.length}, spectrum ${c.spectrum.length}, bins ${c.bins}, grid ${c.grid} (B ${B}, N ${N}, bins ${bins})`);
    }
    if (!c.concentration.every((x) => x >= 0 && x <= 1 + 1e-5)) throw new CheckFailure('concentration outside [0, 1]');
    for (let b = 0; b < B; b++) {
      const row = c.spectrum.subarray(b * bins, (b + 1) * bins);
      const sum = row.reduce((a, x) => a + x, 0);
      if (!row.every((x) => x >= 0) || !(Math.abs(sum - 1) < 1e-3 || sum === 0)) throw new CheckFailure(`spectrum row ${b} sums to ${sum}`);
    }
  }
}

export function attentionCase(r: Random): FuzzCase<Called> {
  const spec = attentionSpec(r);
  const arena = new Arena();
  const { B, H, N, T, d } = spec.dims;
  return {
    category: 'attention',
    description: `attention(q ${show(spec.q)}, k ${show(spec.k)}, v ${show(spec.v)}, ${show(spec.options)}) [B ${B} H ${H} N ${N} T ${T} d ${d}]`
      + (spec.disposeInFlight ? ` inputs disposed while it runs (${spec.disposeInFlight})` : '')
      + (spec.problems.length ? ` problems: ${spec.problems.map((p) => p.what).join('; ')}` : ''),
    call: async () => {
      const into: { recorded?: Tensor; inputs: Tensor[] } = { inputs: [] };
      const [q, k, v, options] = await Promise.all([spec.q, spec.k, spec.v, spec.options].map((x) => materialize(x, arena, into)));
      const running = attention(q as Tensor, k as Tensor, v as Tensor, options as never);
      // "Jobs already running on this tensor finish safely" (Tensor.dispose).
      if (spec.disposeInFlight === 'next-turn') {
        running.catch(() => undefined); // judged below, when awaited; not an unhandled rejection meanwhile
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (spec.disposeInFlight) for (const t of into.inputs) t.dispose();
      const result = arena.keep(await running);
      return { result, recorded: into.recorded && (await into.recorded.toArray() as Float32Array) };
    },
    expect: expectation(spec),
    check: (called) => checkResult(spec, called),
    cleanup: () => arena.dispose(),
  };
}
