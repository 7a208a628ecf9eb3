/**
 * Mutations of a safetensors file (format in ts/weights/safetensors.ts): flipped bytes,
 * truncation, lying header lengths, broken or hostile header entries (offsets out of range,
 * overlapping, reversed; unknown dtypes; gigantic or invalid shapes; renamed, missing, duplicate
 * tensors; bad metadata; non-UTF-8 and non-JSON headers), and rewrites that keep the file valid
 * (tensors converted to F16/BF16, reordered, extra metadata), which must still load.
 *
 * Each mutation says how the file stands afterwards: `valid` (it must load), `invalid` (the format
 * rules refuse it: E_MODEL_FORMAT as soon as it is opened), `unloadable` (the header is valid but a
 * weight the model reads is gone or of a dtype it cannot load: E_MODEL_FORMAT when the weights are
 * loaded, which `openModel` does not do), or `unknown`.
 */
import { numberToBf16Bits, numberToHalfBits } from '../helpers/float16.js';
import type { Random } from './random.js';

export type Verdict = 'valid' | 'invalid' | 'unloadable' | 'unknown';

export interface FileMutation {
  bytes: Buffer;
  what: string;
  verdict: Verdict;
}

interface Entry {
  dtype: unknown;
  shape: unknown;
  data_offsets: unknown;
}

interface Parsed {
  length: number;
  header: Record<string, Entry | Record<string, string>>;
  data: Buffer;
}

const DTYPE_SIZES: Record<string, number> = { BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8 };

function parse(file: Buffer): Parsed {
  const length = Number(file.readBigUInt64LE(0));
  return { length, header: JSON.parse(file.subarray(8, 8 + length).toString('utf8')), data: file.subarray(8 + length) };
}

