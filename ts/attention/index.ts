import { z } from 'zod';

import { DiffusionAttentionError, awaitNative } from '../errors.js';
import { loadNative } from '../native/load.js';
import { Tensor } from '../tensor.js';
import { AttentionCache } from './cache.js';
import type { AttentionOptions, AttentionResult, MaskInput } from './types.js';

const positiveInt = z.number().int().positive();
const grid = z.tuple([positiveInt, positiveInt]);
const tensor = z.instanceof(Tensor);
const mask = z.union([z.instanceof(Uint8Array), z.array(z.boolean()), tensor]);

const gainsOrGate = {
  check: (a: { entropyGate?: unknown; gainLow?: number; gainHigh?: number }) => !(a.entropyGate && (a.gainLow !== undefined || a.gainHigh !== undefined)),
  message: 'give either gainLow/gainHigh or entropyGate, not both',
};

/** AFM options without the grid: the UNet's per-layer controls take these (each layer knows its grid). */
export const afmFields = {
  gainLow: z.number().optional(),
  gainHigh: z.number().optional(),
  cutoff: z.number().gt(0).lte(1).optional(),
  width: z.number().gte(0).lt(1).optional(),
  preserveDC: z.boolean().optional(),
  entropyGate: z.strictObject({
    strength: z.number(),
    wLow: z.number(),
    wHigh: z.number(),
    beta: z.number().optional(),
    gamma: z.number().optional(),
  }).optional(),
  mode: z.enum(['fused', 'reference']).optional(),
};
export const afmLayerSchema = z.strictObject(afmFields).refine(gainsOrGate.check, { message: gainsOrGate.message });

export const gagSchema = z.strictObject({
  kind: z.literal('gag'),
  scale: z.number().optional(),
  alpha: z.union([z.literal(1.5), z.literal(2)]).optional(),
  // Infinity disables the cap (z.number() rejects it).
  eta: z.union([z.number().positive(), z.literal(Infinity)]).optional(),
  zeta: z.number().optional(),
});
/** NAG's scalars; the tensors (kNeg, vNeg, maskNeg) are added where the op takes them. */
export const nagFields = {
  kind: z.literal('nag'),
  scale: z.number().optional(),
  tau: z.number().positive().optional(),
  alpha: z.number().optional(),
};
export const pagSchema = z.strictObject({ kind: z.literal('pag'), batch: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]).optional() });
export const captureFields = { topK: positiveInt.optional(), bins: positiveInt.max(4096).optional() };

const optionsSchema = z.strictObject({
  mask: mask.optional(),
  scale: z.number().positive().optional(),
  causal: z.boolean().optional(),
  afm: z.strictObject({ grid, ...afmFields }).refine(gainsOrGate.check, { message: gainsOrGate.message }).optional(),
  guidance: z.discriminatedUnion('kind', [
    gagSchema,
    z.strictObject({ ...nagFields, kNeg: tensor, vNeg: tensor, maskNeg: mask.optional() }),
    pagSchema,
  ]).optional(),
  cache: z.strictObject({ handle: z.instanceof(AttentionCache), mode: z.enum(['record', 'replay']) }).optional(),
  capture: z.strictObject({ ...captureFields, grid: grid.optional() }).optional(),
  returnStats: z.boolean().optional(),
});

function invalid(message: string): DiffusionAttentionError {
  return new DiffusionAttentionError('E_INVALID_ARGUMENT', message);
}

function shapeError(message: string): DiffusionAttentionError {
  return new DiffusionAttentionError('E_SHAPE', message);
}

