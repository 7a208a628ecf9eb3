/**
 * A generated image: 8-bit RGB pixels, encoded to PNG by sharp with the generation parameters in a
 * PNG text chunk named `parameters`, in the format AUTOMATIC1111's web UI writes and reads (and
 * with it ComfyUI, InvokeAI and image hosts): the prompt, a `Negative prompt: ...` line, then one
 * line of `Key: value` pairs. Latin-1 text goes in a tEXt chunk, anything else in an iTXt (UTF-8)
 * chunk, as PIL's PngInfo does.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

import extractChunks from 'png-chunks-extract';
import encodeChunks from 'png-chunks-encode';
import * as pngText from 'png-chunk-text';
import sharp from 'sharp';

import { DiffusionAttentionError } from '../errors.js';

/** An iTXt chunk: keyword, no compression, no language tag, UTF-8 text (PNG spec §11.3.4.5). */
function itxt(keyword: string, text: string): { name: string; data: Uint8Array } {
  const head = Buffer.from(`${keyword}\0\0\0\0\0`, 'latin1');
  return { name: 'iTXt', data: Buffer.concat([head, Buffer.from(text, 'utf8')]) };
}

/** `png` with a text chunk `keyword` = `text` inserted before its image data. */
export function withTextChunk(png: Uint8Array, keyword: string, text: string): Buffer {
  const chunks = extractChunks(png);
  const latin1 = /^[\x20-\x7e\n\xa0-\xff]*$/.test(text);
  const chunk = latin1 ? pngText.encode(keyword, text) : itxt(keyword, text);
  const at = chunks.findIndex((c) => c.name === 'IDAT');
  chunks.splice(at < 0 ? chunks.length - 1 : at, 0, chunk);
  return Buffer.from(encodeChunks(chunks));
}

export class GeneratedImage {
  /** @internal */
  constructor(
    private readonly rgb: Uint8Array,
    readonly width: number,
    readonly height: number,
    /** The seed that regenerates this image alone (batch entry i uses seed + i). */
    readonly seed: number,
    /** The `parameters` text written into the PNG. */
    readonly parameters: string,
  ) {}

  /** The pixels: `width * height * 3` bytes, RGB, row-major, top row first. */
  raw(): { data: Uint8Array; width: number; height: number } {
    return { data: this.rgb, width: this.width, height: this.height };
  }

  /** The image as a PNG file (via sharp) with the generation parameters in a `parameters` text chunk. */
  async png(): Promise<Buffer> {
    const encoded = await sharp(this.rgb, { raw: { width: this.width, height: this.height, channels: 3 } }).png().toBuffer();
    return withTextChunk(encoded, 'parameters', this.parameters);
  }

  /**
   * Writes the PNG to `file` atomically: a temporary file in the same folder, then a rename, so
   * `file` is either absent or complete, never half-written.
   * @throws DiffusionAttentionError `E_IO` when the folder is missing or not writable
   */
  async save(file: string): Promise<void> {
    const data = await this.png();
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
    try {
      await fs.writeFile(tmp, data);
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw new DiffusionAttentionError('E_IO', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** Images `[B, 3, H, W]` in [-1, 1] to 8-bit RGB, as diffusers does: (x / 2 + 0.5) clamped to [0, 1], x255, rounded. */
export function toRgb(values: Float32Array, index: number, height: number, width: number): Uint8Array {
  const plane = height * width;
  const base = index * 3 * plane;
  const out = new Uint8Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) {
      const v = Math.min(1, Math.max(0, values[base + c * plane + p]! / 2 + 0.5));
      out[p * 3 + c] = Math.round(v * 255);
    }
  }
  return out;
}
