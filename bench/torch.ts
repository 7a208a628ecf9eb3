/**
 * Spawns bench/torch_baseline.py (Debian's python3-torch) for the baseline half of a suite.
 * Returns null, with the reason logged, when PyTorch is not installed, so the harness still runs.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

import type { Timing } from './measure.js';

/** Debian's python3-torch lives in the system interpreter, not in a pyenv or venv one. */
const PYTHON = process.env.DIFFUSION_ATTENTION_PYTHON ?? '/usr/bin/python3';

export interface TorchResult<T = Timing> {
  torch: string;
  threads: number;
  timings: T[];
}

let unavailable: string | undefined;

export function torchBaseline<T = Timing>(job: Record<string, unknown>, log: (line: string) => void): TorchResult<T> | null {
  if (unavailable) return null;
  // PyTorch gets every core, as our CPU backend does (Debian's build defaults to one thread).
  const input = JSON.stringify({ threads: os.availableParallelism(), seed: 0, ...job });
  // The script stays in bench/ (shipped as is) while this file may run compiled from lib/bench/.
  const script = path.join(path.dirname(require.resolve('diffusion-attention/package.json')), 'bench', 'torch_baseline.py');
  const r = spawnSync(PYTHON, [script], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    unavailable = /No module named 'torch'/.test(r.stderr)
      ? `PyTorch not found for ${PYTHON} (apt-get install python3-torch libopenblas0-pthread)`
      : `the PyTorch baseline failed: ${(r.error?.message ?? r.stderr).trim().split('\n').pop()}`;
    log(`baseline skipped: ${unavailable}`);
    return null;
  }
  return JSON.parse(r.stdout) as TorchResult<T>;
}
