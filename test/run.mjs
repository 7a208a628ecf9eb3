#!/usr/bin/env node
// `npm test`: runs every test/*.test.ts with uvu (TypeScript through tsx) and ends with the line
// `N passed, N failed` that CI reads. uvu prints only Total/Passed/Skipped, and its exit code can be
// 0 even when a before-hook threw (packaging.md §7), so the summary is parsed, not trusted blindly.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const uvu = path.join(root, 'node_modules', 'uvu', 'bin.js');
const pattern = process.argv[2] ?? '\\.test\\.ts$';

const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', uvu, 'test', pattern, '--no-color'],
  { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
child.stderr.on('data', (d) => { out += d; process.stderr.write(d); });
child.on('close', (code) => {
  const total = /Total:\s+(\d+)/.exec(out);
  const passed = /Passed:\s+(\d+)/.exec(out);
  const skipped = /Skipped:\s+(\d+)/.exec(out);
  if (!total || !passed) {
    console.log(`\nthe test run ended without a summary (exit code ${code})`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  const p = Number(passed[1]);
  const f = Number(total[1]) - p + (code !== 0 && p === Number(total[1]) ? 1 : 0);
  console.log(`\n${p} passed, ${f} failed${skipped && Number(skipped[1]) ? `, ${skipped[1]} skipped` : ''}`);
  process.exit(f > 0 ? 1 : 0);
});
