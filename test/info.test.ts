import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { describeMachine, info, machineSummary } from '../ts/index.js';

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));

test('info() describes the loaded binary and matches the package version', () => {
  const i = info();
  assert.ok(i.backend === 'cpu' || i.backend === 'cuda');
  assert.is(i.version, pkg.version);
  assert.ok(fs.existsSync(i.binary), `binary ${i.binary} exists`);
  assert.is(i.devices[0]!.type, 'cpu');
  assert.ok(i.build.simd.includes('scalar'));
  assert.ok(['scalar', 'avx2', 'avx512'].includes((i.devices[0] as { simd: string }).simd));
  assert.is(i.build.cuda, i.build.variant === 'cuda');
  assert.is(typeof i.build.napiVersion, 'number');
});

test('info() gives a one-line reason whenever the backend is not CUDA', () => {
  const i = info();
  if (i.backend === 'cuda') {
    assert.is(i.reason, undefined);
    const gpu = i.devices.find((d) => d.type === 'cuda');
    assert.ok(gpu && gpu.type === 'cuda' && /^\d+\.\d+$/.test(gpu.computeCapability) && gpu.totalMemory > 0);
    // The kernel report follows the launchers' rule: tensor cores from compute capability 8.0.
    const tensorCores = Number(gpu.computeCapability.split('.')[0]) >= 8;
    assert.is(gpu.kernels.length, 3);
    assert.is(gpu.kernels[0]!.includes('mma.sync m16n8k16 tensor cores'), tensorCores, gpu.kernels[0]);
    return;
  }
  assert.type(i.reason, 'string');
  assert.not.match(i.reason!, /\n/);
  if (!process.env.DIFFUSION_ATTENTION_BACKEND) assert.match(i.reason!, /no CUDA device found/);
});

test('describeMachine() records the package commit of a checkout and one summary line for reports', () => {
  const root = path.join(__dirname, '..');
  const m = describeMachine();
  if (fs.existsSync(path.join(root, '.git'))) {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim();
    assert.match(m.commit, new RegExp(`^${head}(\\+changes)?$`));
  } else {
    assert.is(m.commit, 'release');
  }
  assert.ok(m.cores >= 1 && m.memoryGiB >= 1 && !Number.isNaN(Date.parse(m.date)));
  assert.is(m.diffusionAttention.version, pkg.version);
  const line = machineSummary(m);
  assert.not.match(line, /\n/);
  for (const part of [m.date.slice(0, 10), pkg.version, m.commit, m.node, `backend ${m.diffusionAttention.backend}`]) assert.ok(line.includes(part), part);
});

test.run();
