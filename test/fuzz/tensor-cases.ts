/**
 * Fuzz cases of the Tensor API: `Tensor.from` with valid and broken data, shapes, dtypes, devices
 * and options; `to()` with any target; every method after `dispose()`. The documented contract
 * (ts/tensor.ts) is simple enough to predict each outcome, so every case carries an expectation.
 */
import { Tensor, type DType, type ErrorCode } from '../../ts/index.js';
import { Arena } from './arena.js';
import { CheckFailure, type Expectation, type FuzzCase } from './case.js';
import type { Random } from './random.js';
import { show } from './show.js';
import { decode, encode, expectElements, floatValues } from './values.js';

const DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16'];
const MAX_NUMEL = 4096;
/** Dimension values a shape must refuse (E_SHAPE), and other non-dimensions. */
const BAD_DIMS: unknown[] = [-1, -7, NaN, Infinity, -Infinity, 1.5, 1e-300, 2 ** 53, 2 ** 53 + 2, 2 ** 64, '2', 2n, null, undefined, [2], true, {}];
const BAD_DTYPES: unknown[] = ['float64', 'int8', 'Float32', 'f16', '', 'float32 ', 0, {}, ['float32']];
const BAD_DEVICES: unknown[] = ['gpu', 'CPU', 'cuda:0', '', 1, {}, ['cpu']];

/** Up to 8 dimensions, mostly small; sometimes a huge dimension beside a zero (no elements). */
function validShape(r: Random): number[] {
  const rank = r.weighted<number>([[0, 1], [1, 3], [2, 4], [3, 3], [4, 4], [5, 1], [8, 1]]);
  const shape: number[] = [];
  let numel = 1;
  for (let i = 0; i < rank; i++) {
    let d = r.weighted<number>([[1, 4], [2, 4], [3, 3], [0, 1], [5, 2], [7, 1], [16, 1]]);
    if (numel * d > MAX_NUMEL) d = 1;
    shape.push(d);
    numel *= d;
  }
  if (rank >= 2 && r.chance(0.08)) {
    shape[r.int(0, rank - 1)] = 0;
    shape[r.int(0, rank - 1)] = r.pick([2 ** 20, 2 ** 31, 2 ** 32 + 1, 2 ** 40, 2 ** 53 - 1]);
    if (!shape.includes(0)) shape[shape.length - 1] = 0;
  }
  return shape;
}

/** A broken shape, or something that is not a shape at all. */
function brokenShape(r: Random, shape: number[]): unknown {
  switch (r.int(0, 5)) {
    case 0: {
      const s: unknown[] = [...shape, 1];
      s[r.int(0, s.length - 1)] = r.pick(BAD_DIMS);
      return s;
    }
    case 1: return new Array(r.int(9, 12)).fill(1);
    case 2: return r.pick<unknown>([4, '4', null, undefined, { length: 1, 0: 4 }, Int32Array.from(shape), new Set(shape), () => shape]);
    case 3: return new Array(r.int(1, 3)); // holes
    case 4: return [2 ** 26, 2 ** 26, 2]; // no zero: more elements than any array holds
    default: return [...shape.map((d) => d + 0.5), 0.5];
  }
}

/** The element count when `shape` is valid by the documented rule, else undefined. */
function numelOf(shape: unknown): number | undefined {
  if (!Array.isArray(shape) || shape.length > 8) return undefined;
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || (d as number) < 0) return undefined;
    n *= d as number;
  }
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Host data: a Float32Array or Uint16Array of about `n` elements, or another kind of array or
 * value, with the number of elements it really holds. That count is not read back from the array:
 * Node 20's V8 can report the length a typed array had before its buffer was detached, once the
 * reading code is optimised and has seen arrays on resizable buffers (see RELIABILITY.md).
 */
