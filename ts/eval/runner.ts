/**
 * Runs an evaluation: generates every setting's pictures (ts/eval/settings.ts) for the balanced
 * prompt order, reads them back with the detector and judges them against their captions.
 *
 * The prompts are taken one per group in turn (one object seen, one object held-out, two objects
 * seen, two held-out, then again), so every prefix is balanced, and each scope of
 * settings.ts is a prefix. A generate() call covers four consecutive prompts with all their seeds
 * (`batchSize` = seeds; image b of the call uses seed + b, so image j of prompt q always has seed
 * `base + q * seeds + j`, whatever the call it falls in). For each call the settings run one after
 * the other on the same prompts and seeds: every method's picture has a plain twin, and machine
 * load drifting over the run touches all settings alike, which keeps the timed comparison
 * (T-GATE against plain) fair on a shared machine.
 */
import fs from 'node:fs';

import { describeMachine, type Machine } from '../machine.js';
import type { GenerateResult, LayerCapture } from '../pipeline/generate.js';
import { loadPipeline } from '../pipeline/load.js';
import type { SchedulerKind } from '../schedulers/index.js';
import { detect, relationBetween, type Detection, type RgbImage } from './detector.js';
import { checkDetector, GROUND_TRUTH_DIR, type DetectorCheck } from './ground-truth.js';
import { GROUPS, loadPrompts, type Grammar, type Prompt, type PromptFile } from './prompts.js';
import { judge, type Verdict } from './scoring.js';
import { FULL, QUICK, type RunSize, type Scope, type Setting } from './settings.js';

/** Prompts per generate() call: one of each group. */
export const PROMPTS_PER_CALL = GROUPS.length;
/** Radial bins of the captured spectra: 16 puts AFM's cutoff 0.25 on a bin edge (bin 4). */
const CAPTURE_BINS = 16;

