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
  async load(name: string, dtype: DType = 'float32'): Promise<Tensor> {
    const e = this.header.tensors.get(name);
    if (!e) throw new DiffusionAttentionError('E_MODEL_FORMAT', `${this.path}: missing tensor ${name}`);
    if (!LOADABLE.has(e.dtype)) {
      throw new DiffusionAttentionError('E_MODEL_FORMAT', `${this.path}: tensor ${name} is ${e.dtype}; weights must be F32, F16 or BF16`);
    }
    return new Tensor(await awaitNative(() => this.native.load(e.offset, e.nbytes, e.dtype, e.shape, dtype)));
  }
}
