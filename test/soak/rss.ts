/**
 * Resident-memory sampling for the soak: RSS after a garbage collection (when node runs with
 * --expose-gc, as `npm run soak` does) at regular call counts, and the growth rate as the
 * least-squares slope of RSS over calls, fitted on the second half of the samples so that warm-up
 * (allocator pools, JIT, caches filling) does not count as a leak.
 */
export interface Sample {
  calls: number;
  rss: number;
}

export class RssSampler {
  readonly samples: Sample[] = [];

  sample(calls: number): void {
    (globalThis as { gc?: () => void }).gc?.();
    this.samples.push({ calls, rss: process.memoryUsage().rss });
  }

  /** Bytes per call: the least-squares slope over the second half of the samples. */
  slope(): number {
    const half = this.samples.slice(Math.floor(this.samples.length / 2));
    const n = half.length;
    const mx = half.reduce((s, p) => s + p.calls, 0) / n;
    const my = half.reduce((s, p) => s + p.rss, 0) / n;
    let sxy = 0;
    let sxx = 0;
    for (const p of half) {
      sxy += (p.calls - mx) * (p.rss - my);
      sxx += (p.calls - mx) ** 2;
    }
    return sxx === 0 ? 0 : sxy / sxx;
  }
}