export interface EvalOptions {
  /** Model folder or file; default the embedded model. */
  model?: string;
  /** The quick run's sizes and settings instead of the full run's. */
  quick?: boolean;
  /** Seeds per prompt (overrides the run's). */
  seeds?: number;
  /** Other sizes (overrides the run's). */
  size?: Partial<RunSize>;
  /** Other settings (default: the run's). */
  settings?: Setting[];
  /** The prompt file (default: the one shipped with the embedded model), or prompts to run as given. */
  prompts?: string | { grammar: Grammar; prompts: Prompt[] };
  /** Model calls per picture, default 25. */
  steps?: number;
  /** Classifier-free guidance scale of every setting (default: generate()'s, i.e. the model's own default). */
  guidanceScale?: number;
  /** Rescaled guidance phi of every setting (default: generate()'s, i.e. the model's own default). */
  guidanceRescale?: number;
  /** Sampler of every setting (default: generate()'s, i.e. the model's own scheduler). */
  scheduler?: SchedulerKind;
  /** Seed of the first picture, default 0. */
  seed?: number;
  /** The ground-truth folder for the detector check; default the repository's fixture when present; false skips it. */
  groundTruth?: string | false;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** One generated picture, read back and judged. */
export interface ImageRecord {
  promptIndex: number;
  prompt: Prompt;
  seed: number;
  image: RgbImage;
  detection: Detection;
  verdict: Verdict;
}

/** Everything one setting produced. */
export interface SettingRun {
  setting: Setting;
  /** In prompt order, seeds in order within a prompt. */
  records: ImageRecord[];
  /** Per generate() call: its index, pictures and end-to-end time (generate()'s totalMs). */
  calls: Array<{ call: number; images: number; ms: number }>;
  /** Per call, the captured spectra (settings with capture only). */
  captures: Array<{ call: number; capture: NonNullable<GenerateResult['capture']> }>;
}

export interface EvalRun {
  machine: Machine;
  model: string;
  quick: boolean;
  steps: number;
  seed: number;
  size: RunSize;
  /** What generate() resolved for the plain run: steps, guidance scale and rescale, scheduler, picture size, batch size (seeds). */
  defaults: Record<string, unknown>;
  grammar: Grammar;
  /** The evaluated prompts in run order; scopes are prefixes: `scopes[s]` prompts. */
  prompts: Prompt[];
  scopes: Record<Scope, number>;
  runs: SettingRun[];
  detector: DetectorCheck | null;
  wallSeconds: number;
}

/** Prompts one per group in turn, `perGroup` of each (fewer where a group has fewer). */
export function balancedOrder(file: PromptFile, perGroup: number): Prompt[] {
  const out: Prompt[] = [];
  for (let i = 0; i < perGroup; i++) for (const g of GROUPS) if (file.sets[g][i]) out.push(file.sets[g][i]!);
  return out;
}

function seconds(ms: number): string {
  return ms < 60e3 ? `${(ms / 1e3).toFixed(1)} s` : `${Math.floor(ms / 60e3)} min ${Math.round((ms % 60e3) / 1e3)} s`;
}

/**
 * Runs the evaluation; see the module comment. Aborting stops at the next model call and rejects
 * with the signal's reason.
 */
export async function runEvaluation(options: EvalOptions = {}): Promise<EvalRun> {
  const t0 = performance.now();
  const log = options.log ?? (() => {});
  const preset = options.quick ? QUICK : FULL;
  const size: RunSize = { ...preset.size, ...options.size, ...(options.seeds !== undefined ? { seeds: options.seeds } : {}) };
  if (!Number.isInteger(size.seeds) || size.seeds < 1) throw new RangeError(`seeds must be a positive integer, got ${size.seeds}`);
  const settings = options.settings ?? preset.settings;
  const steps = options.steps ?? 25;
  const base = options.seed ?? 0;

  let grammar: Grammar;
  let prompts: Prompt[];
  if (typeof options.prompts === 'object') {
    ({ grammar, prompts } = options.prompts);
  } else {
    const file = loadPrompts(options.prompts);
    grammar = file.grammar;
    prompts = balancedOrder(file, size.perGroup);
  }
  const scopes: Record<Scope, number> = {
    all: prompts.length,
    methods: Math.min(prompts.length, GROUPS.length * size.methodsPerGroup),
    spectral: Math.min(prompts.length, GROUPS.length * size.spectralPerGroup),
  };

  const pipe = await loadPipeline(options.model);
  const groundTruth = options.groundTruth ?? (fs.existsSync(GROUND_TRUTH_DIR) ? GROUND_TRUTH_DIR : false);
  const detector = groundTruth ? await checkDetector(grammar, groundTruth) : null;
  if (detector) {
    log(`detector on ${detector.images} ground-truth pictures: colour ${(100 * detector.colour.rate).toFixed(1)}%, shape ${(100 * detector.shape.rate).toFixed(1)}%, ` +
      `count ${(100 * detector.count.rate).toFixed(1)}%, position/relation ${(100 * detector.place.rate).toFixed(1)}%`);
  }
  const runs: SettingRun[] = settings.map((setting) => ({ setting, records: [], calls: [], captures: [] }));
  let defaults: Record<string, unknown> = {};
  try {
    // Warm-up, not recorded: maps the weights in and starts the native thread pool, which would
    // otherwise land on the first timed call (the plain run's) and flatter every comparison with it.
    await pipe.generate({ prompt: prompts[0]?.text ?? '', steps: 2, seed: base, ...(options.signal ? { signal: options.signal } : {}) });
    const calls = Math.ceil(prompts.length / PROMPTS_PER_CALL);
    for (let call = 0; call < calls; call++) {
      const start = call * PROMPTS_PER_CALL;
      const chunk = prompts.slice(start, start + PROMPTS_PER_CALL);
      const line: string[] = [];
      for (const run of runs) {
        const limit = scopes[run.setting.scope];
        if (start >= limit) continue;
        const mine = chunk.slice(0, limit - start);
        const result = await pipe.generate({
          prompt: mine.map((p) => p.text),
          batchSize: size.seeds,
          seed: base + start * size.seeds,
          steps,
          ...(options.guidanceScale !== undefined ? { guidanceScale: options.guidanceScale } : {}),
          ...(options.guidanceRescale !== undefined ? { guidanceRescale: options.guidanceRescale } : {}),
          ...(options.scheduler !== undefined ? { scheduler: options.scheduler } : {}),
          ...run.setting.options,
          ...(run.setting.capture ? { capture: { layers: 'down', bins: CAPTURE_BINS } } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
        if (run.setting.family === 'plain' && !run.setting.capture) {
          const o = result.options;
          defaults = { steps: o.steps, guidanceScale: o.guidanceScale, guidanceRescale: o.guidanceRescale, scheduler: o.scheduler, width: o.width, height: o.height, batchSize: o.batchSize };
        }
        result.images.forEach((img, i) => {
          const image = img.raw();
          const promptIndex = start + Math.floor(i / size.seeds);
          const prompt = prompts[promptIndex]!;
          const detection = detect(image, grammar);
          const verdict = judge(prompt.spec, detection, (a, b) => relationBetween(grammar, image, a, b));
          run.records.push({ promptIndex, prompt, seed: img.seed, image, detection, verdict });
        });
        run.calls.push({ call, images: result.images.length, ms: result.timings.totalMs });
        if (result.capture) run.captures.push({ call, capture: result.capture });
        line.push(`${run.setting.id} ${seconds(result.timings.totalMs)}`);
      }
      const elapsed = performance.now() - t0;
      // ETA: each setting's mean time per call so far, over the calls it still has to make.
      const left = runs.reduce((sum, r) => {
        const remaining = Math.max(0, Math.ceil(scopes[r.setting.scope] / PROMPTS_PER_CALL) - r.calls.length);
        const mean = r.calls.length ? r.calls.reduce((s, c) => s + c.ms, 0) / r.calls.length : 0;
        return sum + remaining * mean;
      }, 0);
      log(`call ${call + 1}/${calls}: ${line.join(', ')} (elapsed ${seconds(elapsed)}, about ${seconds(left)} left)`);
    }
  } finally {
    await pipe.close();
  }
  return {
    machine: describeMachine(),
    model: pipe.source.path,
    quick: !!options.quick,
    steps,
    seed: base,
    size,
    defaults,
    grammar,
    prompts,
    scopes,
    runs,
    detector,
    wallSeconds: (performance.now() - t0) / 1e3,
  };
}

/** The mean of several calls' captures, layer by layer and step by step (NaN entries skipped). */
export function mergeCaptures(captures: ReadonlyArray<NonNullable<GenerateResult['capture']>>): NonNullable<GenerateResult['capture']> | undefined {
  if (!captures.length) return undefined;
  const steps = captures[0]!.steps;
  const layers: LayerCapture[] = captures[0]!.layers.map((first) => {
    const sum = new Float64Array(first.spectra.length);
    const count = new Float64Array(first.spectra.length);
    for (const c of captures) {
      const l = c.layers.find((x) => x.name === first.name)!;
      l.spectra.forEach((v, i) => {
        if (!Number.isNaN(v)) {
          sum[i] += v;
          count[i]++;
        }
      });
    }
    return { name: first.name, grid: first.grid, bins: first.bins, spectra: Float32Array.from(sum, (s, i) => (count[i] ? s / count[i]! : NaN)) };
  });
  return { steps, layers };
}
