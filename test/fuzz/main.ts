/**
 * `npm run fuzz`: the fuzz campaign from the command line.
 *
 *   npm run fuzz                              10,000 cases from a fresh seed
 *   npm run fuzz -- --cases 500 --seed 42     500 cases of seed 42
 *   npm run fuzz -- --seed 42 --case 317      replays case 317 of seed 42 alone, printing it
 *
 *   npm run fuzz -- --memory-limit-mb 0      no memory limit on the workers (tools/sanitize.mjs)
 *
 * FUZZ_SEED, FUZZ_CASES, FUZZ_CASE and FUZZ_MEMORY_LIMIT_MB do the same as the flags. Prints the seed first, a table of
 * outcomes per category at the end (Markdown, as RELIABILITY.md records it) and every failure,
 * crash or hang with the command that replays it; exits with 1 when there is any.
 */
import type { Outcome } from './case.js';
import { runFuzz, type FuzzReport } from './supervisor.js';

function flag(name: string, env: string): number | undefined {
  const at = process.argv.indexOf(`--${name}`);
  const raw = at >= 0 ? process.argv[at + 1] : process.env[env];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} (${env}) must be a non-negative integer, got ${raw}`);
  return n;
}

function describe(outcome: Outcome): string {
  return outcome.kind === 'ok' ? 'ok' : outcome.kind === 'rejected' ? `rejected ${outcome.code}` : `FAILURE: ${outcome.message}`;
}

export function table(report: FuzzReport): string {
  const rows = Object.entries(report.categories).sort(([a], [b]) => a.localeCompare(b));
  const total = { cases: 0, ok: 0, rejected: 0, failures: 0, crashes: 0 };
  const lines = ['| category | cases | succeeded | typed errors (by code) | failures | crashes/hangs |', '| --- | ---: | ---: | --- | ---: | ---: |'];
  for (const [name, c] of rows) {
    const rejected = Object.values(c.rejected).reduce((a, b) => a + b, 0);
    const codes = Object.entries(c.rejected).sort(([, a], [, b]) => b - a).map(([code, n]) => `${code} ${n}`).join(', ');
    lines.push(`| ${name} | ${c.cases} | ${c.ok} | ${rejected}${codes ? ` (${codes})` : ''} | ${c.failures} | ${c.crashes} |`);
    total.cases += c.cases;
    total.ok += c.ok;
    total.rejected += rejected;
    total.failures += c.failures;
    total.crashes += c.crashes;
  }
  lines.push(`| **all** | ${total.cases} | ${total.ok} | ${total.rejected} | ${total.failures} | ${total.crashes} |`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const seed = flag('seed', 'FUZZ_SEED') ?? Date.now() % 2 ** 31;
  const only = flag('case', 'FUZZ_CASE');
  const cases = only === undefined ? flag('cases', 'FUZZ_CASES') ?? 10_000 : 1;
  console.log(`fuzz seed ${seed}, ${cases} case(s)${only === undefined ? '' : ` from case ${only}`} (replay: npm run fuzz -- --seed ${seed} --cases ${cases})`);
  const started = Date.now();
  const report = await runFuzz({
    seed, cases, first: only ?? 0, memoryLimitMb: flag('memory-limit-mb', 'FUZZ_MEMORY_LIMIT_MB') ?? 8192,
    onCase: (i, category, description, outcome) => {
      if (only !== undefined) console.log(`case ${i} [${category}] ${description}\n  -> ${describe(outcome)}`);
      else if ((i + 1) % 1000 === 0) console.log(`  ${i + 1} cases, ${((Date.now() - started) / 1000).toFixed(0)} s`);
    },
  });
  console.log(`\n${table(report)}\n\nseed ${seed}, ${report.cases} cases in ${(report.durationMs / 1000).toFixed(1)} s`);
  for (const f of report.findings) {
    console.log(`\n${f.kind.toUpperCase()} in case ${f.index} [${f.category}]: ${f.description}\n  ${f.message.replace(/\n/g, '\n  ')}\n  replay: npm run fuzz -- --seed ${seed} --case ${f.index}`);
  }
  console.log(report.findings.length ? `\n${report.findings.length} finding(s)` : '\nno failures, crashes or hangs');
  process.exitCode = report.findings.length ? 1 : 0;
}

// uvu imports every file under test/ whose path matches its pattern: run only when started directly.
if (require.main === module) void main();
