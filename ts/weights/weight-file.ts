import { DiffusionAttentionError, awaitNative, callNative } from '../errors.js';
import type { NativeWeightFile } from '../native/binding.js';
import { loadNative } from '../native/load.js';
import { Tensor, type DType } from '../tensor.js';
import { readSafetensorsHeader, type SafetensorsHeader, type TensorEntry } from './safetensors.js';

/** The stored dtypes the engine can load and convert. */
const LOADABLE = new Set(['F32', 'F16', 'BF16']);

/**
 * One safetensors file: its validated header and a read-only mapping of its bytes. Tensors are
 * loaded by name and converted to the compute dtype; a tensor already stored in the compute dtype
 * borrows the mapping instead of being copied.
 */
export class WeightFile {
  readonly header: SafetensorsHeader;
  private readonly native: NativeWeightFile;

  private constructor(header: SafetensorsHeader, native: NativeWeightFile) {
    this.header = header;
    this.native = native;
  }

  /**
   * Validates the header and maps the file.
   * @throws DiffusionAttentionError `E_MODEL_FORMAT` for a malformed or unreadable file.
   */
  static async open(path: string): Promise<WeightFile> {
    const header = await readSafetensorsHeader(path);
    const { binding } = loadNative();
    const native = callNative(() => new binding.NativeWeightFile(path));
    if (native.size !== header.fileSize) {
      throw new DiffusionAttentionError('E_MODEL_FORMAT', `${path} changed size while being opened`);
    }
    return new WeightFile(header, native);
  }

  get path(): string {
    return this.header.path;
  }

  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  entry(name: string): TensorEntry | undefined {
    return this.header.tensors.get(name);
  }

  /**
   * Loads tensor `name` as `dtype` on the CPU.
   * @throws DiffusionAttentionError `E_MODEL_FORMAT` when the tensor is missing or stored in a
   *   dtype that cannot be converted (not F32, F16 or BF16).
   */
  load(name: string, dtype: DType = 'float32'): Promise<Tensor> {
    return this.loadView(name, {}, dtype);
  }

  /**
   * Loads a byte view of tensor `name`: a block of its rows (first dimension) and/or the same bytes
   * under another shape with as many elements.
   * @throws DiffusionAttentionError `E_MODEL_FORMAT` when missing, not F32/F16/BF16, or the view
   *   does not fit the tensor.
   */
  async loadView(name: string, view: { rows?: { start: number; count: number }; shape?: number[] }, dtype: DType = 'float32'): Promise<Tensor> {
    const e = this.header.tensors.get(name);
    if (!e) throw new DiffusionAttentionError('E_MODEL_FORMAT', `${this.path}: missing tensor ${name}`);
    if (!LOADABLE.has(e.dtype)) {
      throw new DiffusionAttentionError('E_MODEL_FORMAT', `${this.path}: tensor ${name} is ${e.dtype}; weights must be F32, F16 or BF16`);
    }
    let { offset, nbytes } = e;
    let shape = e.shape;
    if (view.rows) {
      const { start, count } = view.rows;
      const total = e.shape[0] ?? 0;
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > total) {
        throw new DiffusionAttentionError('E_MODEL_FORMAT', `${this.path}: rows [${start}, ${start + count}) of ${name} outside its ${total} rows`);
      }
      const rowBytes = total === 0 ? 0 : e.nbytes / total;
      offset += start * rowBytes;
      nbytes = count * rowBytes;
      shape = [count, ...e.shape.slice(1)];
    }
    if (view.shape) {
      const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
      if (numel(view.shape) !== numel(shape)) {
        throw new DiffusionAttentionError('E_MODEL_FORMAT', `${this.path}: ${name} [${shape.join(', ')}] cannot be viewed as [${view.shape.join(', ')}]`);
      }
      shape = view.shape;
    }
    return new Tensor(await awaitNative(() => this.native.load(offset, nbytes, e.dtype, shape, dtype)));
  }
}
