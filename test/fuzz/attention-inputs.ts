/**
 * Random `attention()` calls: a problem size (small, zero-size, large, or zero-size with huge
 * dimensions), operands that are sometimes broken (rank, sizes, dtype, disposed, not a tensor), and
 * every option, drawn from valid values or from values the API must refuse. Generation is pure
 * (no library calls): tensors and caches are described by specs and made when the case runs, so a
 * case's description is complete before anything can crash.
 *
 * Alongside the call, the generator keeps what it knows about the outcome: `problems` lists each
 * deliberate defect with the codes it may cause and whether it certainly makes the call fail. No
 * problems means a valid call that must succeed (the documented rules are in ts/attention/types.ts
 * and README "The attention op": causal and replay combine with nothing, PAG needs N == T, record an
 * even batch, capture a grid, masks at least one key per row).
 */
import type { DType, ErrorCode } from '../../ts/index.js';
import type { Dims } from '../helpers/attention-reference.js';
import type { Random } from './random.js';
import { show } from './show.js';
import { floatValues, type ValueKind } from './values.js';

/** A tensor to make when the case runs. */
export class TensorSpec {
  constructor(
    readonly shape: number[],
    readonly values: Float32Array,
    readonly dtype: DType = 'float32',
    readonly disposed = false,
    readonly kind: ValueKind | 'given' = 'given',
  ) {}

  describe(): string {
    const kind = this.kind === 'normal' || this.kind === 'given' ? '' : ` ${this.kind}`;
    return `${this.dtype}[${this.shape.join(',')}]${kind}${this.disposed ? ' disposed' : ''}`;
  }
}

/** An AttentionCache to make when the case runs; `record` is a call that records into it first. */
export class CacheSpec {
  constructor(readonly record?: { q: TensorSpec; k: TensorSpec; v: TensorSpec }) {}

  describe(): string {
    return this.record ? `AttentionCache(recorded from q ${this.record.q.describe()}, k ${this.record.k.describe()})` : 'AttentionCache(empty)';
  }
}

export interface Problem {
  /** What is wrong; `certain` when the call must fail because of it. */
  what: string;
  codes: ErrorCode[];
  certain: boolean;
}

export interface AttentionSpec {
  dims: Dims;
  q: unknown;
  k: unknown;
  v: unknown;
  options: unknown;
  problems: Problem[];
  /** Finite inputs and moderate option values: a successful output must then be finite. */
  sane: boolean;
  /** Plain attention (mask and scale only) on normal values, small enough for the float64 reference. */
  referenceable: boolean;
  /**
   * Dispose every input tensor while the call runs: at once (before attention() reaches native
   * code) or on the next turn of the event loop (usually while the native job runs).
   */
  disposeInFlight?: 'sync' | 'next-turn';
}

/** Builds one spec; the methods record problems and sanity as they draw. */
class Draw {
  readonly problems: Problem[] = [];
  sane = true;
  /** At most one broken operand per call, so that two defects cannot cancel out (k and v both resized). */
  private brokenOperand = false;

  constructor(readonly r: Random) {}

  problem(what: string, codes: ErrorCode[], certain: boolean): void {
    this.problems.push({ what, codes, certain });
  }

  /** A number from `valid` (moderate), or an odd value that `classify` judges for this option. */
  number(name: string, valid: () => number, classify: (x: unknown) => 'invalid' | 'extreme' | 'valid'): unknown {
    if (this.r.chance(0.85)) return valid();
    const x = this.r.pick<unknown>([0, -1, -0.5, NaN, Infinity, -Infinity, 1e30, -1e30, 1e300, 1e-30, 2 ** 31, 1.5, '1', null, true, [1]]);
    const kind = classify(x);
    if (kind === 'invalid') this.problem(`${name} = ${show(x)}`, ['E_INVALID_ARGUMENT'], true);
    if (kind === 'extreme') {
      this.sane = false;
      // Finite in float64 but not in float32, or too small to act: the API may refuse it.
      this.problem(`${name} = ${show(x)} (extreme)`, ['E_INVALID_ARGUMENT'], false);
    }
    return x;
  }

