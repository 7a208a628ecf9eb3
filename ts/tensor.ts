import { DiffusionAttentionError, awaitNative, callNative } from './errors.js';
import type { NativeTensor } from './native/binding.js';
import { loadNative } from './native/load.js';

/** Element types. float16 and bfloat16 are held as raw 16-bit patterns in a Uint16Array on the host. */
export type DType = 'float32' | 'float16' | 'bfloat16';
/** Where a tensor's memory lives. */
export type Device = 'cpu' | 'cuda';

/** Options of {@link Tensor.from}. */
export interface TensorOptions {
  /** Element type; default 'float32' for a Float32Array. A Uint16Array needs 'float16' or 'bfloat16'. */
  dtype?: DType;
  /** Default 'cpu'. */
  device?: Device;
}

const DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16'];

/** Bytes of one element of `dtype`. */
export function dtypeBytes(dtype: DType): number {
  return dtype === 'float32' ? 4 : 2;
}
const DEVICES: readonly Device[] = ['cpu', 'cuda'];
const MAX_DIMS = 8;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return `${typeof v} ${String(v)}`;
}

function checkDType(dtype: unknown): DType {
  if (!DTYPES.includes(dtype as DType)) {
    throw new DiffusionAttentionError('E_DTYPE', `dtype must be one of ${DTYPES.join(', ')}, got ${describe(dtype)}`);
  }
  return dtype as DType;
}

function checkDevice(device: unknown): Device {
  if (!DEVICES.includes(device as Device)) {
    throw new DiffusionAttentionError('E_DEVICE', `device must be 'cpu' or 'cuda', got ${describe(device)}`);
  }
  if (device === 'cuda' && loadNative().backend !== 'cuda') {
    throw new DiffusionAttentionError('E_NO_CUDA', `CUDA is not available: ${loadNative().reason}`);
  }
  return device as Device;
}

/** Validates a shape: at most 8 non-negative safe integers. Returns the element count. */
function checkShape(shape: unknown): number {
  if (!Array.isArray(shape)) throw new DiffusionAttentionError('E_SHAPE', `shape must be an array, got ${describe(shape)}`);
  if (shape.length > MAX_DIMS) {
    throw new DiffusionAttentionError('E_SHAPE', `a tensor has at most ${MAX_DIMS} dimensions, got ${shape.length}`);
  }
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new DiffusionAttentionError('E_SHAPE', `shape [${shape.join(', ')}] must hold non-negative integers`);
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new DiffusionAttentionError('E_SHAPE', `shape [${shape.join(', ')}] is too large`);
  return n;
}

/**
 * A dense, row-major array of float32, float16 or bfloat16 values on the CPU or a CUDA device.
 * Its memory is owned by native code: call {@link Tensor.dispose} to free it at once (a finalizer
 * frees it when the tensor is garbage-collected otherwise). Any use after `dispose()` throws
 * `E_DISPOSED`.
 */
export class Tensor {
  /** @internal The native tensor; use the public methods instead. */
  readonly native: NativeTensor;

  /** @internal Use {@link Tensor.from}. */
  constructor(native: NativeTensor) {
    this.native = native;
  }

