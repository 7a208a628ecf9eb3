/**
 * From a run's pictures and verdicts to the numbers the report prints and results.json keeps:
 * alignment per setting with Wilson intervals, each method paired with the plain run on the same
 * prompts and seeds, AFM's HF-ratio curves and image-level edit split (reference/afm.md §3, §11),
 * T-GATE's end-to-end speed-up (reference/tgate.md §7), and the targets met or missed.
 */
import type { GenerateOptions } from '../pipeline/options.js';
import { bandEnergy, hfCurve, highBandShare } from './frequency.js';
import type { Prompt } from './prompts.js';
import { mergeCaptures, PROMPTS_PER_CALL, type EvalRun, type ImageRecord, type SettingRun } from './runner.js';
import { pairedChange, summarize, wilson, type Attribute, type Rate, type Summary } from './scoring.js';
import type { Scope, Setting } from './settings.js';

/** AFM's cutoff radius (afm.md §5, the default of generate()'s `afm.cutoff`). */
export const AFM_CUTOFF = 0.25;

export interface Paired {
  /** Change of the rate in percentage points (setting minus plain). */
  points: number;
  /** Pictures right in the plain run only, and in the setting only. */
  onlyPlain: number;
  onlySetting: number;
  n: number;
}

export interface SettingResult {
  id: string;
  label: string;
  family: Setting['family'];
  options: Partial<GenerateOptions>;
  scope: Scope;
  images: number;
  /** End-to-end generate() time over all calls, and per picture. */
  ms: { total: number; perImage: number };
  alignment: Summary;
  /** Against the plain run on the same pictures (methods only). */
  vsPlain?: {
    images: number;
    change: Record<Exclude<Attribute, 'size'>, Paired>;
    /** The plain run's time on the same calls, and plain / setting. */
    plainMs: number;
    speedup: number;
  };
}

export interface EditSplit {
  /** Picture pairs compared (setting against plain, same prompt and seed). */
  pairs: number;
  /** Pairs whose pictures are identical (no change to split). */
  unchanged: number;
  /** Changed pairs whose difference has more energy at or above the cutoff than below (the paper: 78%). */
  highExceedsLow: Rate;
  /** Mean share of the difference's energy at or above the cutoff. */
  meanHighShare: number;
  /** The same comparison per frequency: mean energy per high frequency above mean energy per low frequency. */
  highExceedsLowPerFrequency: Rate;
}

export interface HfCurves {
  /** Calls per picture. */
  steps: number;
  /** Pictures the spectra average over (per setting). */
  images: number;
  /** Per setting id: the HF ratio per call over all captured layers, and per grid ("16x16"). */
  curves: Record<string, { all: number[]; byGrid: Record<string, number[]>; lateMean: number }>;
}

export interface Target {
  name: string;
  goal: string;
  value: string;
  /** null when the run has no data for it (a setting left out). */
  met: boolean | null;
}

/** The run's own description (machine, model, sizes, detector check, time), then what was measured. */
export interface EvalResults extends Pick<EvalRun, 'machine' | 'model' | 'quick' | 'steps' | 'seed' | 'size' | 'defaults' | 'scopes' | 'detector' | 'wallSeconds'> {
  settings: SettingResult[];
  afm: {
    cutoff: number;
    hfRatio: HfCurves | null;
    /** Per AFM setting, the image-level edit split against plain. */
    edit: Record<string, EditSplit>;
    /** The share of the picture's frequencies at or above the cutoff: the split of a spectrally flat change. */
    flatHighShare: number;
    /** Whether the plain run with capture made exactly the plain run's pictures (capture must only read). */
    captureUnchanged: boolean | null;
  } | null;
  targets: Target[];
  prompts: Array<Pick<Prompt, 'text' | 'group'>>;
  /** Every picture: setting, prompt index, seed, verdict and what the detector read. */
  pictures: Array<{ setting: string; prompt: number; seed: number; verdict: ImageRecord['verdict']; objects: string[] }>;
}

const key = (r: ImageRecord) => `${r.promptIndex}/${r.seed}`;

/** The settings reported on their own: all but the plain run repeated with capture (its pictures are the plain run's). */
function reported(run: EvalRun): SettingRun[] {
  return run.runs.filter((r) => !(r.setting.family === 'plain' && r.setting.capture));
}

