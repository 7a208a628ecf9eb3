/**
 * The benchmark harness: `npm run bench -- [suite...] [--quick] [--out dir] [--no-baseline]`, or
 * `diffusion-attention bench ...` from an installed package. Each run writes `<out>/results.json`
 * (machine, versions, commit, ceilings, every row), `<out>/results.md` (the table BENCHMARKS.md
 * records) and `<out>/<suite>.png` (a bar chart per suite), and prints the table.
 */
import fs from 'node:fs';
import path from 'node:path';

import { Command } from 'commander';
import { describeMachine, info } from 'diffusion-attention';

import { chartPng } from './chart.js';
import { markdown, type Ceilings } from './report.js';
import { attentionSuite } from './suites/attention.js';
import { convertSuite } from './suites/convert.js';
import { fftSuite } from './suites/fft.js';
import { generateSuite } from './suites/generate.js';
import { opsSuite } from './suites/ops.js';
import { unetSuite } from './suites/unet.js';
import { torchBaseline } from './torch.js';
import type { Row, Suite } from './types.js';

const SUITES: Suite[] = [attentionSuite, fftSuite, convertSuite, opsSuite, unetSuite, generateSuite];

export async function main(argv: string[]): Promise<void> {
  const program = new Command('bench')
    .description('benchmarks of diffusion-attention against a PyTorch baseline measured in the same run')
    .argument('[suites...]', `suites to run: ${SUITES.map((s) => s.name).join(', ')} (default: all)`)
    .option('--quick', 'fewer sizes and repeats (under 2 minutes on 2 cores)')
    .option('--out <dir>', 'output folder', path.resolve('bench-results', new Date().toISOString().replace(/[:.]/g, '-')))
    .option('--no-baseline', 'skip the PyTorch baseline')
    .option('--repeats <n>', 'timed runs per row', (v) => Number.parseInt(v, 10))
    .action(async (names: string[], opts: { quick?: boolean; out: string; baseline: boolean; repeats?: number }) => {
      const unknown = names.filter((n) => !SUITES.some((s) => s.name === n));
      if (unknown.length) program.error(`unknown suite ${unknown.join(', ')} (known: ${SUITES.map((s) => s.name).join(', ')})`);
      const chosen = names.length ? SUITES.filter((s) => names.includes(s.name)) : SUITES;
      const quick = !!opts.quick;
      const backend = info();
      const ctx = {
        quick,
        baseline: opts.baseline,
        cuda: backend.backend === 'cuda',
        warmup: quick ? 2 : 3,
        repeats: opts.repeats ?? (quick ? 5 : 11),
        log: (line: string) => console.error(line),
      };
      if (!ctx.cuda) ctx.log(`GPU rows skipped: ${backend.reason ?? 'the CUDA backend is not in use'}`);
      const machine = describeMachine();
      // The machine's own ceilings, measured in this run, so every rate is also a fraction of one.
      const ceilings = opts.baseline ? torchBaseline<Ceilings>({ op: 'ceilings' }, ctx.log)?.timings[0] : undefined;
      const rows: Row[] = [];
      for (const suite of chosen) rows.push(...(await suite.run(ctx)));
      fs.mkdirSync(opts.out, { recursive: true });
      fs.writeFileSync(path.join(opts.out, 'results.json'), `${JSON.stringify({ machine, ceilings, quick, rows }, null, 2)}\n`);
      const table = markdown(rows, machine, ceilings);
      fs.writeFileSync(path.join(opts.out, 'results.md'), table);
      for (const suite of chosen) {
        const own = rows.filter((r) => r.suite === suite.name);
        if (own.length) fs.writeFileSync(path.join(opts.out, `${suite.name}.png`), await chartPng(own, `${suite.name}: ${suite.description}`));
      }
      console.log(table);
      console.error(`wrote results.json, results.md and charts to ${opts.out}`);
    });
  await program.parseAsync(argv, { from: 'user' });
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