  /**
   * Creates a tensor from host data (copied).
   *
   * - `Float32Array` makes a float32 tensor, or is converted (round to nearest even) when
   *   `dtype` is 'float16' or 'bfloat16'.
   * - `Uint16Array` holds the raw bits of float16 or bfloat16 values; `dtype` must say which.
   *
   * @param data Elements in row-major order; `data.length` must equal the product of `shape`.
   * @param shape Up to 8 non-negative integer dimensions (a zero dimension makes an empty tensor).
   * @throws DiffusionAttentionError `E_SHAPE` (bad shape or length mismatch), `E_DTYPE` (array type
   *   and dtype disagree, unknown dtype), `E_DEVICE` (unknown device), `E_NO_CUDA` ('cuda' without
   *   CUDA), `E_RESOURCE` (allocation failed).
   */
  static from(data: Float32Array | Uint16Array, shape: readonly number[], options: TensorOptions = {}): Tensor {
    if (options === null || typeof options !== 'object') {
      throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `options must be an object, got ${options === null ? 'null' : typeof options}`);
    }
    const numel = checkShape(shape);
    const isF32 = data instanceof Float32Array;
    if (!isF32 && !(data instanceof Uint16Array)) {
      throw new DiffusionAttentionError('E_DTYPE', `data must be a Float32Array or a Uint16Array, got ${describe(data)}`);
    }
    // The native side reads ordinary ArrayBuffers only; shared memory is copied first (another
    // thread could change it mid-copy anyway).
    if (typeof SharedArrayBuffer !== 'undefined' && data.buffer instanceof SharedArrayBuffer) data = data.slice();
    if (!isF32 && options.dtype === undefined) {
      throw new DiffusionAttentionError('E_DTYPE', "a Uint16Array holds 16-bit floats: pass dtype 'float16' or 'bfloat16'");
    }
    const dtype = checkDType(options.dtype ?? 'float32');
    if (!isF32 && dtype === 'float32') {
      throw new DiffusionAttentionError('E_DTYPE', 'a float32 tensor is made from a Float32Array, not a Uint16Array');
    }
    const device = checkDevice(options.device ?? 'cpu');
    // Node 20's V8 can report the length a typed array had before its buffer was detached once this
    // code is optimised (RELIABILITY.md): count only what the buffer still holds.
    const held = Math.floor(Math.max(0, data.buffer.byteLength - data.byteOffset) / data.BYTES_PER_ELEMENT);
    const length = Math.min(data.length, held);
    if (length !== numel) {
      throw new DiffusionAttentionError('E_SHAPE',
        `data has ${length} elements but shape [${shape.join(', ')}] needs ${numel}`);
    }
    const { binding } = loadNative();
    return new Tensor(callNative(() => binding.NativeTensor.fromHost(data, [...shape], dtype, device)));
  }

  /** Dimensions, outermost first. @throws DiffusionAttentionError `E_DISPOSED` */
  get shape(): number[] {
    return callNative(() => this.native.shape);
  }

  /** @throws DiffusionAttentionError `E_DISPOSED` */
  get dtype(): DType {
    return callNative(() => this.native.dtype);
  }

  /** @throws DiffusionAttentionError `E_DISPOSED` */
  get device(): Device {
    return callNative(() => this.native.device);
  }

  /** Number of elements (the product of the shape). @throws DiffusionAttentionError `E_DISPOSED` */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Whether {@link Tensor.dispose} has been called. */
  get disposed(): boolean {
    return this.native.disposed;
  }

  /**
   * Copies the elements to a new host array: a Float32Array for float32, a Uint16Array of raw
   * bits for float16 and bfloat16 (convert with `to({ dtype: 'float32' })` first to read values).
   * @throws DiffusionAttentionError `E_DISPOSED`, `E_CUDA`
   */
  async toArray(): Promise<Float32Array | Uint16Array> {
    const dtype = this.dtype;
    const buffer = await awaitNative(() => this.native.toHost());
    return dtype === 'float32' ? new Float32Array(buffer) : new Uint16Array(buffer);
  }

  /**
   * A new tensor with the same values converted to another dtype and/or moved to another device
   * (the source is left as it is). float32 to float16/bfloat16 rounds to nearest even.
   *
   * @param target A device name, or `{ dtype?, device? }` (each defaults to this tensor's).
   * @throws DiffusionAttentionError `E_DISPOSED`, `E_DTYPE`, `E_DEVICE`, `E_NO_CUDA`, `E_RESOURCE`
   */
  async to(target: Device | { dtype?: DType; device?: Device }): Promise<Tensor> {
    const spec = typeof target === 'string' ? { device: target } : target;
    if (spec === null || typeof spec !== 'object') {
      throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `to() takes a device name or { dtype, device }, got ${describe(target)}`);
    }
    const dtype = checkDType(spec.dtype ?? this.dtype);
    const device = checkDevice(spec.device ?? this.device);
    return new Tensor(await awaitNative(() => this.native.to(dtype, device)));
  }

  /** Frees the memory now. Idempotent. Jobs already running on this tensor finish safely. */
  dispose(): void {
    this.native.dispose();
  }

  /** For `using t = Tensor.from(...)` (explicit resource management). */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
