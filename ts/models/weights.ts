import { DiffusionAttentionError } from '../errors.js';
import type { DType, Tensor } from '../tensor.js';
import type { WeightFile } from '../weights/weight-file.js';

/**
 * Where one weight lives: a tensor of a file, optionally a block of rows of it (SD 2.x's fused
 * q/k/v projection, split by rows) and/or a new shape for the same bytes (the VAE's attention
 * weights, stored as 1x1 convolutions in original checkpoints). Both are byte views, never copies.
 */
export interface WeightRef {
  file: WeightFile;
  name: string;
  rows?: { start: number; count: number };
  shape?: number[];
}

/** A component's weights by diffusers name (`down_blocks.0.resnets.0.conv1.weight`, ...). */
export class ComponentWeights {
  constructor(readonly refs: ReadonlyMap<string, WeightRef>) {}

  names(): string[] {
    return [...this.refs.keys()];
  }

  has(name: string): boolean {
    return this.refs.has(name);
  }

  /** Shape after any row block and reshape. @throws `E_MODEL_FORMAT` when missing. */
  shape(name: string): number[] {
    const ref = this.ref(name);
    const e = ref.file.entry(ref.name)!;
    if (ref.shape) return ref.shape;
    return ref.rows ? [ref.rows.count, ...e.shape.slice(1)] : e.shape;
  }

  /** Loads weight `name` as `dtype`. @throws `E_MODEL_FORMAT` when missing or malformed. */
  load(name: string, dtype: DType = 'float32'): Promise<Tensor> {
    const ref = this.ref(name);
    return ref.file.loadView(ref.name, { rows: ref.rows, shape: ref.shape }, dtype);
  }

  private ref(name: string): WeightRef {
    const ref = this.refs.get(name);
    if (!ref) throw new DiffusionAttentionError('E_MODEL_FORMAT', `missing weight ${name}`);
    return ref;
  }
}