/** Whether the plain-with-capture pictures equal the plain pictures of the same prompts and seeds; null without both. */
function captureUnchanged(run: EvalRun, plain: SettingRun): boolean | null {
  const captured = run.runs.find((r) => r.setting.family === 'plain' && r.setting.capture);
  if (!captured?.records.length) return null;
  const twins = new Map(plain.records.map((p) => [key(p), p]));
  return captured.records.every((x) => {
    const t = twins.get(key(x));
    return !!t && Buffer.from(t.image.data).equals(Buffer.from(x.image.data));
  });
}

/** The plain run's records (without capture): the reference of every comparison. */
function plainRun(run: EvalRun): SettingRun | undefined {
  return run.runs.find((r) => r.setting.family === 'plain' && !r.setting.capture);
}

function compare(plain: SettingRun, r: SettingRun): SettingResult['vsPlain'] {
  const twins = new Map(plain.records.map((p) => [key(p), p]));
  const mine = r.records.filter((x) => twins.has(key(x)));
  const theirs = mine.map((x) => twins.get(key(x))!);
  const change = {} as Record<Exclude<Attribute, 'size'>, Paired>;
  for (const a of ['correct', 'colour', 'shape', 'place', 'count'] as const) {
    const p = pairedChange(theirs.map((x) => x.verdict), mine.map((x) => x.verdict), a);
    change[a] = { points: p.points, onlyPlain: p.onlyA, onlySetting: p.onlyB, n: p.n };
  }
  const calls = new Set(r.calls.map((c) => c.call));
  const plainMs = plain.calls.filter((c) => calls.has(c.call)).reduce((s, c) => s + c.ms, 0);
  const ms = r.calls.reduce((s, c) => s + c.ms, 0);
  return { images: mine.length, change, plainMs, speedup: plainMs / ms };
}

/**
 * The edit split of afm.md §11 with energy in place of LPIPS: for each picture pair, the 2-D DFT
 * energy of the difference (setting minus plain, RGB in [0, 1]) below and at or above the cutoff.
 */
function editSplit(plain: SettingRun, r: SettingRun, cutoff: number): EditSplit {
  const twins = new Map(plain.records.map((p) => [key(p), p]));
  let pairs = 0;
  let unchanged = 0;
  let exceeds = 0;
  let exceedsPerFrequency = 0;
  let shareSum = 0;
  let changed = 0;
  let highShare: number | undefined;
  for (const x of r.records) {
    const twin = twins.get(key(x));
    if (!twin) continue;
    pairs++;
    const { width, height } = x.image;
    const diff = Float64Array.from(x.image.data, (v, i) => (v - twin.image.data[i]!) / 255);
    if (diff.every((v) => v === 0)) {
      unchanged++;
      continue;
    }
    changed++;
    const e = bandEnergy(diff, width, height, 3, cutoff);
    highShare ??= highBandShare(width, height, cutoff);
    exceeds += +(e.high > e.low);
    exceedsPerFrequency += +(e.high / highShare > e.low / (1 - highShare));
    shareSum += e.high / (e.high + e.low);
  }
  return {
    pairs,
    unchanged,
    highExceedsLow: wilson(exceeds, changed),
    meanHighShare: changed ? shareSum / changed : NaN,
    highExceedsLowPerFrequency: wilson(exceedsPerFrequency, changed),
  };
}

/** HF-ratio curves of the capturing settings over the spectral scope's calls. */
function hfCurves(run: EvalRun, cutoff: number): HfCurves | null {
  const capturing = run.runs.filter((r) => r.setting.capture && r.captures.length);
  if (!capturing.length) return null;
  const spectralCalls = Math.ceil(run.scopes.spectral / PROMPTS_PER_CALL);
  const curves: HfCurves['curves'] = {};
  for (const r of capturing) {
    const merged = mergeCaptures(r.captures.filter((c) => c.call < spectralCalls).map((c) => c.capture));
    if (!merged) continue;
    const all = Array.from(hfCurve(merged.layers, merged.steps, cutoff));
    const byGrid: Record<string, number[]> = {};
    for (const grid of new Set(merged.layers.map((l) => `${l.grid[0]}x${l.grid[1]}`))) {
      byGrid[grid] = Array.from(hfCurve(merged.layers.filter((l) => `${l.grid[0]}x${l.grid[1]}` === grid), merged.steps, cutoff));
    }
    // The late half of denoising, where the paper reads the HF ratio ([S1] in afm.md §3).
    const late = all.slice(Math.floor(all.length / 2)).filter((v) => !Number.isNaN(v));
    curves[r.setting.id] = { all, byGrid, lateMean: late.reduce((s, v) => s + v, 0) / late.length };
  }
  return { steps: run.steps, images: run.scopes.spectral * run.size.seeds, curves };
}