  dims(): Dims {
    const r = this.r;
    const size = r.weighted<string>([['small', 80], ['zero', 6], ['large', 8], ['huge-empty', 4], ['bad-d', 2]]);
    const small = (): Dims => {
      const [gh, gw] = [r.int(1, 4), r.int(1, 4)];
      return { B: r.int(1, 4), H: r.int(1, 3), N: r.chance(0.7) ? gh * gw : r.int(1, 13), T: r.int(1, 10), d: r.pick([1, 2, 3, 4, 8, 16, 24, 64]) };
    };
    const dims = small();
    if (size === 'zero') {
      const key = r.pick(['B', 'H', 'N'] as const);
      dims[key] = 0;
      // An empty recording leaves the cache empty, so a replay of it is E_INVALID_ARGUMENT.
      this.problem(`${key} = 0 (empty)`, ['E_SHAPE', 'E_INVALID_ARGUMENT'], false);
    } else if (size === 'large') {
      // One large dimension; the others keep the work below ~10^7 multiply-adds.
      const which = r.pick(['N', 'T', 'd', 'H'] as const);
      Object.assign(dims, { B: 1, H: 1, d: Math.min(dims.d, 16) });
      if (which === 'N') Object.assign(dims, { N: r.pick([256, 1024, 4096]), T: r.int(1, 8) });
      if (which === 'T') Object.assign(dims, { T: r.pick([300, 1024, 4096]), N: r.int(1, 8) });
      if (which === 'd') Object.assign(dims, { d: r.pick([128, 255, 256]) });
      if (which === 'H') Object.assign(dims, { H: r.pick([64, 512]), N: r.int(1, 4), T: r.int(1, 4), d: r.int(1, 4) });
    } else if (size === 'huge-empty') {
      // No elements, so nothing to allocate for the inputs; sizes the kernels must not trust.
      const huge = () => r.pick([2 ** 16, 2 ** 20, 2 ** 31, 2 ** 33]);
      Object.assign(dims, { B: 0, H: huge(), N: r.chance(0.5) ? huge() : dims.N, T: r.chance(0.5) ? huge() : dims.T });
      this.problem('zero-size with huge dimensions', ['E_SHAPE', 'E_RESOURCE', 'E_INVALID_ARGUMENT'], false);
    } else if (size === 'bad-d') {
      dims.d = r.pick([0, 257, 1024]);
      this.problem(`d = ${dims.d}`, ['E_SHAPE'], true);
    }
    return dims;
  }

  values(n: number): { values: Float32Array; kind: ValueKind } {
    const kind = this.r.weighted<ValueKind>([['normal', 85], ['zeros', 4], ['large', 4], ['special', 7]]);
    if (kind === 'special') this.sane = false;
    return { values: floatValues(this.r, n, kind), kind };
  }

  tensor(shape: number[], dtype: DType = 'float32'): TensorSpec {
    const { values, kind } = this.values(shape.reduce((a, b) => a * b, 1));
    return new TensorSpec(shape, values, dtype, false, kind);
  }

  /** An operand of `shape`, sometimes broken; `read` says whether the call reads it (k and v are not read on replay). */
  operand(name: string, shape: number[], read: boolean, isQ: boolean): unknown {
    const r = this.r;
    if (this.brokenOperand || !r.chance(0.07)) return this.tensor(shape);
    this.brokenOperand = true;
    // Resizing an empty operand with huge dimensions would make it too large to hold.
    const empty = shape.includes(0);
    const defect = r.pick(empty ? ['dtype', 'disposed', 'not-a-tensor'] : ['rank', 'size', 'dtype', 'disposed', 'not-a-tensor']);
    if (defect === 'not-a-tensor') {
      const x = r.pick<unknown>([null, undefined, {}, new Float32Array(4), 1, 'q']);
      this.problem(`${name} = ${show(x)}`, ['E_DTYPE', 'E_INVALID_ARGUMENT'], isQ);
      return x;
    }
    if (defect === 'disposed') {
      this.problem(`${name} disposed`, ['E_DISPOSED'], read);
      const t = this.tensor(shape);
      return new TensorSpec(t.shape, t.values, t.dtype, true, t.kind);
    }
    if (defect === 'dtype') {
      // The operands live on the CPU, where attention is float32 only.
      const dtype = r.pick(['float16', 'bfloat16'] as const);
      this.problem(`${name} is ${dtype}`, ['E_DTYPE'], read);
      return this.tensor(shape, dtype);
    }
    if (defect === 'rank') {
      const broken = r.chance(0.5) ? shape.slice(0, r.int(0, 3)) : [...shape, r.int(1, 2)];
      this.problem(`${name} has rank ${broken.length}`, ['E_SHAPE'], read && broken.length !== 4);
      return this.tensor(broken);
    }
    const broken = [...shape];
    const axis = r.int(0, 3);
    broken[axis] = broken[axis]! + r.pick([-1, 1, 2]);
    if (broken[axis]! < 0) broken[axis] = shape[axis]! + 1;
    // Changing q's N is still a valid q; changing its B or d breaks the match with k and v.
    const matters = !(isQ && axis === 2) && broken[axis] !== shape[axis];
    this.problem(`${name} is [${broken}] instead of [${shape}]`, ['E_SHAPE'], read && matters);
    return this.tensor(broken);
  }

