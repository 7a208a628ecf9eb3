#!/usr/bin/env node
// The native code under AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer
// (`npm run sanitize`; RELIABILITY.md records the runs).
//
//   npm run sanitize                             build, fuzz 10,000 cases, leak check
//   npm run sanitize -- --cases 2000 --seed 7    fewer cases, a chosen seed
//   npm run sanitize -- --no-build               reuse build-sanitize/
//   npm run sanitize -- --only fuzz|leaks        one of the two runs
//
// 1. Builds the CPU variant with DA_SANITIZE=address,undefined into build-sanitize/ (CMake option;
//    every report aborts, nothing recovers).
// 2. Fuzz: the fuzzer of test/fuzz with the sanitizer runtime preloaded into node (node itself is
//    not instrumented, so the runtime must come first) and the sanitizer binary forced through
//    DIFFUSION_ATTENTION_BINARY. Worker memory is bounded by ASan's max_allocation_size_mb instead
//    of ulimit (which would count ASan's shadow memory). A sanitizer report kills the worker, so
//    it shows up as a crash with the case that replays it.
// 3. Leaks: the soak (small counts) with LeakSanitizer on. Node and V8 leave their own allocations
//    behind at exit, so the report is filtered: a leak counts when a frame of its allocation stack
//    lies in the addon. Exit code 1 when either run finds anything.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const binary = path.join(root, 'build-sanitize', 'RelWithDebInfo', 'diffusion_attention.node');
const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : fallback;
};
const only = option('only', '');
if (!['', 'fuzz', 'leaks'].includes(only)) {
  console.error(`--only must be fuzz or leaks, not '${only}'`);
  process.exit(2);
}

function runtime(name) {
  const r = spawnSync('gcc', [`-print-file-name=${name}`], { encoding: 'utf8' });
  const file = r.stdout?.trim();
  if (r.status !== 0 || !file || !path.isAbsolute(file)) {
    console.error(`cannot find ${name} (gcc -print-file-name): the sanitizer runtimes come with GCC`);
    process.exit(1);
  }
  return file;
}

if (!argv.includes('--no-build')) {
  const r = spawnSync(process.execPath, [path.join(root, 'tools', 'build-native.mjs')], {
    cwd: root, stdio: 'inherit', env: { ...process.env, DIFFUSION_ATTENTION_SANITIZE: 'address,undefined' },
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
if (!fs.existsSync(binary)) {
  console.error(`${path.relative(root, binary)} is missing: run without --no-build`);
  process.exit(1);
}

const env = (asan) => ({
  ...process.env,
  DIFFUSION_ATTENTION_BINARY: binary,
  LD_PRELOAD: runtime('libasan.so'),
  ASAN_OPTIONS: `abort_on_error=1:allocator_may_return_null=1:max_allocation_size_mb=8192:${asan}`,
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
});
let failed = false;

if (only !== 'leaks') {
  const cases = option('cases', '10000');
  const seed = option('seed', String(Date.now() % 2 ** 31));
  console.log(`\n== fuzz under ASan + UBSan: ${cases} cases, seed ${seed}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/fuzz/main.ts', '--cases', cases, '--seed', seed, '--memory-limit-mb', '0'], {
    cwd: root, stdio: 'inherit', env: env('detect_leaks=0'),
  });
  failed ||= r.status !== 0;
}

if (only !== 'fuzz') {
  const attention = option('attention', '2000');
  const generate = option('generate', '100');
  console.log(`\n== LeakSanitizer: soak with ${attention} attention() and ${generate} generate() calls`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', 'test/soak/main.ts', '--attention', attention, '--generate', generate], {
    cwd: root, encoding: 'utf8', maxBuffer: 1 << 28, env: env('detect_leaks=1:malloc_context_size=20'),
  });
  process.stdout.write(r.stdout);
  const report = r.stderr ?? '';
  // LeakSanitizer prints one block per leak: "Direct leak of N byte(s) in M object(s) allocated
  // from:" and the stack's frames, up to a blank line.
  const blocks = report.split(/\n(?=(?:Direct|Indirect) leak of )/).filter((b) => /^(Direct|Indirect) leak of /.test(b));
  const ours = blocks.filter((b) => /diffusion_attention\.node|\/native\//.test(b.split('\n\n')[0]));
  const summary = /SUMMARY: AddressSanitizer: (\d+) byte\(s\) leaked in (\d+) allocation/.exec(report);
  const crashed = r.status !== 0 && !summary;
  console.log(`LeakSanitizer: ${blocks.length} leak record(s) in the process${summary ? ` (${summary[1]} bytes in ${summary[2]} allocations)` : ''}; `
    + `${ours.length} with an allocation stack in the addon`);
  for (const b of ours) console.log(`\n${b.split('\n\n')[0]}`);
  if (crashed || !/\| generate\(\)/.test(r.stdout)) {
    console.log(`the soak did not finish (exit ${r.status}, signal ${r.signal}):\n${report.slice(-4000)}`);
    failed = true;
  }
  failed ||= ours.length > 0;
}

console.log(failed ? '\nsanitizer runs found problems' : '\nsanitizer runs clean');
process.exit(failed ? 1 : 0);
