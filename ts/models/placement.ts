/**
 * Where a model runs: the device its weights live on and the dtype it computes in. The weights are
 * converted and uploaded once, when the model is loaded; a call's inputs are moved to the model's
 * placement (natively, inside the call: Weights::place in native/models/weights.h) and its output
 * stays there (diffusers' convention: a float16 CUDA model returns float16 CUDA tensors) until a
 * caller reads it with {@link readFloat32}.
 */
import type { DType, Device } from '../tensor.js';
import { Tensor } from '../tensor.js';
import type { NativeTensor } from '../native/binding.js';
import type { ComponentWeights } from './weights.js';

export interface Placement {
  device: Device;
  dtype: DType;
}

/** The CPU backend computes in float32 only. */
export const CPU_FLOAT32: Placement = Object.freeze({ device: 'cpu', dtype: 'float32' });

/**
 * Every weight of `names` (default: all of the component) in the placement's dtype on its device.
 * On the CPU a weight is mapped, not copied, when the file holds the dtype; for CUDA each weight is
 * read (converted on the CPU where the file holds another dtype), uploaded, and the host copy
 * released at once, so peak host memory stays near one weight.
 * @throws DiffusionAttentionError `E_MODEL_FORMAT`, `E_NO_CUDA`, `E_RESOURCE`
 */
export async function loadWeights(weights: ComponentWeights, placement: Placement, names = weights.names()): Promise<Record<string, NativeTensor>> {
  const out: Record<string, NativeTensor> = {};
  for (const name of names) {
    const host = await weights.load(name, placement.dtype);
    if (placement.device === 'cpu') {
      out[name] = host.native;
      continue;
    }
    try {
      out[name] = (await host.to({ device: placement.device })).native;
    } finally {
      host.dispose();
    }
  }
  return out;
}

/** Whether `t` already is where and what the placement asks. */
export function isPlaced(t: Tensor, placement: Placement): boolean {
  return t.device === placement.device && t.dtype === placement.dtype;
}

/**
 * `t` itself when it is already placed, else a converted copy (the caller disposes it; see
 * {@link isPlaced}).
 */
export async function toPlacement(t: Tensor, placement: Placement): Promise<Tensor> {
  return isPlaced(t, placement) ? t : t.to(placement);
}

/**
 * The values of `t` as float32 on the host, whatever its dtype and device (a download waits for the
 * device's queued work: the one synchronisation of a model call).
 */
export async function readFloat32(t: Tensor): Promise<Float32Array> {
  if (isPlaced(t, CPU_FLOAT32)) return await t.toArray() as Float32Array;
  const host = await t.to(CPU_FLOAT32);
  try {
    return await host.toArray() as Float32Array;
  } finally {
    host.dispose();
  }
}
