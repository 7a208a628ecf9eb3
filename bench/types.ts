import type { Timing } from './measure.js';

/** One measured configuration. Throughput fields are present where they mean something. */
export interface Row {
  suite: string;
  /** What ran, e.g. 'float32 -> float16'. */
  name: string;
  /** Shape or size, e.g. '[2, 8, 4096, 40]'. */
  shape: string;
  ours: Timing;
  /** Bytes read plus written once (the floor a memory-bound op must move). */
  bytes?: number;
  /** Floating-point operations (the formula is in the suite). */
  flops?: number;
  /** Peak resident memory of the process after the row, against the weight bytes of its model. */
  memory?: { peakRssBytes: number | undefined; weightBytes: number };
  /** The baseline measured in the same run, and ours as a fraction of its time (lower is better). */
  baseline?: { name: string; timing: Timing; ratio: number };
}

export interface SuiteContext {
  quick: boolean;
  /** Whether to run the PyTorch baseline. */
  baseline: boolean;
  /** Whether the CUDA backend is in use (then suites add GPU rows). */
  cuda: boolean;
  warmup: number;
  repeats: number;
  log: (line: string) => void;
}

export interface Suite {
  name: string;
  description: string;
  run(ctx: SuiteContext): Promise<Row[]>;
}