  /** A key-padding mask `[B, T]`: bytes, booleans or a float32 tensor, sometimes broken. */
  mask(name: string, B: number, T: number): unknown {
    const r = this.r;
    const bits = Array.from({ length: B * T }, (_, i) => (i % T === 0 || r.chance(0.7) ? 1 : 0));
    if (r.chance(0.1) && B > 0) {
      const row = r.int(0, B - 1);
      for (let j = 0; j < T; j++) bits[row * T + j] = 0;
      this.problem(`${name} row ${row} masks every key`, ['E_SHAPE'], true);
    }
    if (r.chance(0.1)) {
      const extra = bits.length > 0 ? r.pick([-1, 1]) : 1;
      if (extra < 0) bits.pop();
      else bits.push(1);
      this.problem(`${name} has ${bits.length} entries, not B*T = ${B * T}`, ['E_SHAPE', 'E_INVALID_ARGUMENT'], true);
    }
    switch (r.weighted<string>([['bytes', 5], ['booleans', 2], ['tensor', 2], ['other', 1]])) {
      case 'bytes': return Uint8Array.from(bits);
      case 'booleans': return bits.map((x) => x === 1);
      case 'tensor': {
        const shape = bits.length === B * T ? [B, T] : [bits.length];
        const disposed = r.chance(0.1);
        if (disposed) this.problem(`${name} tensor disposed`, ['E_DISPOSED'], true);
        return new TensorSpec(shape, Float32Array.from(bits), 'float32', disposed);
      }
      default: {
        const x = r.pick<unknown>([bits, 'mask', 1, new Float32Array(bits), new Int8Array(bits)]);
        // An empty array of numbers is also an empty array of booleans, a valid mask when B*T = 0.
        this.problem(`${name} = ${show(x)}`, ['E_INVALID_ARGUMENT'], !(Array.isArray(x) && x.length === 0));
        return x;
      }
    }
  }

  /** A grid `[H, W]` for N queries: a factorisation, or a wrong one. */
  grid(name: string, N: number): unknown {
    const r = this.r;
    const divisors: number[] = [];
    for (let h = 1; h * h <= N; h++) if (N % h === 0) divisors.push(h, N / h);
    if (divisors.length > 0 && r.chance(0.9)) {
      const h = r.pick(divisors);
      return [h, N / h];
    }
    const g = r.pick<unknown>([[N + 1, 1], [1, 2 * N + 1], [0, N], [N, 0], [-N, -1], [1.5, 2], [N], [1, N, 1], 'grid', [2 ** 31, 2 ** 31]]);
    const types = Array.isArray(g) && g.length === 2 && g.every((x) => Number.isInteger(x) && x > 0);
    this.problem(`${name} = ${show(g)} for N = ${N}`, types ? ['E_SHAPE'] : ['E_INVALID_ARGUMENT'], true);
    return g;
  }
}

const moderate = (r: Random, lo: number, hi: number) => () => lo + r.next() * (hi - lo);
const anyNumber = (x: unknown): 'invalid' | 'extreme' | 'valid' =>
  typeof x !== 'number' || !Number.isFinite(x) ? 'invalid' : Math.abs(x) > 1e6 || (x !== 0 && Math.abs(x) < 1e-6) ? 'extreme' : 'valid';
const positive = (x: unknown): 'invalid' | 'extreme' | 'valid' => (typeof x === 'number' && x <= 0 ? 'invalid' : anyNumber(x));