const pct = (r: Rate | undefined) => (r && r.n ? `${(100 * r.rate).toFixed(1)}% (${r.k}/${r.n})` : 'n/a');

function targets(settings: SettingResult[], afm: EvalResults['afm']): Target[] {
  const plain = settings.find((s) => s.family === 'plain');
  const a = plain?.alignment;
  const at = (subset: string, attr: Attribute, goal: number, name: string): Target => {
    const r = a?.[subset]?.[attr];
    return { name, goal: `>= ${goal}%`, value: pct(r), met: r && r.n ? 100 * r.rate >= goal : null };
  };
  const tg = settings.find((s) => s.id === 'tgate-10');
  const am = settings.find((s) => s.id === 'afm');
  const edit = afm?.edit['afm'];
  const within = (s: SettingResult | undefined, name: string): Target => {
    const c = s?.vsPlain?.change.correct;
    return { name, goal: 'no more than 3 points below plain', value: c ? `${c.points >= 0 ? '+' : ''}${c.points.toFixed(1)} points (n ${c.n})` : 'n/a', met: c ? c.points >= -3 : null };
  };
  return [
    at('one object, seen', 'correct', 97, 'plain: fully correct, one object, seen pairs'),
    at('one object, held-out', 'correct', 97, 'plain: fully correct, one object, held-out pairs'),
    at('two objects', 'correct', 50, 'plain: fully correct, two objects'),
    at('all', 'correct', 70, 'plain: fully correct, all prompts'),
    at('all', 'colour', 97, 'plain: colour, all prompts'),
    {
      name: 'T-GATE gate 10: end-to-end speed-up', goal: '>= 1.4x',
      value: tg?.vsPlain ? `${tg.vsPlain.speedup.toFixed(3)}x` : 'n/a', met: tg?.vsPlain ? tg.vsPlain.speedup >= 1.4 : null,
    },
    within(tg, 'T-GATE gate 10: fully correct, all prompts'),
    { name: 'AFM (default strength): high-frequency change exceeds low', goal: '>= 70% of pictures', value: pct(edit?.highExceedsLow), met: edit && edit.highExceedsLow.n ? edit.highExceedsLow.rate >= 0.7 : null },
    within(am, 'AFM (default strength): fully correct, all prompts'),
  ];
}

/** The results of a run (everything but the pictures themselves). */
export function computeResults(run: EvalRun): EvalResults {
  const plain = plainRun(run);
  const settings: SettingResult[] = reported(run).map((r) => {
    const total = r.calls.reduce((s, c) => s + c.ms, 0);
    const images = r.records.length;
    const result: SettingResult = {
      id: r.setting.id, label: r.setting.label, family: r.setting.family, options: r.setting.options, scope: r.setting.scope, images,
      ms: { total, perImage: images ? total / images : NaN }, alignment: summarize(r.records.map((x) => ({ group: x.prompt.group, verdict: x.verdict }))),
    };
    if (plain && r !== plain) result.vsPlain = compare(plain, r);
    return result;
  });
  const afmRuns = run.runs.filter((r) => r.setting.family === 'afm');
  const first = plain?.records[0]?.image;
  const afm = afmRuns.length && plain && first
    ? {
      cutoff: AFM_CUTOFF,
      hfRatio: hfCurves(run, AFM_CUTOFF),
      edit: Object.fromEntries(afmRuns.map((r) => [r.setting.id, editSplit(plain, r, AFM_CUTOFF)])),
      flatHighShare: highBandShare(first.width, first.height, AFM_CUTOFF),
      captureUnchanged: captureUnchanged(run, plain),
    }
    : null;
  return {
    machine: run.machine,
    model: run.model,
    quick: run.quick,
    steps: run.steps,
    seed: run.seed,
    size: run.size,
    defaults: run.defaults,
    scopes: run.scopes,
    detector: run.detector,
    settings,
    afm,
    targets: targets(settings, afm),
    wallSeconds: run.wallSeconds,
    prompts: run.prompts.map((p) => ({ text: p.text, group: p.group })),
    pictures: reported(run).flatMap((r) => r.records.map((x) => ({
      setting: r.setting.id, prompt: x.promptIndex, seed: x.seed, verdict: x.verdict,
      objects: x.detection.objects.map((o) => `${o.sizeWord} ${o.colour} ${o.shape} at (${o.centre.x.toFixed(1)}, ${o.centre.y.toFixed(1)})`),
    }))),
  };
}
