/**
 * `diffusion-attention generate "<prompt>" [options]`: the options of `pipe.generate()` in kebab
 * case, a progress bar on a terminal (cli-progress) or plain lines otherwise, PNG files written
 * atomically, an optional fingerprint picture and a JSON summary.
 */
import fs from 'node:fs';
import path from 'node:path';

import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';

import { DiffusionAttentionError } from '../errors.js';
import { UsageError } from './usage-error.js';
import { SCHEDULER_KINDS, type SchedulerKind } from '../schedulers/index.js';
import { fingerprintPng } from '../pipeline/fingerprint.js';
import { loadPipeline } from '../pipeline/load.js';
import type { AttentionGuidanceOptions, GenerateOptions, GenerateProgress, LayerSelection } from '../pipeline/options.js';

function number(kind: 'int' | 'float') {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`expected ${kind === 'int' ? 'an integer' : 'a number'}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

function layerList(value: string): LayerSelection {
  return ['down', 'mid', 'up', 'all'].includes(value) ? (value as LayerSelection) : value.split(',').map((s) => s.trim()).filter(Boolean);
}

interface Flags {
  negativePrompt?: string;
  model?: string;
  config?: string;
  tokenizer?: string;
  predictionType?: 'epsilon' | 'v_prediction';
  width?: number;
  height?: number;
  steps?: number;
  guidanceScale?: number;
  guidanceRescale?: number;
  seed?: number;
  scheduler?: SchedulerKind;
  karras?: boolean;
  batchSize?: number;
  out?: string;
  afmStrength?: number;
  afmSchedule?: 'curve' | 'constant' | 'lf-only' | 'hf-only';
  afmEntropyGate?: boolean;
  afmLayers?: LayerSelection;
  tgateGateStep?: number;
  tgateWarmUp?: number;
  tgateSpInterval?: number;
  tgateFiInterval?: number;
  guidance?: 'gag' | 'nag' | 'pag';
  guidanceAttnScale?: number;
  capture?: string;
  device: 'auto' | 'cpu' | 'cuda';
  dtype?: 'float32' | 'float16' | 'bfloat16';
  json?: boolean;
}

/** The output path of image i of n: `out` as a file (suffixed -i for a batch) or a folder. */
function outputPath(out: string | undefined, seed: number, i: number, n: number): string {
  const target = out ?? '.';
  const isDir = target.endsWith(path.sep) || target.endsWith('/') || (fs.existsSync(target) && fs.statSync(target).isDirectory());
  if (isDir) return path.join(target, `${seed}.png`);
  if (n === 1) return target;
  const ext = path.extname(target) || '.png';
  return `${target.slice(0, target.length - path.extname(target).length)}-${i}${ext}`;
}

function options(prompt: string, f: Flags): GenerateOptions {
  const o: GenerateOptions = { prompt };
  if (f.negativePrompt !== undefined) o.negativePrompt = f.negativePrompt;
  for (const k of ['width', 'height', 'steps', 'guidanceScale', 'guidanceRescale', 'seed', 'scheduler', 'karras', 'batchSize'] as const) {
    if (f[k] !== undefined) (o as unknown as Record<string, unknown>)[k] = f[k];
  }
  if (f.afmStrength !== undefined || f.afmSchedule || f.afmEntropyGate || f.afmLayers) {
    o.afm = {
      ...(f.afmStrength !== undefined ? { strength: f.afmStrength } : {}),
      ...(f.afmSchedule ? { schedule: f.afmSchedule } : {}),
      ...(f.afmEntropyGate ? { entropyGate: true } : {}),
      ...(f.afmLayers ? { layers: f.afmLayers } : {}),
    };
  }
  if ([f.tgateGateStep, f.tgateWarmUp, f.tgateSpInterval, f.tgateFiInterval].some((v) => v !== undefined)) {
    o.tgate = {
      ...(f.tgateGateStep !== undefined ? { gateStep: f.tgateGateStep } : {}),
      ...(f.tgateWarmUp !== undefined ? { warmUp: f.tgateWarmUp } : {}),
      ...(f.tgateSpInterval !== undefined ? { spInterval: f.tgateSpInterval } : {}),
      ...(f.tgateFiInterval !== undefined ? { fiInterval: f.tgateFiInterval } : {}),
    };
  }
  if (f.guidance) {
    o.attentionGuidance = { kind: f.guidance, ...(f.guidanceAttnScale !== undefined ? { scale: f.guidanceAttnScale } : {}) } as AttentionGuidanceOptions;
  } else if (f.guidanceAttnScale !== undefined) {
    throw new DiffusionAttentionError('E_INVALID_ARGUMENT', '--guidance-attn-scale needs --guidance gag|nag|pag');
  }
  if (f.capture) o.capture = {};
  return o;
}

/** Progress on stderr: a bar on a terminal, one line per model call otherwise; silent with --json. */
function reporter(json: boolean): { update(p: GenerateProgress): void; stop(): void } {
  if (json) return { update() {}, stop() {} };
  if (process.stderr.isTTY) {
    const bar = new SingleBar({ format: '{phase} [{bar}] {value}/{total} calls | {elapsed}s | ETA {eta_s}s', stream: process.stderr, hideCursor: true });
    let started = false;
    return {
      update(p) {
        const payload = { phase: p.phase.padEnd(7), elapsed: (p.elapsedMs / 1e3).toFixed(1), eta_s: (p.etaMs / 1e3).toFixed(1) };
        if (!started) bar.start(p.steps, p.step, payload);
        else bar.update(p.step, payload);
        started = true;
      },
      stop: () => bar.stop(),
    };
  }
  return {
    update(p) {
      if (p.phase === 'denoise' && p.step > 0) console.error(`step ${p.step}/${p.steps} (${(p.elapsedMs / 1e3).toFixed(1)} s, ETA ${(p.etaMs / 1e3).toFixed(1)} s)`);
      else if (p.phase !== 'denoise') console.error(`${p.phase}...`);
    },
    stop() {},
  };
}

export function generateCommand(): Command {
  return new Command('generate')
    .description('generate images from a prompt (the embedded default model unless --model is given)')
    .argument('<prompt>', 'the prompt')
    .option('--negative-prompt <text>', 'the unconditional branch\'s prompt')
    .option('--model <dir|file>', 'a diffusers model folder or a single-file .safetensors checkpoint')
    .option('--config <dir>', 'for a single-file checkpoint: a diffusers folder with its configs and tokenizer')
    .option('--tokenizer <dir>', 'a tokenizer folder (tokenizer.json, or vocab.json + merges.txt), e.g. for a single file')
    .addOption(new Option('--prediction-type <type>', 'override the model\'s prediction type (SD 2.x single files: 768-v or 512-base)').choices(['epsilon', 'v_prediction']))
    .option('--width <px>', 'image width (a multiple of the model\'s size step)', number('int'))
    .option('--height <px>', 'image height', number('int'))
    .option('--steps <n>', 'model calls (default: the model\'s generation_config.json, else 25)', number('int'))
    .option('--guidance-scale <w>', 'classifier-free guidance scale (default: the model\'s generation_config.json, else 7.5; <= 1 disables it)', number('float'))
    .option('--guidance-rescale <phi>', 'rescaled guidance phi in [0, 1] (Lin et al. 2024; default: the model\'s generation_config.json, else 0)', number('float'))
    .option('--seed <n>', 'seed; image i of a batch uses seed + i (default random)', number('int'))
    .addOption(new Option('--scheduler <kind>', 'sampler (default: the model\'s)').choices([...SCHEDULER_KINDS]))
    .option('--karras', 'Karras sigmas (euler, euler-ancestral, dpmpp-2m)')
    .option('--batch-size <n>', 'images per prompt (default 1)', number('int'))
    .option('--out <file|dir>', 'output PNG file, or a folder for <seed>.png files (default: ./<seed>.png)')
    .option('--afm-strength <s>', 'AFM strength s_AFM (default 0.2 when any --afm-* is given)', number('float'))
    .addOption(new Option('--afm-schedule <kind>', 'AFM band schedule').choices(['curve', 'constant', 'lf-only', 'hf-only']))
    .option('--afm-entropy-gate', 'gate the AFM gains by token-allocation entropy')
    .option('--afm-layers <set>', 'AFM layers: down, mid, up, all, or comma-separated attn2 names', layerList)
    .option('--tgate-gate-step <n>', 'T-GATE gate step (enables T-GATE; default 10)', number('int'))
    .option('--tgate-warm-up <n>', 'T-GATE warm-up calls', number('int'))
    .option('--tgate-sp-interval <n>', 'T-GATE self-attention interval before the gate', number('int'))
    .option('--tgate-fi-interval <n>', 'T-GATE self-attention interval after the gate', number('int'))
    .addOption(new Option('--guidance <kind>', 'attention-space guidance').choices(['gag', 'nag', 'pag']))
    .option('--guidance-attn-scale <s>', 'scale of the attention guidance', number('float'))
    .option('--capture <png>', 'also draw the attention time-frequency fingerprint to this PNG')
    .addOption(new Option('--device <device>', 'where to run (auto: the CPU; cuda is opt-in, see loadPipeline)').choices(['auto', 'cpu', 'cuda']).default('auto'))
    .addOption(new Option('--dtype <dtype>', 'compute dtype (CPU: float32; CUDA default float16)').choices(['float32', 'float16', 'bfloat16']))
    .option('--json', 'print a JSON summary on stdout instead of progress')
    .action(async (prompt: string, f: Flags) => {
      // Option errors (found by options() and by generate()'s validation) are usage errors: exit 2.
      const usage = (err: unknown): never => {
        if (err instanceof DiffusionAttentionError && err.code === 'E_INVALID_ARGUMENT') throw new UsageError('generate', err.message, { cause: err });
        throw err;
      };
      let request: GenerateOptions;
      try {
        request = options(prompt, f);
      } catch (err) {
        usage(err);
      }
      const pipe = await loadPipeline(f.model, {
        device: f.device,
        ...(f.dtype ? { dtype: f.dtype } : {}),
        ...(f.config ? { config: f.config } : {}),
        ...(f.tokenizer ? { tokenizer: f.tokenizer } : {}),
        ...(f.predictionType ? { predictionType: f.predictionType } : {}),
      }).catch(usage);
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.once('SIGINT', onSigint);
      const progress = reporter(!!f.json);
      try {
        const result = await pipe.generate({ ...request!, signal: controller.signal, onProgress: (p) => progress.update(p) }).catch(usage);
        progress.stop();
        const files: Array<{ path: string; seed: number }> = [];
        for (const [i, image] of result.images.entries()) {
          const file = outputPath(f.out, image.seed, i, result.images.length);
          // `--out results/` names a folder that need not exist yet.
          fs.mkdirSync(path.dirname(file), { recursive: true });
          await image.save(file);
          files.push({ path: file, seed: image.seed });
        }
        if (f.capture && result.capture) {
          const png = await fingerprintPng(result.capture, `"${prompt}"`);
          fs.mkdirSync(path.dirname(f.capture), { recursive: true });
          const tmp = `${f.capture}.${process.pid}.tmp`;
          fs.writeFileSync(tmp, png);
          fs.renameSync(tmp, f.capture);
        }
        if (f.json) {
          console.log(JSON.stringify({ images: files, timings: result.timings, options: result.options, ...(f.capture ? { capture: f.capture } : {}) }, null, 2));
        } else {
          for (const file of files) console.error(`wrote ${file.path} (seed ${file.seed})`);
          if (f.capture) console.error(`wrote ${f.capture} (attention fingerprint)`);
          console.error(`${(result.timings.totalMs / 1e3).toFixed(1)} s total, ${(result.timings.stepsMs.reduce((a, b) => a + b, 0) / 1e3).toFixed(1)} s in ${result.timings.stepsMs.length} model calls`);
        }
      } finally {
        progress.stop();
        process.removeListener('SIGINT', onSigint);
      }
    });
}
