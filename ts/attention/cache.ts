import type { NativeAttentionCache } from '../native/binding.js';
import { loadNative } from '../native/load.js';

/**
 * A T-GATE cache for one attention layer (arXiv 2404.02747; reference/tgate.md §1-3). Pass it to
 * {@link attention} with `cache: { handle, mode: 'record' }` on the gate step and
 * `mode: 'replay'` afterwards. It holds the recorded output `[B/2, heads, N, d]` (same dtype and
 * device as the queries) until {@link AttentionCache.clear} or garbage collection.
 */
export class AttentionCache {
  /** @internal */
  readonly native: NativeAttentionCache;

  constructor() {
    this.native = new (loadNative().binding.NativeAttentionCache)();
  }

  /** Whether an output has been recorded. */
  get recorded(): boolean {
    return this.native.recorded;
  }

  /** Shape of the recorded output, or null. */
  get shape(): number[] | null {
    return this.native.shape;
  }

  /** Drops the recorded output (frees its memory once no replayed tensor shares it). */
  clear(): void {
    this.native.clear();
  }
}