/** A file from header text and data, with a true length prefix unless `length` is given. */
function assemble(headerText: string | Buffer, data: Buffer, length?: bigint): Buffer {
  const json = typeof headerText === 'string' ? Buffer.from(headerText, 'utf8') : headerText;
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(length ?? BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

function tensorNames(p: Parsed): string[] {
  return Object.keys(p.header).filter((k) => k !== '__metadata__');
}

function entryOf(p: Parsed, name: string): Entry & { data_offsets: [number, number]; shape: number[]; dtype: string } {
  return p.header[name] as Entry & { data_offsets: [number, number]; shape: number[]; dtype: string };
}

/** Flips 1-8 bytes in one region of the file. */
function flipBytes(r: Random, file: Buffer, p: Parsed): FileMutation {
  const region = r.pick(['prefix', 'header', 'data'] as const);
  const [lo, hi] = region === 'prefix' ? [0, 7] : region === 'header' ? [8, 7 + p.length] : [8 + p.length, file.length - 1];
  const out = Buffer.from(file);
  const at: number[] = [];
  for (let i = r.int(1, 8); i > 0; i--) {
    const pos = r.int(lo, hi);
    out[pos]! ^= r.int(1, 255);
    at.push(pos);
  }
  let verdict: Verdict = region === 'data' ? 'valid' : 'unknown';
  if (region === 'prefix' && out.readBigUInt64LE(0) > BigInt(file.length - 8)) verdict = 'invalid';
  return { bytes: out, what: `flipped ${region} bytes at ${at.join(',')}`, verdict };
}

function truncate(r: Random, file: Buffer, p: Parsed): FileMutation {
  const at = r.weighted<() => number>([[() => r.int(0, 7), 1], [() => r.int(8, 7 + p.length), 2], [() => r.int(8 + p.length, file.length - 1), 3]])();
  // Every fixture file ends with its last tensor, so any cut leaves a range outside the file.
  return { bytes: file.subarray(0, at), what: `truncated to ${at} of ${file.length} bytes`, verdict: 'invalid' };
}

function headerLength(r: Random, file: Buffer, p: Parsed): FileMutation {
  const size = BigInt(file.length);
  const n = BigInt(p.length);
  const length = r.pick([2n ** 64n - 1n, 2n ** 64n - 8n, 2n ** 63n, 2n ** 53n + 1n, 100n * 1024n * 1024n + 1n, size - 7n, size, n + BigInt(r.int(1, 8)), 0n]);
  const out = Buffer.from(file);
  out.writeBigUInt64LE(length);
  return { bytes: out, what: `header length ${length} (true ${n}, file ${size})`, verdict: length > size - 8n || length === 0n ? 'invalid' : 'unknown' };
}

/** Rewrites the header object; `used` says whether the model reads a tensor. */
function editEntry(r: Random, p: Parsed, used: (name: string) => boolean): FileMutation {
  const names = tensorNames(p).filter((n) => {
    const [b, e] = entryOf(p, n).data_offsets;
    return e - b >= 8;
  });
  const name = r.pick(names);
  const e = entryOf(p, name);
  const [begin, end] = e.data_offsets;
  const size = end - begin;
  const header = structuredClone(p.header);
  const target = header[name] as Entry;
  const readBy = used(name);
  let what: string;
  let verdict: Verdict = 'invalid';
  switch (r.int(0, 10)) {
    case 0: {
      const over = r.pick([1, 4, 2 ** 31, 2 ** 53 - 1 - p.data.length]);
      target.data_offsets = [begin + over, end + over];
      what = `${name} offsets moved ${over} bytes (past the data end or overlapping)`;
      break;
    }
    case 1:
      target.data_offsets = [end, begin];
      what = `${name} offsets reversed`;
      break;
    case 2: {
      const shift = r.int(1, size - 1);
      target.data_offsets = [begin + shift, end + shift];
      what = `${name} offsets shifted by ${shift} (overlaps its neighbour or leaves the data)`;
      break;
    }
    case 3:
      target.data_offsets = r.pick<unknown>([[-1, size - 1], [0.5, size + 0.5], [String(begin), String(end)], [begin], [begin, end, end], null, {}, [2 ** 53, 2 ** 53 + size]]);
      what = `${name} data_offsets ${JSON.stringify(target.data_offsets)}`;
      break;
    case 4:
      // Names of Object.prototype members test that the dtype table is looked up safely.
      target.dtype = r.pick<unknown>(['F33', 'f32', 'float32', '', 7, null, 'F8_E8M0', '__proto__', 'constructor', 'toString']);
      what = `${name} dtype ${JSON.stringify(target.dtype)}`;
      break;
    case 5: {
      // A known dtype of another size no longer matches the byte range; one of the same size is
      // read as other values (F16 <-> BF16) or cannot be loaded as a weight (integers).
      const dtype = r.pick(Object.keys(DTYPE_SIZES).filter((d) => d !== e.dtype));
      target.dtype = dtype;
      what = `${name} dtype ${e.dtype} -> ${dtype}`;
      if (DTYPE_SIZES[dtype] === DTYPE_SIZES[e.dtype]) verdict = dtype === 'F16' || dtype === 'BF16' || dtype === 'F32' ? 'unknown' : readBy ? 'unloadable' : 'unknown';
      break;
    }
    case 6: {
      const numel = e.shape.reduce((a, b) => a * b, 1);
      const shapes: Array<[unknown, Verdict]> = [
        [[2 ** 31, 2 ** 31, 2 ** 31], 'invalid'], [[2 ** 53 - 1, 2 ** 53 - 1], 'invalid'], [[...e.shape, 0], 'invalid'], [[-1, ...e.shape.slice(1)], 'invalid'],
        [[1.5], 'invalid'], [['4'], 'invalid'], [null, 'invalid'], [[numel], 'unknown'], [[...e.shape].reverse(), 'unknown'], [[numel, 1], 'unknown'],
        [[], numel === 1 ? 'unknown' : 'invalid'], [[numel / 2, 2], numel % 2 === 0 ? 'unknown' : 'invalid'],
      ];
      const [shape, v] = r.pick(shapes);
      target.shape = shape;
      what = `${name} shape ${JSON.stringify(e.shape)} -> ${JSON.stringify(shape)}`;
      verdict = v;
      break;
    }
    case 7: {
      const renamed = r.chance(0.5) ? `${name}.renamed` : name.replace(/\.(weight|bias)$/, '.$1_');
      delete header[name];
      header[renamed] = target;
      what = `${name} renamed ${renamed}`;
      verdict = readBy ? 'unloadable' : 'unknown';
      break;
    }
    case 8:
      delete header[name];
      what = `${name} removed from the header`;
      verdict = readBy ? 'unloadable' : 'unknown';
      break;
    case 9: {
      const meta = r.pick<[unknown, Verdict]>([[{ format: 1 }, 'invalid'], [[], 'invalid'], [null, 'invalid'], ['pt', 'invalid'], [{ format: 'pt', note: 'x'.repeat(100_000) }, 'valid'], [{}, 'valid']]);
      header.__metadata__ = meta[0] as Record<string, string>;
      what = `__metadata__ ${JSON.stringify(meta[0]).slice(0, 60)}`;
      verdict = meta[1];
      break;
    }
    default: {
      // An extra tensor: outside the data, inside another's bytes, or empty.
      const extra = r.pick<[Entry, Verdict]>([
        [{ dtype: 'F32', shape: [2], data_offsets: [p.data.length, p.data.length + 8] }, 'invalid'],
        [{ dtype: 'F32', shape: [1], data_offsets: [begin, begin + 4] }, 'invalid'],
        [{ dtype: 'F32', shape: [0], data_offsets: [0, 0] }, 'unknown'],
        [{ dtype: 'F32', shape: [], data_offsets: [] }, 'invalid'],
      ]);
      // defineProperty: an assignment to '__proto__' would set the prototype instead of adding a key.
      Object.defineProperty(header, r.pick(['extra.weight', '', '__proto__', 'x'.repeat(10_000)]), { value: extra[0], enumerable: true, writable: true, configurable: true });
      what = `extra tensor ${JSON.stringify(extra[0])}`;
      verdict = extra[1];
    }
  }
  return { bytes: assemble(JSON.stringify(header), p.data), what, verdict };
}

/** Header text that is not a JSON object, not UTF-8, or holds duplicate keys. */
function editText(r: Random, p: Parsed, file: Buffer): FileMutation {
  const json = file.subarray(8, 8 + p.length);
  switch (r.int(0, 5)) {
    case 0: {
      const text = r.pick(['[]', '1', '"x"', 'null', '', '{', '{"a": }', `${'['.repeat(100_000)}${']'.repeat(100_000)}`]);
      return { bytes: assemble(text, p.data), what: `header ${JSON.stringify(text.slice(0, 20))}`, verdict: 'invalid' };
    }
    case 1: {
      // Invalid UTF-8 inside a tensor name.
      const at = json.indexOf('"', r.int(2, json.length - 10)) + 1;
      const out = Buffer.from(json);
      out[at] = r.pick([0xff, 0xc3, 0x80, 0xed]);
      if (out[at] === 0xed) out[at + 1] = 0xa0; // a UTF-16 surrogate encoded in UTF-8
      return { bytes: assemble(out, p.data), what: `byte 0x${out[at]!.toString(16)} in the header at ${at}`, verdict: 'invalid' };
    }
    case 2:
      return { bytes: assemble(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json]), p.data), what: 'UTF-8 BOM before the header', verdict: 'unknown' };
    case 3:
      return { bytes: assemble(Buffer.concat([json, Buffer.from(r.pick(['\0', 'x', ',', '}']))]), p.data), what: 'a stray character after the header JSON', verdict: 'invalid' };
    case 4: {
      // The same tensor twice with different entries: JSON.parse keeps the last, other parsers the first.
      const name = r.pick(tensorNames(p));
      const e = entryOf(p, name);
      const dup = `${JSON.stringify(name)}:${JSON.stringify({ ...e, data_offsets: [0, e.data_offsets[1] - e.data_offsets[0]] })},`;
      const text = `{${dup}${json.toString('utf8').trimEnd().slice(1)}`;
      return { bytes: assemble(text, p.data), what: `duplicate key ${name}`, verdict: 'unknown' };
    }
    default: {
      const pad = ' '.repeat(r.int(1, 64));
      return { bytes: assemble(`${pad}${json.toString('utf8')}${pad}`, p.data), what: `header padded with ${pad.length} spaces`, verdict: 'valid' };
    }
  }
}

