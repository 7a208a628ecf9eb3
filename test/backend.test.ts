import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { info } from '../ts/index.js';
import { runChild } from './helpers/child.js';

type Outcome = { ok: true; backend: string; variant: string; reason?: string } | { ok: false; code: string; message: string };
const probe = `try { const i = da.info(); return { ok: true, backend: i.backend, variant: i.build.variant, reason: i.reason }; }
  catch (e) { return { ok: false, code: e.code, message: e.message, isDAE: e instanceof da.DiffusionAttentionError }; }`;

const cudaBuilt = fs.existsSync(path.join(__dirname, '..', 'build', 'Release', 'cuda', 'diffusion_attention_cuda.node'));
const hasCuda = info().backend === 'cuda';

test('DIFFUSION_ATTENTION_BACKEND=cpu forces the CPU variant and says so', () => {
  const r = runChild<Outcome>(probe, { DIFFUSION_ATTENTION_BACKEND: 'cpu' });
  assert.ok(r.ok);
  if (r.ok) {
    assert.is(r.backend, 'cpu');
    assert.is(r.variant, 'cpu');
    assert.is(r.reason, 'DIFFUSION_ATTENTION_BACKEND=cpu');
  }
});

test('DIFFUSION_ATTENTION_BACKEND=cuda without a usable GPU is E_NO_CUDA naming the reason', () => {
  const r = runChild<Outcome>(probe, { DIFFUSION_ATTENTION_BACKEND: 'cuda' });
  if (hasCuda) {
    assert.ok(r.ok && r.backend === 'cuda' && r.variant === 'cuda');
    return;
  }
  assert.ok(!r.ok);
  if (!r.ok) {
    assert.is(r.code, 'E_NO_CUDA');
    // With the CUDA variant built, the reason comes from its own probe of the CUDA runtime.
    assert.match(r.message, cudaBuilt ? /no CUDA device found/ : /no CUDA binary/);
  }
});

test('an unknown DIFFUSION_ATTENTION_BACKEND is E_INVALID_ARGUMENT', () => {
  const r = runChild<Outcome>(probe, { DIFFUSION_ATTENTION_BACKEND: 'tpu' });
  assert.ok(!r.ok);
  if (!r.ok) assert.is(r.code, 'E_INVALID_ARGUMENT');
});

test('forced CUDA tensors fail with E_NO_CUDA before any native work when CUDA is missing', () => {
  if (hasCuda) return;
  const r = runChild<{ code: string }>(
    `try { da.Tensor.from(new Float32Array(4), [4], { device: 'cuda' }); return { code: 'none' }; } catch (e) { return { code: e.code }; }`,
    { DIFFUSION_ATTENTION_BACKEND: 'cpu' });
  assert.is(r.code, 'E_NO_CUDA');
});

test.run();
