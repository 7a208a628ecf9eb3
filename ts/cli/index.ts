#!/usr/bin/env node
/**
 * The `diffusion-attention` command: `generate`, `eval`, `info` and `bench`.
 * Exit codes: 0 ok, 1 runtime failure, 2 bad arguments, 130 interrupted (Ctrl-C).
 */
import path from 'node:path';

import { Command, CommanderError } from 'commander';

import { DiffusionAttentionError } from '../errors.js';
import { info, type Info } from '../info.js';
import { evalCommand } from './eval.js';
import { generateCommand } from './generate.js';
import { UsageError } from './usage-error.js';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../native/load.js';

function formatBytes(n: number): string {
  return `${(n / 2 ** 30).toFixed(1)} GiB`;
}

function formatInfo(i: Info): string {
  const lines = [
    `diffusion-attention ${i.version}`,
    `backend   ${i.backend}${i.reason ? ` (${i.reason})` : ''}`,
    `binary    ${i.binary} (${i.build.variant} variant, ${i.build.buildType}, ${i.build.compiler}, N-API ${i.build.napiVersion})`,
  ];
  if (i.build.cuda) lines.push(`cuda      runtime ${i.build.cudaVersion} (static), code for ${i.build.cudaArchs.join(' ')}`);
  for (const d of i.devices) {
    if (d.type === 'cpu') {
      lines.push(`cpu       ${d.name || 'unknown'}, ${d.threads} threads, SIMD ${d.simd} (compiled: ${i.build.simd.join(', ')})`);
      continue;
    }
    lines.push(`cuda:${d.index}    ${d.name}, compute ${d.computeCapability}, ${formatBytes(d.totalMemory)} (${formatBytes(d.freeMemory)} free), ${d.multiprocessors} SMs`);
    for (const k of d.kernels) lines.push(`          ${k}`);
  }
  return lines.join('\n');
}

const program = new Command('diffusion-attention')
  .description('Stable Diffusion with fused, steerable attention (AFM, T-GATE, GAG/NAG/PAG) on CPU and CUDA')
  .version(PACKAGE_VERSION)
  .exitOverride();

program.addCommand(generateCommand().exitOverride());
program.addCommand(evalCommand().exitOverride());

program.command('info')
  .description('show the native binary, the backend in use and the devices found')
  .option('--json', 'print JSON')
  .action((opts: { json?: boolean }) => {
    const i = info();
    console.log(opts.json ? JSON.stringify(i, null, 2) : formatInfo(i));
  });

program.command('bench')
  .description('run the benchmark harness (see `diffusion-attention bench --help`)')
  .helpOption(false)
  .allowUnknownOption()
  .argument('[args...]', 'suites and options of the harness')
  .action(async (args: string[]) => {
    // The compiled harness (lib/bench), also when this file runs from ts/ in a clone.
    const harness = require(path.join(PACKAGE_ROOT, 'lib', 'bench', 'index.js')) as { main(argv: string[]): Promise<void> };
    await harness.main(args);
  });

async function run(): Promise<void> {
  try {
    await program.parseAsync();
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; usage errors (already printed by commander) exit 2.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
    } else if (err instanceof Error && err.name === 'AbortError') {
      console.error('aborted: nothing was written');
      process.exitCode = 130;
    } else if (err instanceof UsageError) {
      console.error(`error: ${err.message} (see diffusion-attention ${err.command} --help)`);
      process.exitCode = 2;
    } else {
      const code = err instanceof DiffusionAttentionError ? ` [${err.code}]` : '';
      console.error(`error${code}: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    }
  }
}

void run();
