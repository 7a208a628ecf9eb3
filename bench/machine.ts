/** What a benchmark ran on: recorded with every result so numbers are never compared blind. */
import { execSync } from 'node:child_process';
import os from 'node:os';

import { info, type Info } from 'diffusion-attention';

export interface Machine {
  date: string;
  commit: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  diffusionAttention: Info;
}

function commit(): string {
  try {
    const sha = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execSync('git status --porcelain', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() !== '';
    return dirty ? `${sha}+changes` : sha;
  } catch {
    return 'unknown';
  }
}

export function describeMachine(): Machine {
  const i = info();
  return {
    date: new Date().toISOString(),
    commit: commit(),
    cpu: (i.devices[0] as { name: string }).name || os.cpus()[0]?.model || 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    diffusionAttention: i,
  };
}
