/**
 * `diffusion-attention eval [--quick] [--model <dir|file>] [--out <dir>] [--seeds <n>] [--json]`
 * (also `npm run eval`): the evaluation harness of ts/eval on the embedded model. Progress goes to
 * stderr; the targets table (or, with --json, the results) to stdout; files to --out, written only
 * once the run is complete.
 */
import path from 'node:path';

import { Command, InvalidArgumentError, Option } from 'commander';

import { writeReport } from '../eval/report.js';
import { computeResults } from '../eval/results.js';
import { runEvaluation } from '../eval/runner.js';
import { SCHEDULER_KINDS, type SchedulerKind } from '../schedulers/index.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number of at least 0, got ${JSON.stringify(value)}`);
  return n;
}

interface Flags {
  quick?: boolean;
  model?: string;
  out?: string;
  seeds?: number;
  guidanceScale?: number;
  guidanceRescale?: number;
  scheduler?: SchedulerKind;
  json?: boolean;
}

export function evalCommand(): Command {
  return new Command('eval')
    .description('measure prompt alignment and the attention methods (AFM, T-GATE, GAG/NAG/PAG) on the embedded model')
    .option('--quick', 'fewer prompts, seeds and settings (under 5 minutes on 2 cores)')
    .option('--model <dir|file>', 'a model of the embedded model\'s language (default: the embedded model)')
    .option('--out <dir>', 'output folder (default: ./eval-results/<timestamp>)')
    .option('--seeds <n>', 'seeds per prompt (default: 4, quick 2)', positiveInt)
    .option('--guidance-scale <s>', 'classifier-free guidance scale of every setting (default: the model\'s own)', nonNegative)
    .option('--guidance-rescale <phi>', 'rescaled guidance phi in [0, 1] of every setting (default: the model\'s own)', nonNegative)
    .addOption(new Option('--scheduler <kind>', 'sampler of every setting (default: the model\'s)').choices([...SCHEDULER_KINDS]))
    .option('--json', 'print the results as JSON on stdout instead of progress and the targets table')
    .action(async (f: Flags) => {
      const out = path.resolve(f.out ?? path.join('eval-results', new Date().toISOString().replace(/[:.]/g, '-')));
      const log = f.json ? () => {} : (line: string) => console.error(line);
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.once('SIGINT', onSigint);
      try {
        const run = await runEvaluation({
          quick: !!f.quick,
          ...(f.model ? { model: f.model } : {}),
          ...(f.seeds ? { seeds: f.seeds } : {}),
          ...(f.guidanceScale !== undefined ? { guidanceScale: f.guidanceScale } : {}),
          ...(f.guidanceRescale !== undefined ? { guidanceRescale: f.guidanceRescale } : {}),
          ...(f.scheduler ? { scheduler: f.scheduler } : {}),
          log,
          signal: controller.signal,
        });
        const results = computeResults(run);
        const command = `diffusion-attention ${process.argv.slice(2).join(' ')}`;
        const files = await writeReport(run, results, out, command);
        if (f.json) {
          console.log(JSON.stringify({ out, files, ...results, pictures: undefined }, null, 2));
        } else {
          console.log(['| target | goal | value | met |', '| --- | --- | --- | --- |',
            ...results.targets.map((t) => `| ${t.name} | ${t.goal} | ${t.value} | ${t.met === null ? 'n/a' : t.met ? 'yes' : 'no'} |`)].join('\n'));
          console.error(`wrote ${files.length} files to ${out} (report.md, results.json, grids/); ${(results.wallSeconds / 60).toFixed(1)} min`);
        }
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
}
