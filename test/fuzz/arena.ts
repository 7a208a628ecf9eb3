/**
 * The tensors one case makes (inputs and results), disposed together when the case ends, so that a
 * long run holds only the current case's native memory instead of waiting for finalizers.
 */
import { Tensor } from '../../ts/index.js';

export class Arena {
  private readonly tensors: Tensor[] = [];

  /** Remembers every Tensor in `value` (a tensor, or an object or array holding some) and returns it. */
  keep<T>(value: T): T {
    if (value instanceof Tensor) this.tensors.push(value);
    else if (Array.isArray(value)) value.forEach((v) => this.keep(v));
    else if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) Object.values(value).forEach((v) => this.keep(v));
    return value;
  }

  dispose(): void {
    for (const t of this.tensors) t.dispose();
    this.tensors.length = 0;
  }
}