function afm(w: Draw, N: number): Record<string, unknown> {
  const r = w.r;
  const a: Record<string, unknown> = { grid: w.grid('afm.grid', N) };
  const gate = r.chance(0.35);
  if (!gate || r.chance(0.05)) {
    if (r.chance(0.8)) a.gainLow = w.number('afm.gainLow', moderate(r, -1, 3), anyNumber);
    if (r.chance(0.8)) a.gainHigh = w.number('afm.gainHigh', moderate(r, -1, 3), anyNumber);
  }
  if (gate) {
    const e: Record<string, unknown> = {
      strength: w.number('afm.entropyGate.strength', moderate(r, -1, 2), anyNumber),
      wLow: w.number('afm.entropyGate.wLow', moderate(r, -1, 2), anyNumber),
      wHigh: w.number('afm.entropyGate.wHigh', moderate(r, -1, 2), anyNumber),
    };
    if (r.chance(0.5)) e.beta = w.number('afm.entropyGate.beta', moderate(r, 0, 50), anyNumber);
    if (r.chance(0.5)) e.gamma = w.number('afm.entropyGate.gamma', moderate(r, 0, 10), anyNumber);
    if (r.chance(0.05)) {
      delete e.wHigh;
      w.problem('afm.entropyGate without wHigh', ['E_INVALID_ARGUMENT'], true);
    }
    a.entropyGate = e;
    if (a.gainLow !== undefined || a.gainHigh !== undefined) w.problem('afm gains and entropyGate together', ['E_INVALID_ARGUMENT'], true);
  }
  const unit = (x: unknown, lo: number, loOpen: boolean, hi: number, hiOpen: boolean) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) return 'invalid' as const;
    return (loOpen ? x > lo : x >= lo) && (hiOpen ? x < hi : x <= hi) ? 'valid' as const : 'invalid' as const;
  };
  if (r.chance(0.5)) a.cutoff = w.number('afm.cutoff', moderate(r, 0.01, 1), (x) => unit(x, 0, true, 1, false));
  if (r.chance(0.5)) a.width = w.number('afm.width', () => r.pick([0, r.next() * 0.99]), (x) => unit(x, 0, false, 1, true));
  if (r.chance(0.3)) a.preserveDC = r.chance(0.5);
  if (r.chance(0.4)) {
    a.mode = r.chance(0.95) ? r.pick(['fused', 'reference']) : 'fast';
    if (a.mode === 'fast') w.problem("afm.mode 'fast'", ['E_INVALID_ARGUMENT'], true);
  }
  return a;
}

function guidance(w: Draw, dims: Dims): Record<string, unknown> {
  const r = w.r;
  const { B, H, N, T, d } = dims;
  switch (r.weighted<string>([['gag', 4], ['nag', 4], ['pag', 3], ['unknown', 1]])) {
    case 'gag': {
      const g: Record<string, unknown> = { kind: 'gag' };
      if (r.chance(0.6)) g.scale = w.number('guidance.scale', moderate(r, -2, 10), anyNumber);
      if (r.chance(0.5)) {
        g.alpha = r.chance(0.9) ? r.pick([1.5, 2]) : r.pick([1, 3, 1.25]);
        if (g.alpha !== 1.5 && g.alpha !== 2) w.problem(`guidance.alpha = ${g.alpha}`, ['E_INVALID_ARGUMENT'], true);
      }
      // Infinity is a documented value of eta (no cap).
      if (r.chance(0.5)) g.eta = w.number('guidance.eta', moderate(r, 0.01, 30), (x) => (x === Infinity ? 'valid' : positive(x)));
      if (r.chance(0.4)) g.zeta = w.number('guidance.zeta', moderate(r, -1, 2), anyNumber);
      return g;
    }
    case 'nag': {
      const Tn = r.int(1, 8);
      const g: Record<string, unknown> = {
        kind: 'nag', kNeg: w.operand('guidance.kNeg', [B, H, Tn, d], true, false), vNeg: w.operand('guidance.vNeg', [B, H, Tn, d], true, false),
      };
      if (r.chance(0.3)) g.maskNeg = w.mask('guidance.maskNeg', B, Tn);
      if (r.chance(0.5)) g.scale = w.number('guidance.scale', moderate(r, -2, 10), anyNumber);
      if (r.chance(0.5)) g.tau = w.number('guidance.tau', moderate(r, 0.1, 5), positive);
      if (r.chance(0.5)) g.alpha = w.number('guidance.alpha', moderate(r, 0, 1), anyNumber);
      if (r.chance(0.05)) {
        delete g.vNeg;
        w.problem('NAG without vNeg', ['E_INVALID_ARGUMENT'], true);
      }
      return g;
    }
    case 'pag': {
      if (N !== T) w.problem(`PAG with N = ${N} != T = ${T}`, ['E_SHAPE'], true);
      if (!r.chance(0.6)) return { kind: 'pag' };
      const begin = r.int(0, B + 1);
      const end = r.int(0, B + 1);
      if (begin > end || end > B) w.problem(`guidance.batch [${begin}, ${end}] with B = ${B}`, ['E_INVALID_ARGUMENT'], true);
      return { kind: 'pag', batch: [begin, end] };
    }
    default:
      w.problem('guidance.kind unknown', ['E_INVALID_ARGUMENT'], true);
      return { kind: r.pick(['cfg', 'GAG', '', 1]) };
  }
}