function describeShape(t: Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

/** Checks a `[B, heads, T, d]` key/value pair against q; returns T. */
function checkKeyValue(q: Tensor, k: Tensor, v: Tensor, names: string): number {
  for (const t of [k, v]) {
    if (t.disposed) throw new DiffusionAttentionError('E_DISPOSED', `${names}: a tensor has been disposed`);
  }
  if (k.dtype !== q.dtype || v.dtype !== q.dtype) {
    throw new DiffusionAttentionError('E_DTYPE', `q and ${names} must have one dtype, got ${q.dtype}, ${k.dtype}, ${v.dtype}`);
  }
  if (k.device !== q.device || v.device !== q.device) {
    throw new DiffusionAttentionError('E_DEVICE', `q and ${names} must be on one device, got ${q.device}, ${k.device}, ${v.device}`);
  }
  const [B, H, , d] = q.shape;
  const ks = k.shape;
  if (ks.length !== 4 || ks[0] !== B || ks[1] !== H || ks[3] !== d || ks[2]! < 1 || v.shape.join() !== ks.join()) {
    throw shapeError(`expected ${names} of shape [${B}, ${H}, T, ${d}] with T >= 1 (q is ${describeShape(q)}), got ${describeShape(k)} and ${describeShape(v)}`);
  }
  return ks[2]!;
}

/** A key-padding mask as B*T bytes, each batch row attending to at least one key. */
async function maskBytes(m: MaskInput | undefined, B: number, T: number, name: string): Promise<Uint8Array | undefined> {
  if (m === undefined) return undefined;
  let bytes: Uint8Array;
  if (m instanceof Tensor) {
    if (m.shape.join() !== `${B},${T}`) throw shapeError(`${name} must have shape [${B}, ${T}], got ${describeShape(m)}`);
    const values = await (m.dtype === 'float32' ? m : await m.to({ dtype: 'float32' })).toArray();
    bytes = Uint8Array.from(values as Float32Array, (x) => (x !== 0 ? 1 : 0));
  } else {
    bytes = m instanceof Uint8Array ? m : Uint8Array.from(m, (x) => (x ? 1 : 0));
  }
  if (bytes.length !== B * T) throw shapeError(`${name} has ${bytes.length} entries, expected B*T = ${B * T}`);
  for (let b = 0; b < B; b++) {
    if (!bytes.subarray(b * T, (b + 1) * T).some((x) => x !== 0)) throw shapeError(`${name} row ${b} masks every key`);
  }
  return bytes;
}

function checkGrid(g: [number, number], N: number, name: string): void {
  if (g[0] * g[1] !== N) throw shapeError(`${name} [${g[0]}, ${g[1]}] does not cover the N = ${N} queries`);
}

/**
 * Fused multi-head attention with the AFM, GAG/NAG/PAG, T-GATE and capture variants, which
 * compose in one call. Shapes as PyTorch SDPA: q `[B, heads, N, d]`, k and v `[B, heads, T, d]`
 * (d up to 256), output `[B, heads, N, d]`, same dtype and device as q. CPU: float32. CUDA:
 * float32, float16 or bfloat16, accumulated in float32. See {@link AttentionOptions} for each
 * variant and its paper.
 *
 * With `returnStats` or `capture` the promise resolves to an {@link AttentionResult}; otherwise to
 * the output tensor. With `cache.mode === 'replay'`, k and v are not read.
 *
 * @throws DiffusionAttentionError `E_SHAPE`, `E_DTYPE`, `E_DEVICE`, `E_DISPOSED`,
 *   `E_INVALID_ARGUMENT` (all before any native work), `E_RESOURCE`, `E_CUDA`.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions & { returnStats: true }): Promise<AttentionResult>;
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions & { capture: NonNullable<AttentionOptions['capture']> }): Promise<AttentionResult>;
export function attention(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Promise<Tensor>;
export async function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Promise<Tensor | AttentionResult> {
  const parsed = optionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid(`attention options${issue.path.length ? `.${issue.path.join('.')}` : ''}: ${issue.message}`);
  }
  const o = parsed.data;
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (!(t instanceof Tensor)) throw new DiffusionAttentionError('E_DTYPE', `${name} must be a Tensor`);
  }
  if (q.disposed) throw new DiffusionAttentionError('E_DISPOSED', 'q has been disposed');
  if (q.shape.length !== 4) throw shapeError(`q must be 4-D [B, heads, N, d], got ${describeShape(q)}`);
  const [B, , N, d] = q.shape as [number, number, number, number];
  if (d < 1 || d > 256) throw shapeError(`head dim d must be in 1..256, got ${d}`);
  if (q.device === 'cpu' && q.dtype !== 'float32') {
    throw new DiffusionAttentionError('E_DTYPE', `the CPU backend computes attention in float32, got ${q.dtype}: convert with to({ dtype: 'float32' })`);
  }
  const native: Record<string, unknown> = {};
  const replay = o.cache?.mode === 'replay';
  if (replay) {
    if (o.afm || o.guidance || o.capture || o.mask || o.causal) {
      throw invalid('cache replay returns the recorded output: it cannot be combined with mask, causal, afm, guidance or capture');
    }
    native.cache = { handle: o.cache!.handle.native, mode: 'replay' };
    const { binding } = loadNative();
    const r = await awaitNative(() => binding.attention(q.native, null, null, native));
    return o.returnStats ? { output: new Tensor(r.out), stats: { entropy: null, gainLow: 1, gainHigh: 1 } } : new Tensor(r.out);
  }
  const T = checkKeyValue(q, k, v, 'k and v');
  native.mask = await maskBytes(o.mask, B, T, 'mask');
  if (o.causal) {
    if (o.afm || o.guidance || o.cache || o.capture) throw invalid('causal attention cannot be combined with afm, guidance, cache or capture');
    const m = native.mask as Uint8Array | undefined;
    for (let b = 0; m && b < B; b++) {
      if (m[b * T] === 0) throw shapeError(`with causal attention the mask must attend to key 0 (row ${b} does not)`);
    }
    native.causal = true;
  }
  native.scale = o.scale ?? 1 / Math.sqrt(d);
  if (o.afm) {
    checkGrid(o.afm.grid, N, 'afm.grid');
    native.afm = o.afm;
  }
  const g = o.guidance;
  if (g?.kind === 'gag') native.guidance = g;
  if (g?.kind === 'nag') {
    const Tn = checkKeyValue(q, g.kNeg, g.vNeg, 'guidance.kNeg and guidance.vNeg');
    native.guidance = { ...g, kNeg: g.kNeg.native, vNeg: g.vNeg.native, maskNeg: await maskBytes(g.maskNeg, B, Tn, 'guidance.maskNeg') };
  }
  if (g?.kind === 'pag') {
    if (N !== T) throw shapeError(`PAG's identity attention needs N == T (self-attention), got N = ${N}, T = ${T}`);
    const [begin, end] = g.batch ?? [0, B];
    if (begin > end || end > B) throw invalid(`guidance.batch [${begin}, ${end}] must satisfy begin <= end <= B = ${B}`);
    if (o.capture) throw invalid('capture cannot be combined with PAG (its rows have no attention map)');
    native.guidance = { kind: 'pag', begin, end };
  }
  if (o.cache) {
    if (B % 2 !== 0) throw shapeError(`cache record averages the two guidance halves of the batch: B must be even, got ${B}`);
    native.cache = { handle: o.cache.handle.native, mode: 'record' };
  }
  if (o.capture) {
    const side = Math.round(Math.sqrt(N));
    const captureGrid = o.capture.grid ?? o.afm?.grid ?? (side * side === N ? [side, side] as [number, number] : undefined);
    if (!captureGrid) throw invalid(`capture.grid is needed: N = ${N} is not a square`);
    checkGrid(captureGrid, N, 'capture.grid');
    // K = min(topK, T): clamped here so any positive integer is accepted.
    native.capture = { topK: Math.min(o.capture.topK ?? 8, T), bins: o.capture.bins ?? 16, grid: captureGrid };
  }
  const { binding } = loadNative();
  const r = await awaitNative(() => binding.attention(q.native, k.native, v.native, native));
  const output = new Tensor(r.out);
  if (!o.returnStats && !o.capture) return output;
  const result: AttentionResult = { output };
  if (o.returnStats) result.stats = { entropy: Number.isNaN(r.entropy) ? null : r.entropy, gainLow: r.gainLow, gainHigh: r.gainHigh };
  if (o.capture && r.concentration && r.spectrum) {
    const cg = (native.capture as { grid: [number, number]; bins: number });
    result.capture = { concentration: r.concentration, spectrum: r.spectrum, grid: cg.grid, bins: cg.bins };
  }
  return result;
}
