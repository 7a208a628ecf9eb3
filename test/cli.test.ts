import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const CLI = path.join(__dirname, '..', 'ts', 'cli', 'index.ts');

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
}

test('info prints the backend and the CPU', () => {
  const r = cli(['info']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^diffusion-attention \d+\.\d+\.\d+/);
  assert.match(r.stdout, /backend\s+(cpu|cuda)/);
  assert.match(r.stdout, /cpu\s+.*SIMD (scalar|avx2|avx512)/);
});

test('info --json prints the info() object', () => {
  const r = cli(['info', '--json']);
  assert.is(r.status, 0, r.stderr);
  const i = JSON.parse(r.stdout);
  assert.ok(i.backend === 'cpu' || i.backend === 'cuda');
  assert.is(i.devices[0].type, 'cpu');
});

test('an unknown command exits 2 with a message', () => {
  const r = cli(['bogus']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /unknown command/);
});

test('a runtime failure exits 1 and names the error code', () => {
  const r = cli(['info'], { DIFFUSION_ATTENTION_BACKEND: 'nonsense' });
  assert.is(r.status, 1);
  assert.match(r.stderr, /E_INVALID_ARGUMENT/);
});

test.run();
