import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

// The harness itself must produce well-formed output. This checks structure, never speed.
test('bench --quick writes results.json and results.md with one row per case', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'da-bench-'));
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'bench', 'index.ts'),
    'convert', '--quick', '--no-baseline', '--repeats', '2', '--out', out], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const json = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
  assert.is(json.quick, true);
  assert.type(json.machine.commit, 'string');
  assert.ok(json.machine.diffusionAttention.version);
  assert.is(json.rows.length, 4);
  for (const row of json.rows) {
    assert.is(row.suite, 'convert');
    assert.ok(row.ours.median > 0 && row.ours.min <= row.ours.median && row.ours.median <= row.ours.max);
    assert.is(row.ours.runs, 2);
    assert.ok(row.bytes > 0);
  }
  const md = fs.readFileSync(path.join(out, 'results.md'), 'utf8');
  assert.match(md, /^Machine: /);
  assert.is(md.split('\n').filter((l) => l.startsWith('| convert |')).length, 4);
  const png = fs.readFileSync(path.join(out, 'convert.png'));
  assert.equal([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG chart');
  fs.rmSync(out, { recursive: true });
});

test('the CLI runs the same harness: diffusion-attention bench', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'da-bench-cli-'));
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'ts', 'cli', 'index.ts'),
    'bench', 'convert', '--quick', '--no-baseline', '--repeats', '1', '--out', out], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(out, 'results.json')));
  fs.rmSync(out, { recursive: true });
});

test('bench rejects an unknown suite with exit code 1 and a message', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'bench', 'index.ts'), 'nonsense'], { encoding: 'utf8' });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /unknown suite nonsense/);
});

test.run();