function capture(w: Draw, N: number, afmGrid: boolean): Record<string, unknown> {
  const r = w.r;
  const c: Record<string, unknown> = {};
  const side = Math.round(Math.sqrt(N));
  if (r.chance(0.5)) c.grid = w.grid('capture.grid', N);
  else if (!afmGrid && side * side !== N) w.problem(`capture without a grid for N = ${N} (not a square)`, ['E_INVALID_ARGUMENT', 'E_SHAPE'], true);
  if (r.chance(0.5)) {
    c.topK = r.chance(0.9) ? r.int(1, 12) : r.pick([0, -1, 1.5, 2 ** 31, 2 ** 53 - 1]);
    if (!(Number.isSafeInteger(c.topK) && (c.topK as number) > 0)) w.problem(`capture.topK = ${c.topK}`, ['E_INVALID_ARGUMENT'], true);
  }
  if (r.chance(0.5)) {
    c.bins = r.chance(0.9) ? r.pick([1, 2, 7, 16, 64, 4096]) : r.pick([0, 4097, 1.5, -3]);
    if (!(Number.isInteger(c.bins) && (c.bins as number) >= 1 && (c.bins as number) <= 4096)) w.problem(`capture.bins = ${c.bins}`, ['E_INVALID_ARGUMENT'], true);
  }
  return c;
}

/** A T-GATE cache option: record, replay of a matching or mismatched recording, or an empty cache. */
function cache(w: Draw, dims: Dims): { handle: unknown; mode: unknown } {
  const r = w.r;
  const { B, H, N, d } = dims;
  const mode = r.chance(0.95) ? r.pick(['record', 'replay']) : 'rewind';
  if (mode === 'rewind') w.problem("cache.mode 'rewind'", ['E_INVALID_ARGUMENT'], true);
  if (r.chance(0.05)) {
    w.problem('cache.handle is not an AttentionCache', ['E_INVALID_ARGUMENT'], true);
    return { handle: {}, mode };
  }
  if (mode === 'record') {
    if (B % 2 !== 0) w.problem(`cache record with odd B = ${B}`, ['E_SHAPE'], true);
    return { handle: new CacheSpec(), mode };
  }
  if (r.chance(0.15)) {
    w.problem('replay of an empty cache', ['E_INVALID_ARGUMENT', 'E_SHAPE'], true);
    return { handle: new CacheSpec(), mode };
  }
  // Record from a batch of 2B (the two guidance halves); replay then returns [B, H, N, d].
  const rec = { B: 2 * B, H, N, T: r.int(1, 6), d };
  if (r.chance(0.15)) {
    const key = r.pick(['H', 'N', 'd'] as const);
    rec[key] += 1;
    w.problem(`replay of a recording with ${key} = ${rec[key]} instead of ${dims[key]}`, ['E_SHAPE'], true);
  }
  const q = new TensorSpec([rec.B, rec.H, rec.N, rec.d], floatValues(r, rec.B * rec.H * rec.N * rec.d, 'normal'), 'float32', false, 'normal');
  const kv = () => new TensorSpec([rec.B, rec.H, rec.T, rec.d], floatValues(r, rec.B * rec.H * rec.T * rec.d, 'normal'), 'float32', false, 'normal');
  return { handle: new CacheSpec({ q, k: kv(), v: kv() }), mode };
}

