/** Markdown rendering of benchmark rows (the format BENCHMARKS.md records). */
import { type Machine, machineSummary } from 'diffusion-attention';
import type { Timing } from './measure.js';
import type { Row } from './types.js';

function ms(t: Timing): string {
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
  return `${f(t.median)} (${f(t.q1)}-${f(t.q3)})`;
}

function rate(amount: number | undefined, t: Timing, unit: number): string {
  return amount === undefined ? '' : (amount / (t.median / 1e3) / unit).toFixed(1);
}

/** The machine's measured float32 matmul rate and copy bandwidth (PyTorch, same run). */
export interface Ceilings {
  matmulGflops: number;
  copyGBs: number;
}

export function markdown(rows: Row[], m: Machine, ceilings?: Ceilings): string {
  const lines = [
    `Machine: ${machineSummary(m)}`,
    ...(ceilings
      ? [`Ceilings measured in this run: float32 matmul ${ceilings.matmulGflops.toFixed(0)} GFLOP/s (PyTorch, 2048^3), copy ${ceilings.copyGBs.toFixed(1)} GB/s (read + write).`]
      : []),
    '',
    'Times in ms: median (interquartile range). Ratio = our median / baseline median (below 1: we are faster).',
    '',
    '| suite | op | shape | ours ms | GB/s | GFLOP/s | baseline ms | ratio |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    lines.push(`| ${r.suite} | ${r.name} | ${r.shape} | ${ms(r.ours)} | ${rate(r.bytes, r.ours, 1e9)} | ${rate(r.flops, r.ours, 1e9)} | ` +
      `${r.baseline ? ms(r.baseline.timing) : 'n/a'} | ${r.baseline ? r.baseline.ratio.toFixed(2) : ''} |`);
  }
  for (const r of rows.filter((x) => x.memory)) {
    const { peakRssBytes, weightBytes } = r.memory!;
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
    lines.push('', `Memory (${r.suite}, ${r.name}): peak resident ${peakRssBytes === undefined ? 'n/a' : gib(peakRssBytes)} for ` +
      `${gib(weightBytes)} of float32 weights${peakRssBytes === undefined ? '' : ` (${(peakRssBytes / weightBytes).toFixed(2)}x)`}.`);
  }
  const baselines = [...new Set(rows.flatMap((r) => (r.baseline ? [r.baseline.name] : [])))];
  if (baselines.length) lines.push('', `Baseline: ${baselines.join('; ')}, same machine, same run.`);
  return `${lines.join('\n')}\n`;
}