/** A valid rewrite: F32 tensors converted to F16 or BF16, tensors reordered; the model must still load. */
function validRewrite(r: Random, p: Parsed): FileMutation {
  const target = r.pick(['F16', 'BF16', 'F32'] as const);
  const names = tensorNames(p);
  if (r.chance(0.5)) names.reverse();
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', fuzz: 'rewrite' } };
  const parts: Buffer[] = [];
  let offset = 0;
  for (const name of names) {
    const e = entryOf(p, name);
    let bytes = p.data.subarray(e.data_offsets[0], e.data_offsets[1]);
    let dtype = e.dtype;
    // An earlier mutation may have left an F32 entry a length no float32 array has: copied as it is.
    if (dtype === 'F32' && target !== 'F32' && bytes.length % 4 === 0) {
      const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
      const bits = Uint16Array.from(values, (x) => (target === 'F16' ? numberToHalfBits(x) : numberToBf16Bits(x)));
      bytes = Buffer.from(bits.buffer);
      dtype = target;
    }
    header[name] = { dtype, shape: e.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  return { bytes: assemble(JSON.stringify(header), Buffer.concat(parts)), what: `rewritten as ${target}${names[0] === tensorNames(p)[0] ? '' : ', reversed order'}`, verdict: 'valid' };
}

/** The header, or undefined when an earlier mutation left it unreadable or an entry malformed. */
function tryParse(file: Buffer): Parsed | undefined {
  let p: Parsed;
  try {
    p = parse(file);
  } catch {
    return undefined;
  }
  if (p.header === null || typeof p.header !== 'object' || Array.isArray(p.header)) return undefined;
  const wellFormed = tensorNames(p).every((name) => {
    const e = p.header[name] as Partial<Entry> | null;
    const o = e?.data_offsets;
    return typeof e?.dtype === 'string' && Array.isArray(e.shape) && e.shape.every(Number.isSafeInteger)
      && Array.isArray(o) && o.length === 2 && o.every(Number.isSafeInteger);
  });
  return wellFormed ? p : undefined;
}

/** One random mutation of `file`; `used(name)` says whether the model reads tensor `name`. */
export function mutateSafetensors(r: Random, file: Buffer, used: (name: string) => boolean): FileMutation {
  const p = tryParse(file);
  if (!p || file.length < 16) {
    // Already broken by an earlier mutation: only byte-level changes apply.
    const out = Buffer.from(file);
    if (out.length > 0) out[r.int(0, out.length - 1)]! ^= r.int(1, 255);
    return { bytes: out, what: 'a byte flipped in an already broken file', verdict: 'unknown' };
  }
  const kind = r.weighted<string>([['flip', 4], ['truncate', 2], ['length', 2], ['entry', 8], ['text', 3], ['rewrite', 1], ['empty', 0.3]]);
  switch (kind) {
    case 'flip': return flipBytes(r, file, p);
    case 'truncate': return truncate(r, file, p);
    case 'length': return headerLength(r, file, p);
    case 'entry': return editEntry(r, p, used);
    case 'text': return editText(r, p, file);
    case 'rewrite': return validRewrite(r, p);
    default: return { bytes: Buffer.alloc(0), what: 'emptied', verdict: 'invalid' };
  }
}