function data(r: Random, n: number): { value: unknown; length: number } {
  const len = r.weighted<number>([[n, 8], [n + 1, 1], [Math.max(0, n - 1), 1], [0, 1], [2 * n, 1]]);
  const kind = r.weighted<string>([
    ['f32', 10], ['u16', 4], ['f32-offset', 1], ['f32-resizable', 1], ['f32-detached', 1], ['f32-shared', 1], ['other-typed', 2], ['plain', 1],
  ]);
  switch (kind) {
    case 'f32': return { value: floatValues(r, len, r.pick(['normal', 'special'] as const)), length: len };
    case 'u16': return { value: Uint16Array.from({ length: len }, () => r.int(0, 0xffff)), length: len };
    case 'f32-offset': return { value: floatValues(r, len + 3, 'normal').subarray(3), length: len };
    case 'f32-resizable': {
      // Resizable buffers (ES2024) are not in this project's ES2022 typings.
      const buffer = new (ArrayBuffer as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(len * 4, { maxByteLength: len * 4 + 64 });
      const view = new Float32Array(buffer); // length-tracking
      view.set(floatValues(r, len, 'normal'));
      return { value: view, length: len };
    }
    case 'f32-detached': {
      const view = floatValues(r, len, 'normal');
      structuredClone(view.buffer, { transfer: [view.buffer] });
      return { value: view, length: 0 };
    }
    case 'f32-shared':
      return { value: new Float32Array(new SharedArrayBuffer(len * 4)), length: len };
    case 'other-typed': {
      const make = r.pick<() => unknown>([
        () => new Float64Array(len), () => new Int32Array(len), () => new Uint8Array(len), () => new Int16Array(len),
        () => new Uint8ClampedArray(len), () => new BigInt64Array(len), () => new DataView(new ArrayBuffer(len * 4)), () => Buffer.alloc(len * 4),
      ]);
      return { value: make(), length: len };
    }
    default:
      return { value: r.pick<unknown>([Array.from({ length: len }, () => 1), null, undefined, 'data', { length: len }, new ArrayBuffer(len * 4)]), length: len };
  }
}

function options(r: Random): unknown {
  const kind = r.weighted<string>([['none', 3], ['object', 8], ['null', 1], ['primitive', 1]]);
  if (kind === 'none') return undefined;
  if (kind === 'null') return null;
  if (kind === 'primitive') return r.pick<unknown>(['float16', 1, true]);
  const o: Record<string, unknown> = {};
  if (r.chance(0.7)) o.dtype = r.chance(0.8) ? r.pick(DTYPES) : r.pick([...BAD_DTYPES, null, undefined]);
  if (r.chance(0.5)) o.device = r.chance(0.8) ? r.pick(['cpu', 'cuda']) : r.pick([...BAD_DEVICES, null, undefined]);
  if (r.chance(0.1)) o.layout = 'strided'; // unknown fields are ignored by design (a plain options bag)
  return o;
}

/**
 * The documented outcome of `Tensor.from(data, shape, options)`: every code whose rule the input
 * breaks (the order the checks run in is not documented, so any of them will do), or success.
 */
function expectFrom(d: unknown, length: number, shape: unknown, opts: unknown, cuda: boolean): Expectation | undefined {
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) return undefined; // undocumented
  const o = (opts ?? {}) as { dtype?: unknown; device?: unknown };
  const codes = new Set<ErrorCode>();
  const why: string[] = [];
  const numel = numelOf(shape);
  if (numel === undefined) (codes.add('E_SHAPE'), why.push('bad shape'));
  const isF32 = d instanceof Float32Array;
  const isU16 = d instanceof Uint16Array;
  if (!isF32 && !isU16) (codes.add('E_DTYPE'), why.push('data is neither Float32Array nor Uint16Array'));
  const dtype = o.dtype ?? undefined;
  if (dtype !== undefined && !DTYPES.includes(dtype as DType)) (codes.add('E_DTYPE'), why.push('unknown dtype'));
  if (isU16 && (dtype === undefined || dtype === 'float32')) (codes.add('E_DTYPE'), why.push('Uint16Array without a 16-bit dtype'));
  const device = o.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') (codes.add('E_DEVICE'), why.push('unknown device'));
  if (device === 'cuda' && !cuda) (codes.add('E_NO_CUDA'), why.push('cuda without CUDA'));
  if (numel !== undefined && (isF32 || isU16) && length !== numel) (codes.add('E_SHAPE'), why.push('length mismatch'));
  if (codes.size) return { kind: 'reject', codes: [...codes], why: why.join(', ') };
  // An empty tensor with a huge dimension: the native side caps sizes (2^40 elements, counting
  // the non-zero dimensions), a limit the API may enforce with E_SHAPE.
  const huge = (shape as number[]).some((x) => x > 2 ** 31);
  return huge ? { kind: 'either', codes: ['E_SHAPE'], why: 'a dimension past 2^31' } : { kind: 'succeed' };
}

