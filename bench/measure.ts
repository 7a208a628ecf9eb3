/**
 * The timing method of every benchmark row: warm-up runs first (module load, caches, thread pool
 * start-up stay out of the numbers), then repeated timed runs; the median is the headline number
 * and the interquartile range and min-max give the spread. Inputs are rotated among several sets
 * by the suites, so repeated runs do not measure a warm cache.
 */
export interface Timing {
  /** Milliseconds. */
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
  runs: number;
}

export interface MeasureOptions {
  warmup: number;
  repeats: number;
}

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Summarises run times in milliseconds. */
export function summarise(samples: number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), q1: quantile(s, 0.25), q3: quantile(s, 0.75), min: s[0]!, max: s[s.length - 1]!, runs: s.length };
}

/** Times `run(i)` (i = run index, for rotating inputs) and summarises. */
export async function measure(run: (i: number) => Promise<unknown> | unknown, opts: MeasureOptions): Promise<Timing> {
  for (let i = 0; i < opts.warmup; i++) await run(i);
  const samples: number[] = [];
  for (let i = 0; i < opts.repeats; i++) {
    const t0 = process.hrtime.bigint();
    await run(opts.warmup + i);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return summarise(samples);
}
