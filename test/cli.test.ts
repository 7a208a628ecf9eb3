import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
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

const MODEL = path.join(__dirname, 'fixtures', 'sd1-tiny');

test('generate writes the PNG, the fingerprint and a JSON summary, creating the output folder', () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'da-cli-')), 'new', 'out');
  const r = cli(['generate', 'a red circle', '--model', MODEL, '--steps', '4', '--seed', '5', '--width', '16', '--height', '16',
    '--batch-size', '2', '--out', `${dir}/`, '--capture', path.join(dir, 'fp.png'), '--tgate-gate-step', '2', '--afm-strength', '0.3',
    '--guidance', 'gag', '--guidance-attn-scale', '2', '--scheduler', 'euler', '--karras', '--json']);
  assert.is(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.images.map((i: { seed: number }) => i.seed), [5, 6]);
  assert.equal(fs.readdirSync(dir).sort(), ['5.png', '6.png', 'fp.png']);
  assert.equal(summary.options.tgate, { gateStep: 2 });
  assert.equal(summary.options.attentionGuidance, { kind: 'gag', scale: 2 });
  assert.is(summary.options.scheduler, 'euler');
  assert.is(summary.options.karras, true);
  assert.ok(fs.readFileSync(path.join(dir, 'fp.png')).subarray(1, 4).toString() === 'PNG');
});

test('generate maps every method flag onto generate() options', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'da-cli-'));
  const r = cli(['generate', 'a red circle', '--model', MODEL, '--steps', '4', '--seed', '1', '--width', '16', '--height', '16',
    '--negative-prompt', 'blue', '--guidance-scale', '3', '--afm-schedule', 'hf-only', '--afm-entropy-gate', '--afm-layers', 'all',
    '--tgate-gate-step', '3', '--tgate-warm-up', '1', '--tgate-sp-interval', '2', '--tgate-fi-interval', '2',
    '--guidance', 'pag', '--device', 'cpu', '--out', path.join(dir, 'x.png'), '--json']);
  assert.is(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout).options;
  assert.equal(o.afm, { schedule: 'hf-only', entropyGate: true, layers: 'all' });
  assert.equal(o.tgate, { gateStep: 3, warmUp: 1, spInterval: 2, fiInterval: 2 });
  assert.equal(o.attentionGuidance, { kind: 'pag' });
  assert.is(o.negativePrompt, 'blue');
  assert.is(o.guidanceScale, 3);
  assert.ok(fs.existsSync(path.join(dir, 'x.png')));
  const nag = cli(['generate', 'x', '--model', MODEL, '--steps', '2', '--width', '16', '--height', '16', '--guidance', 'nag',
    '--afm-layers', 'down_blocks.0.attentions.0.transformer_blocks.0.attn2', '--out', path.join(dir, 'y.png'), '--json']);
  assert.is(nag.status, 0, nag.stderr);
  assert.equal(JSON.parse(nag.stdout).options.afm, { layers: ['down_blocks.0.attentions.0.transformer_blocks.0.attn2'] });
});

test('generate: bad arguments exit 2 with a help hint; a missing model exits 1 and writes nothing', () => {
  for (const args of [['--steps', 'x'], ['--width', '15'], ['--scheduler', 'plms'], ['--guidance-attn-scale', '2'], ['--device', 'cpu', '--dtype', 'float16']]) {
    const r = cli(['generate', 'x', '--model', MODEL, ...args]);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  assert.match(cli(['generate', 'x', '--model', MODEL, '--width', '15']).stderr, /--help/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'da-cli-'));
  const r = cli(['generate', 'x', '--model', path.join(dir, 'nope'), '--out', path.join(dir, 'x.png')]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /E_MODEL_FORMAT/);
  assert.equal(fs.readdirSync(dir), []);
});

test('generate --device cuda without CUDA exits 1 with E_NO_CUDA and the reason', () => {
  const info = JSON.parse(cli(['info', '--json']).stdout) as { backend: string; reason?: string };
  if (info.backend === 'cuda') return console.log('cli.test.ts: CUDA is available, so --device cuda cannot fail here');
  const r = cli(['generate', 'x', '--model', MODEL, '--device', 'cuda']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /E_NO_CUDA/);
  assert.match(r.stderr, info.reason!);
});

test.run();
