/**
 * The safetensors container (https://github.com/huggingface/safetensors, format description):
 * bytes 0-7 a little-endian u64 header length N, then N bytes of UTF-8 JSON mapping tensor names to
 * `{ dtype, shape, data_offsets: [begin, end] }` (offsets relative to the data section that follows
 * the header) and an optional `__metadata__` of strings, then the data.
 *
 * The header is validated here, before any native work: N within the file and below 100 MB, the
 * JSON well-formed, every dtype known, each byte range inside the data section, of exactly
 * shape-product x dtype-size bytes, and no two ranges overlapping. The native side maps the file
 * and checks every range it is handed again (native/weights/mapped_file.h).
 */
import fs from 'node:fs/promises';

import { DiffusionAttentionError } from '../errors.js';

/** Element types the format defines, with their sizes in bytes. */
export const SAFETENSORS_DTYPES = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
} as const;
export type SafetensorsDType = keyof typeof SAFETENSORS_DTYPES;

/** One tensor of a file: `nbytes` bytes at absolute file offset `offset`. */
export interface TensorEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  offset: number;
  nbytes: number;
}

export interface SafetensorsHeader {
  path: string;
  fileSize: number;
  /** Absolute offset of the data section (8 + N). */
  dataOffset: number;
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

/** The reference implementation's cap on the header size. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function formatError(path: string, what: string): DiffusionAttentionError {
  return new DiffusionAttentionError('E_MODEL_FORMAT', `${path}: ${what}`);
}

function isSafeCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/**
 * Reads and validates the header of a safetensors file.
 * @throws DiffusionAttentionError `E_MODEL_FORMAT` naming the file and the offending tensor.
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (err) {
    throw new DiffusionAttentionError('E_MODEL_FORMAT', `cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw formatError(path, 'is not a regular file');
    const fileSize = stat.size;
    if (fileSize < 8) throw formatError(path, `file of ${fileSize} bytes is too short for a safetensors header`);
    const lengthBytes = Buffer.alloc(8);
    await handle.read(lengthBytes, 0, 8, 0);
    const n = lengthBytes.readBigUInt64LE(0);
    if (n > BigInt(fileSize - 8)) throw formatError(path, `header length ${n} exceeds the file (${fileSize} bytes)`);
    if (n > BigInt(MAX_HEADER_BYTES)) throw formatError(path, `header length ${n} exceeds the 100 MB limit`);
    const headerLength = Number(n);
    const raw = Buffer.alloc(headerLength);
    await handle.read(raw, 0, headerLength, 8);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw formatError(path, 'header is not valid UTF-8');
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw formatError(path, `header is not valid JSON (${(err as Error).message})`);
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw formatError(path, 'header is not a JSON object');
    const dataOffset = 8 + headerLength;
    return { path, fileSize, dataOffset, ...parseEntries(path, json as Record<string, unknown>, fileSize - dataOffset, dataOffset) };
  } catch (err) {
    // Read failures (I/O errors, a file shrinking underneath) are the file's fault as well.
    if (err instanceof DiffusionAttentionError) throw err;
    throw new DiffusionAttentionError('E_MODEL_FORMAT', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    await handle.close();
  }
}

function parseEntries(path: string, json: Record<string, unknown>, dataSize: number, dataOffset: number) {
  const tensors = new Map<string, TensorEntry>();
  const metadata: Record<string, string> = {};
  const ranges: Array<{ name: string; begin: number; end: number }> = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw formatError(path, '__metadata__ must be an object');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') throw formatError(path, `__metadata__.${k} must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (e === null || typeof e !== 'object') throw formatError(path, `tensor ${name}: entry is not an object`);
    if (typeof e.dtype !== 'string' || !Object.hasOwn(SAFETENSORS_DTYPES, e.dtype)) throw formatError(path, `tensor ${name}: unknown dtype ${JSON.stringify(e.dtype)}`);
    const dtype = e.dtype as SafetensorsDType;
    if (!Array.isArray(e.shape) || !e.shape.every(isSafeCount)) throw formatError(path, `tensor ${name}: shape must be an array of non-negative integers`);
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isSafeCount)) {
      throw formatError(path, `tensor ${name}: data_offsets must be [begin, end] of non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) throw formatError(path, `tensor ${name}: data_offsets begin ${begin} > end ${end}`);
    if (end > dataSize) throw formatError(path, `tensor ${name}: bytes [${begin}, ${end}) lie outside the ${dataSize}-byte data section`);
    // BigInt: a gigantic shape must not wrap around and "match".
    const expected = (e.shape as number[]).reduce((acc, d) => acc * BigInt(d), 1n) * BigInt(SAFETENSORS_DTYPES[dtype]);
    if (expected !== BigInt(end - begin)) {
      throw formatError(path, `tensor ${name}: shape [${(e.shape as number[]).join(', ')}] of ${dtype} needs ${expected} bytes, the range holds ${end - begin}`);
    }
    tensors.set(name, { name, dtype, shape: e.shape as number[], offset: dataOffset + begin, nbytes: end - begin });
    ranges.push({ name, begin, end });
  }
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < ranges.length; i++) {
    const a = ranges[i - 1]!, b = ranges[i]!;
    if (a.end > b.begin) throw formatError(path, `tensors ${a.name} and ${b.name} overlap`);
  }
  return { tensors, metadata };
}
