/**
 * Runs a TypeScript snippet in a fresh Node process (with tsx) under the given environment and
 * returns what it printed as JSON. For settings read once per process (backend choice, SIMD level).
 * The snippet sees `da` (the package) and `require` (tsx-aware, for test helpers).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const MARK = '\n--- result ---\n';

export function runChild<T>(code: string, env: Record<string, string>): T {
  const script = `import { createRequire } from 'node:module';\n` +
    `const require = createRequire(import.meta.url);\n` +
    `const da = require(${JSON.stringify(path.join(ROOT, 'ts', 'index.ts'))});\n` +
    `const out = await (async () => { ${code} })();\nprocess.stdout.write(${JSON.stringify(MARK)} + JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script],
    { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child process failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.slice(r.stdout.lastIndexOf(MARK) + MARK.length)) as T;
}
