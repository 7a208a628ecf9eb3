/**
 * What a measurement ran on. The benchmark harness (bench/) and the evaluation harness (ts/eval)
 * record this with every result, so that numbers are never compared blind.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

import { info, type Info } from './info.js';
import { PACKAGE_ROOT } from './native/load.js';

/** The machine, the package build and the date of a run. */
export interface Machine {
  /** ISO 8601 time the description was taken. */
  date: string;
  /**
   * The package's git commit (short hash, `+changes` when the work tree differs) when it runs from a
   * git checkout of the package itself, else `release` (an installed copy inside someone else's
   * repository must not report that repository's commit).
   */
  commit: string;
  /** CPU model name. */
  cpu: string;
  /** Hardware threads available to the process. */
  cores: number;
  /** Installed memory in GiB, rounded. */
  memoryGiB: number;
  /** Node.js version, e.g. `v20.11.0`. */
  node: string;
  /** `<platform>-<arch>`, e.g. `linux-x64`. */
  platform: string;
  /** {@link info}: backend, binary, version, CPU SIMD path and CUDA devices. */
  diffusionAttention: Info;
}

function packageCommit(): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  try {
    if (path.resolve(git('rev-parse', '--show-toplevel')) !== path.resolve(PACKAGE_ROOT)) return 'release';
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain') ? '+changes' : ''}`;
  } catch {
    return 'release';
  }
}

/** Describes this machine and package build now (runs `git` twice; no native work beyond {@link info}). */
export function describeMachine(): Machine {
  const i = info();
  const cpu = i.devices.find((d) => d.type === 'cpu');
  return {
    date: new Date().toISOString(),
    commit: packageCommit(),
    cpu: cpu?.name || os.cpus()[0]?.model || 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    diffusionAttention: i,
  };
}

/**
 * One line for reports: date, package version and commit, CPU, cores, memory, platform, Node,
 * backend, SIMD path and GPUs.
 */
export function machineSummary(m: Machine): string {
  const i = m.diffusionAttention;
  const cpu = i.devices.find((d) => d.type === 'cpu');
  const gpus = i.devices.flatMap((d) => (d.type === 'cuda' ? [d.name] : [])).join(', ');
  return `${m.date.slice(0, 10)}, diffusion-attention ${i.version} (commit ${m.commit}): ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ` +
    `${m.platform}, Node ${m.node}, backend ${i.backend}, SIMD ${cpu?.simd ?? 'unknown'}${gpus ? `, GPU ${gpus}` : ''}`;
}