export function tensorFromCase(r: Random, cuda: boolean): FuzzCase<Tensor> {
  const good = validShape(r);
  const shape = r.chance(0.75) ? good : brokenShape(r, good);
  const { value: d, length } = data(r, numelOf(shape) ?? r.int(0, 8));
  const opts = options(r);
  const arena = new Arena();
  return {
    category: 'tensor/from',
    description: `Tensor.from(${show(d)}, ${show(shape)}, ${show(opts)})`,
    call: () => arena.keep(Tensor.from(d as never, shape as never, opts as never)),
    expect: expectFrom(d, length, shape, opts, cuda),
    check: async (t) => {
      const o = (opts ?? {}) as { dtype?: DType; device?: string };
      const dtype = o.dtype ?? 'float32';
      if (t.shape.join() !== (shape as number[]).join() || t.dtype !== dtype || t.device !== (o.device ?? 'cpu')) {
        throw new CheckFailure(`got ${t.dtype}[${t.shape}] on ${t.device}`);
      }
      const src = d as Float32Array | Uint16Array;
      const want = length === 0 ? [] : src instanceof Uint16Array ? src : Array.from(src, (x) => encode(x, dtype));
      expectElements(await t.toArray(), want, dtype, 'toArray()');
    },
    cleanup: () => arena.dispose(),
  };
}

/** A small tensor of a random dtype: its values, and the elements it holds once made. */
interface SmallTensor {
  dtype: DType;
  shape: number[];
  values: Float32Array;
  elements: number[];
}

function smallTensor(r: Random): SmallTensor {
  const dtype = r.pick(DTYPES);
  const shape = [r.int(1, 3), r.int(1, 4)];
  const values = floatValues(r, shape[0]! * shape[1]!, r.pick(['normal', 'special'] as const));
  return { dtype, shape, values, elements: Array.from(values, (x) => encode(x, dtype)) };
}

function make(s: SmallTensor, arena: Arena): Tensor {
  return arena.keep(Tensor.from(s.values, s.shape, { dtype: s.dtype }));
}

/** `to()` targets: device names, `{ dtype, device }` objects, and things that are neither. */
function target(r: Random): unknown {
  if (r.chance(0.2)) return r.pick<unknown>(['cpu', 'cuda', 'gpu', '', null, undefined, 42, [], () => 'cpu']);
  const o: Record<string, unknown> = {};
  if (r.chance(0.7)) o.dtype = r.chance(0.8) ? r.pick(DTYPES) : r.pick(BAD_DTYPES);
  if (r.chance(0.4)) o.device = r.chance(0.8) ? r.pick(['cpu', 'cuda']) : r.pick(BAD_DEVICES);
  return o;
}

function expectTo(tgt: unknown, cuda: boolean): Expectation | undefined {
  if (Array.isArray(tgt) || typeof tgt === 'function') return undefined; // undocumented
  if (typeof tgt === 'string') {
    if (tgt === 'cpu') return { kind: 'succeed' };
    return tgt === 'cuda' ? (cuda ? { kind: 'succeed' } : { kind: 'reject', codes: ['E_NO_CUDA'], why: 'cuda without CUDA' })
      : { kind: 'reject', codes: ['E_DEVICE'], why: 'unknown device' };
  }
  if (tgt === null || typeof tgt !== 'object') return { kind: 'reject', codes: ['E_INVALID_ARGUMENT'], why: 'not a target' };
  const { dtype, device } = tgt as { dtype?: unknown; device?: unknown };
  const codes: ErrorCode[] = [];
  if (dtype !== undefined && !DTYPES.includes(dtype as DType)) codes.push('E_DTYPE');
  if (device !== undefined && device !== 'cpu' && device !== 'cuda') codes.push('E_DEVICE');
  if (device === 'cuda' && !cuda) codes.push('E_NO_CUDA');
  return codes.length ? { kind: 'reject', codes, why: 'bad dtype or device' } : { kind: 'succeed' };
}

