/**
 * Compact one-line renderings of fuzz inputs for case descriptions and failure reports: typed
 * arrays by type, length and (when short) values; tensors by shape and dtype; objects with a
 * `describe()` method (the generators' specs) by what it returns; numbers exactly (NaN, -0,
 * Infinity, 2^53 all survive), which JSON.stringify would not.
 */
import { Tensor } from '../../ts/index.js';

const MAX_VALUES = 6;

export function show(v: unknown, depth = 0): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...(${v.length})` : v);
  if (typeof v === 'function') return 'function';
  if (typeof v !== 'object') return String(v);
  if (typeof (v as { describe?: unknown }).describe === 'function') return (v as { describe(): string }).describe();
  if (v instanceof Tensor) {
    if (v.disposed) return 'Tensor(disposed)';
    return `Tensor(${v.dtype}[${v.shape.join(',')}]@${v.device})`;
  }
  if (ArrayBuffer.isView(v)) {
    const name = v.constructor.name;
    const len = (v as unknown as ArrayLike<unknown>).length ?? v.byteLength;
    const shared = typeof SharedArrayBuffer !== 'undefined' && v.buffer instanceof SharedArrayBuffer ? ' shared' : '';
    const offset = v.byteOffset ? ` offset ${v.byteOffset}` : '';
    // A detached buffer has no elements to read (byteLength 0), whatever the view's type.
    const values = len <= MAX_VALUES && v.byteLength > 0 && 'length' in v
      ? ` [${Array.from(v as unknown as ArrayLike<number | bigint>, (x) => show(x)).join(',')}]` : '';
    return `${name}(${len}${offset}${shared})${values}`;
  }
  if (depth > 3) return '...';
  if (Array.isArray(v)) return `[${v.length > 12 ? `${v.slice(0, 12).map((x) => show(x, depth + 1)).join(',')},...(${v.length})` : Array.from(v, (x) => show(x, depth + 1)).join(',')}]`;
  const name = v.constructor && v.constructor !== Object ? `${v.constructor.name} ` : '';
  return `${name}{${Object.entries(v).map(([k, x]) => `${k}: ${show(x, depth + 1)}`).join(', ')}}`;
}
