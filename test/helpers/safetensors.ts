/** Writes safetensors files for tests, including deliberately malformed ones. */
import fs from 'node:fs';

export interface RawEntry {
  dtype: string;
  shape: unknown;
  data_offsets: unknown;
}

/** A file from a header object (written as given) and a data section. */
export function writeRaw(path: string, header: unknown, data: Uint8Array, headerLength?: bigint): void {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  fs.writeFileSync(path, Buffer.concat([len, json, data]));
}

/** A well-formed file of float32 tensors, laid out one after another. */
export function writeF32(path: string, tensors: Record<string, { shape: number[]; data: Float32Array }>): void {
  const header: Record<string, RawEntry> = {};
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  writeRaw(path, header, Buffer.concat(parts));
}