export function tensorToCase(r: Random, cuda: boolean): FuzzCase<Tensor> {
  const arena = new Arena();
  const source = smallTensor(r);
  const tgt = target(r);
  return {
    category: 'tensor/to',
    description: `${source.dtype}[${source.shape}] ${show(source.values)} .to(${show(tgt)})`,
    call: async () => arena.keep(await make(source, arena).to(tgt as never)),
    expect: expectTo(tgt, cuda),
    check: async (out) => {
      const dtype = (typeof tgt === 'object' ? (tgt as { dtype?: DType }).dtype : undefined) ?? source.dtype;
      if (out.dtype !== dtype) throw new CheckFailure(`dtype ${out.dtype}, expected ${dtype}`);
      const want = source.elements.map((x) => encode(decode(x, source.dtype), dtype));
      expectElements(await (await out.to('cpu')).toArray(), want, dtype, `${source.dtype} to ${dtype}`);
    },
    cleanup: () => arena.dispose(),
  };
}

type Use = 'shape' | 'dtype' | 'device' | 'size' | 'toArray' | 'to' | 'disposed' | 'dispose' | 'Symbol.dispose' | 'in-flight toArray' | 'in-flight to';

export function disposedTensorCase(r: Random): FuzzCase {
  const arena = new Arena();
  const use = r.pick<Use>(['shape', 'dtype', 'device', 'size', 'toArray', 'to', 'disposed', 'dispose', 'Symbol.dispose', 'in-flight toArray', 'in-flight to']);
  const times = r.int(1, 3);
  const tgt = r.chance(0.7) ? { dtype: r.pick(DTYPES) } : target(r);
  const source = smallTensor(r);
  const inFlight = use.startsWith('in-flight');
  return {
    category: 'tensor/disposed',
    description: `${source.dtype}[${source.shape}]: ${inFlight ? `${use.slice(10)}() started, then dispose() while it runs`
      : `dispose() x${times}, then ${use}${use === 'to' ? ` ${show(tgt)}` : ''}`}`,
    call: async () => {
      const t = make(source, arena);
      // "Jobs already running on this tensor finish safely" (Tensor.dispose).
      if (use === 'in-flight toArray') {
        const p = t.toArray();
        t.dispose();
        return p;
      }
      if (use === 'in-flight to') {
        const p = t.to('cpu');
        t.dispose();
        return arena.keep(await p);
      }
      for (let i = 0; i < times; i++) t.dispose();
      switch (use) {
        case 'shape': return t.shape;
        case 'dtype': return t.dtype;
        case 'device': return t.device;
        case 'size': return t.size;
        case 'toArray': return t.toArray();
        case 'to': return arena.keep(await t.to(tgt as never));
        case 'disposed': return t.disposed;
        case 'dispose': return t.dispose();
        default: return t[Symbol.dispose]();
      }
    },
    expect: use === 'disposed' || use === 'dispose' || use === 'Symbol.dispose' || inFlight ? { kind: 'succeed' }
      : { kind: 'reject', codes: use === 'to' ? ['E_DISPOSED', 'E_DTYPE', 'E_DEVICE', 'E_NO_CUDA', 'E_INVALID_ARGUMENT'] : ['E_DISPOSED'], why: 'use after dispose()' },
    check: async (result) => {
      if (use === 'disposed' && result !== true) throw new CheckFailure(`disposed is ${String(result)} after dispose()`);
      if (use === 'in-flight toArray') expectElements(result as Uint16Array, source.elements, source.dtype, 'toArray() of a tensor disposed meanwhile');
      if (use === 'in-flight to') expectElements(await (result as Tensor).toArray(), source.elements, source.dtype, 'to() of a tensor disposed meanwhile');
    },
    cleanup: () => arena.dispose(),
  };
}
