/**
 * The attention part of the soak: many small attention() calls cycling through every variant
 * (plain, mask, scale, causal, AFM fixed and entropy-gated, GAG, NAG, PAG, T-GATE record and
 * replay, capture, stats), on inputs made once. Nine outputs in ten are disposed at once; the
 * tenth is left to the garbage collector, so both release paths are exercised.
 */
import { AttentionCache, Tensor, attention, type AttentionOptions, type AttentionResult } from '../../ts/index.js';
import { Random } from '../fuzz/random.js';
import type { RssSampler } from './rss.js';

const [B, H, N, T, d] = [2, 2, 16, 8, 16];

export async function soakAttention(calls: number, sampler: RssSampler, every: number): Promise<void> {
  const r = new Random(1);
  const q = Tensor.from(r.normals(B * H * N * d), [B, H, N, d]);
  const k = Tensor.from(r.normals(B * H * T * d), [B, H, T, d]);
  const v = Tensor.from(r.normals(B * H * T * d), [B, H, T, d]);
  const self = Tensor.from(r.normals(B * H * N * d), [B, H, N, d]);
  const half = Tensor.from(r.normals(H * N * d), [1, H, N, d]);
  const cache = new AttentionCache();
  const mask = Uint8Array.from({ length: B * T }, (_, i) => (i % T < 6 ? 1 : 0));
  const variants: Array<[Tensor, Tensor, Tensor, AttentionOptions]> = [
    [q, k, v, {}],
    [q, k, v, { mask, scale: 0.3 }],
    [q, self, self, { causal: true }],
    [q, k, v, { afm: { grid: [4, 4], gainLow: 1.2, gainHigh: 0.9 } }],
    [q, k, v, { afm: { grid: [4, 4], entropyGate: { strength: 0.2, wLow: 1, wHigh: 0 } }, returnStats: true }],
    [q, k, v, { afm: { grid: [4, 4], gainLow: 1.1, mode: 'reference' } }],
    [q, k, v, { guidance: { kind: 'gag', scale: 5 } }],
    [q, k, v, { guidance: { kind: 'nag', kNeg: k, vNeg: v } }],
    [q, self, self, { guidance: { kind: 'pag', batch: [1, 2] } }],
    [q, k, v, { cache: { handle: cache, mode: 'record' } }],
    [half, half, half, { cache: { handle: cache, mode: 'replay' } }],
    [q, k, v, { capture: { topK: 4, bins: 8 } }],
  ];
  for (let i = 0; i < calls; i++) {
    if (i % every === 0) sampler.sample(i);
    const [a, b, c, o] = variants[i % variants.length]!;
    const result = await attention(a, b, c, o) as Tensor | AttentionResult;
    const output = result instanceof Tensor ? result : result.output;
    if (i % 10 !== 9) output.dispose();
  }
  sampler.sample(calls);
  for (const t of [q, k, v, self, half]) t.dispose();
  cache.clear();
}