/** The options object: each option with its own probability, then the documented conflicts between them. */
function drawOptions(w: Draw, dims: Dims): Record<string, unknown> {
  const r = w.r;
  const { B, N, T } = dims;
  const o: Record<string, unknown> = {};
  const has = (p: number) => r.chance(p);
  if (has(0.15)) o.cache = cache(w, dims);
  const replay = (o.cache as { mode?: unknown } | undefined)?.mode === 'replay';
  if (has(0.2)) o.mask = w.mask('mask', B, T);
  if (has(0.2)) o.scale = w.number('scale', moderate(r, 0.01, 2), positive);
  if (has(0.08)) o.causal = r.chance(0.9) ? true : r.pick([false, 1, 'yes']);
  if (has(0.25)) o.afm = afm(w, N);
  if (has(0.25)) o.guidance = guidance(w, dims);
  if (has(0.12)) o.capture = capture(w, N, o.afm !== undefined);
  if (has(0.2)) o.returnStats = r.chance(0.95) ? r.chance(0.7) : 'yes';
  if (has(0.02)) o.dropout = 0.1;

  if (o.causal !== undefined && typeof o.causal !== 'boolean') w.problem(`causal = ${show(o.causal)}`, ['E_INVALID_ARGUMENT'], true);
  if (o.returnStats !== undefined && typeof o.returnStats !== 'boolean') w.problem(`returnStats = ${show(o.returnStats)}`, ['E_INVALID_ARGUMENT'], true);
  if ('dropout' in o) w.problem('unknown option dropout', ['E_INVALID_ARGUMENT'], true);
  const variants = ['afm', 'guidance', 'capture'].filter((k) => k in o);
  if (replay && (variants.length > 0 || 'mask' in o)) w.problem(`cache replay with ${[...variants, ...('mask' in o ? ['mask'] : [])].join(', ')}`, ['E_INVALID_ARGUMENT'], true);
  if (o.causal === true && (variants.length > 0 || 'cache' in o)) w.problem(`causal with ${[...variants, ...('cache' in o ? ['cache'] : [])].join(', ')}`, ['E_INVALID_ARGUMENT'], true);
  if (o.causal === true && o.mask instanceof Uint8Array && o.mask.length === B * T) {
    for (let b = 0; b < B; b++) if (o.mask[b * T] === 0) w.problem(`causal with mask row ${b} not attending key 0`, ['E_SHAPE'], true);
  }
  if ((o.guidance as { kind?: unknown } | undefined)?.kind === 'pag' && 'capture' in o) w.problem('PAG with capture', ['E_INVALID_ARGUMENT'], true);
  return o;
}

/** One random attention call. */
export function attentionSpec(r: Random): AttentionSpec {
  const w = new Draw(r);
  const dims = w.dims();
  const { B, H, N, T, d } = dims;
  const options: unknown = r.chance(0.02) ? r.pick<unknown>([null, undefined, 'fast', 5, []]) : drawOptions(w, dims);
  if (options !== null && options !== undefined && (typeof options !== 'object' || Array.isArray(options))) w.problem(`options = ${show(options)}`, ['E_INVALID_ARGUMENT'], true);
  const o = (options ?? {}) as Record<string, unknown>;
  const replay = (o.cache as { mode?: unknown } | undefined)?.mode === 'replay';
  const plainOptions = options === o && Object.keys(o).every((k) => k === 'mask' || k === 'scale' || k === 'returnStats');
  const spec: AttentionSpec = {
    dims,
    q: w.operand('q', [B, H, N, d], true, true),
    k: w.operand('k', [B, H, T, d], !replay, false),
    v: w.operand('v', [B, H, T, d], !replay, false),
    options,
    problems: w.problems,
    sane: w.sane,
    referenceable: false,
  };
  if (r.chance(0.1)) spec.disposeInFlight = r.pick(['sync', 'next-turn']);
  spec.referenceable = plainOptions && w.problems.length === 0 && B * H * N * T * d <= 20_000
    && [spec.q, spec.k, spec.v].every((t) => t instanceof TensorSpec && t.kind === 'normal');
  return spec;
}
