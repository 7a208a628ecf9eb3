/**
 * `npm run soak`: resident memory over long runs, in one process: 100,000 small attention() calls,
 * then 1,000 generate() calls on the embedded model (4 steps, 32x32), sampling RSS 100 times
 * per part. Prints, per part, RSS at the start and end and the growth in bytes per call (least
 * squares over the second half of the samples), as RELIABILITY.md records it. Not part of
 * `npm test` (it takes minutes).
 *
 *   npm run soak -- --attention 100000 --generate 1000
 */
import { soakAttention } from './attention.js';
import { soakGenerate } from './generate.js';
import { RssSampler } from './rss.js';

const SAMPLES = 100;

function count(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const n = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isSafeInteger(n) || n < SAMPLES) throw new Error(`--${name} must be an integer of at least ${SAMPLES}`);
  return n;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

async function part(name: string, calls: number, run: (calls: number, s: RssSampler, every: number) => Promise<void>): Promise<string> {
  const sampler = new RssSampler();
  const started = performance.now();
  await run(calls, sampler, Math.floor(calls / SAMPLES));
  const seconds = (performance.now() - started) / 1000;
  const first = sampler.samples[0]!.rss;
  const last = sampler.samples[sampler.samples.length - 1]!.rss;
  const line = `| ${name} | ${calls} | ${seconds.toFixed(1)} s | ${mib(first)} | ${mib(last)} | ${sampler.slope().toFixed(2)} |`;
  console.log(line);
  return line;
}

async function main(): Promise<void> {
  if (!(globalThis as { gc?: unknown }).gc) console.log('(run with --expose-gc, as npm run soak does, for RSS after collection)');
  console.log('| workload | calls | time | RSS at start | RSS at end | growth (bytes/call, 2nd half) |\n| --- | ---: | ---: | ---: | ---: | ---: |');
  await part('attention() (B 2, heads 2, N 16, T 8, d 16; all variants)', count('attention', 100_000), soakAttention);
  await part('generate() on the embedded model (4 steps, 32x32; all methods)', count('generate', 1_000), soakGenerate);
}

// uvu imports every file under test/ whose path matches its pattern: run only when started directly.
if (require.main === module) void main();
