import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import sharp from 'sharp';

import { loadPrompts } from '../ts/eval/prompts.js';
import { writeReport } from '../ts/eval/report.js';
import { computeResults, type EvalResults } from '../ts/eval/results.js';
import { balancedOrder, runEvaluation, type EvalRun } from '../ts/eval/runner.js';
import { FULL, QUICK } from '../ts/eval/settings.js';

// Wiring of the harness on the tiny fixture model (random weights, 16x16 pictures: meaningless, so
// no accuracy is expected): every setting runs, pictures pair up by prompt and seed, results and
// the report are complete. Two prompts, one seed, 4 steps: well under a second of model time.
const MODEL = path.join(__dirname, 'fixtures', 'sd1-tiny');
let run: EvalRun;
let results: EvalResults;
let out: string;

const wiring = suite('eval runner: wiring on sd1-tiny');
wiring.before(async () => {
  const file = loadPrompts();
  const prompts = [file.sets['one-seen'][0]!, file.sets['two-held-out'][0]!];
  run = await runEvaluation({ model: MODEL, prompts: { grammar: file.grammar, prompts }, seeds: 1, steps: 4, seed: 5, settings: FULL.settings, groundTruth: false });
  results = computeResults(run);
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-wiring-'));
});
wiring.after(() => fs.rmSync(out, { recursive: true, force: true }));

wiring('every setting makes one picture per prompt and seed, seeded seed + index, judged', () => {
  assert.equal(run.runs.map((r) => r.setting.id), FULL.settings.map((s) => s.id));
  for (const r of run.runs) {
    assert.is(r.records.length, 2, r.setting.id);
    assert.equal(r.records.map((x) => [x.promptIndex, x.seed]), [[0, 5], [1, 6]]);
    assert.equal(r.records.map((x) => [x.image.width, x.image.height]), [[16, 16], [16, 16]]);
    for (const x of r.records) assert.type(x.verdict.correct, 'boolean');
    assert.is(r.calls.length, 1);
    assert.ok(r.calls[0]!.ms > 0);
    assert.is(r.captures.length, r.setting.capture ? 1 : 0);
  }
  assert.is(run.steps, 4);
  assert.is((run.defaults as { steps: number }).steps, 4);
});

wiring('the guidance scale, rescale and sampler options reach every generate() call', async () => {
  const file = loadPrompts();
  const plain = FULL.settings.filter((s) => s.id === 'plain');
  const one = await runEvaluation({
    model: MODEL, prompts: { grammar: file.grammar, prompts: [file.sets['one-seen'][0]!] }, seeds: 1, steps: 2, settings: plain,
    groundTruth: false, guidanceScale: 2, guidanceRescale: 0.5, scheduler: 'euler',
  });
  assert.equal(one.defaults, { steps: 2, guidanceScale: 2, guidanceRescale: 0.5, scheduler: 'euler', width: 16, height: 16, batchSize: 1 });
});

wiring('results: every method paired with plain, AFM curves and edit split, targets', () => {
  const ids = results.settings.map((s) => s.id);
  assert.not.ok(ids.includes('plain-capture'), 'the capture rerun is not a setting of its own');
  for (const s of results.settings.filter((x) => x.family !== 'plain')) {
    assert.is(s.vsPlain!.images, 2, s.id);
    assert.ok(Number.isFinite(s.vsPlain!.speedup), s.id);
    assert.is(s.alignment.all!.correct.n, 2);
  }
  const afm = results.afm!;
  assert.is(afm.captureUnchanged, true, 'capture changed the pictures');
  assert.equal(Object.keys(afm.hfRatio!.curves), ['plain-capture', 'afm', 'afm-gated']);
  for (const c of Object.values(afm.hfRatio!.curves)) {
    assert.is(c.all.length, 4);
    for (const v of c.all) assert.ok(v >= 0 && v <= 1, String(v));
  }
  assert.equal(Object.keys(afm.edit), ['afm', 'afm-gated']);
  assert.is(afm.edit.afm!.pairs, 2);
  assert.is(results.targets.length, 9);
  assert.is(results.pictures.length, 2 * (FULL.settings.length - 1));
});

wiring('report: results.json, report.md, a grid per setting, the HF-ratio chart and fingerprints', async () => {
  const files = await writeReport(run, results, out, 'diffusion-attention eval (test)');
  const names = files.map((f) => path.relative(out, f)).sort();
  for (const s of FULL.settings.filter((x) => x.id !== 'plain-capture')) assert.ok(names.includes(path.join('grids', `${s.id}.png`)), s.id);
  for (const n of ['results.json', 'report.md', 'hf-ratio.png', 'fingerprint-plain-capture.png', 'fingerprint-afm.png', 'fingerprint-afm-gated.png']) assert.ok(names.includes(n), n);
  const json = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
  assert.is(json.command, 'diffusion-attention eval (test)');
  const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
  for (const heading of ['## Targets', '## Prompt alignment', '## AFM', '## T-GATE', '## Attention-space guidance']) assert.ok(md.includes(heading), heading);
  const meta = await sharp(path.join(out, 'grids', 'plain.png')).metadata();
  assert.is(meta.format, 'png');
});

const config = suite('eval runner: configuration');

config('the balanced order takes one prompt per group in turn, and scopes are prefixes', () => {
  const file = loadPrompts();
  const order = balancedOrder(file, 3);
  assert.equal(order.map((p) => p.group), ['one-seen', 'one-held-out', 'two-seen', 'two-held-out', 'one-seen', 'one-held-out', 'two-seen', 'two-held-out', 'one-seen', 'one-held-out', 'two-seen', 'two-held-out']);
  for (const preset of [FULL, QUICK]) {
    const s = preset.size;
    assert.ok(s.spectralPerGroup <= s.methodsPerGroup && s.methodsPerGroup <= s.perGroup);
    assert.ok(s.perGroup <= Math.min(...Object.values(file.sets).map((x) => x.length)), 'the prompt file has enough prompts');
    assert.ok(preset.settings.some((x) => x.id === 'tgate-10') && preset.settings.some((x) => x.id === 'afm'));
  }
});

config('the command rejects bad options with exit code 2 before loading a model', () => {
  const cli = path.join(__dirname, '..', 'ts', 'cli', 'index.ts');
  const r = spawnSync(process.execPath, ['--import', 'tsx', cli, 'eval', '--seeds', '0'], { encoding: 'utf8' });
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /positive integer/);
});

wiring.run();
config.run();
