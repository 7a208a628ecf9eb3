/**
 * Text-to-image generation: the sampler loop over the UNet with classifier-free guidance, AFM,
 * T-GATE, GAG/NAG/PAG and capture, as diffusers' StableDiffusionPipeline runs it (latents from
 * seeded noise, `scheduler.scaleModelInput`, the guided prediction `F_u + w (F_c - F_u)`,
 * `scheduler.step`, then the VAE decode of `latents / scaling_factor`; a pixel-space model's
 * sample is the image).
 */
import { randomInt } from 'node:crypto';
import path from 'node:path';

import { DiffusionAttentionError } from '../errors.js';
import { info } from '../info.js';
import { readFloat32, toPlacement } from '../models/placement.js';
import type { UNetLayerResult } from '../models/unet.js';
import { createScheduler, defaultScheduler, GaussianRandom, parseSchedulerConfig, type SchedulerKind } from '../schedulers/index.js';
import { dtypeBytes, Tensor } from '../tensor.js';
import { GeneratedImage, toRgb } from './image.js';
import { rescaleGuidance } from './guidance-rescale.js';
import { unetActivationBytes, vaeDecodeBytes } from './memory.js';
import type { Pipeline } from './load.js';
import { parseGenerateOptions, type GenerateOptions, type ParsedGenerateOptions } from './options.js';
import { GenerationPlan, type Branch } from './plan.js';

/** The spectra one layer produced over the run (afm.md §3): the time-frequency fingerprint. */
export interface LayerCapture {
  name: string;
  grid: [number, number];
  bins: number;
  /**
   * `[steps, bins]` row-major: per model call, the radially binned power spectrum of the
   * concentration map, averaged over the conditional images; NaN rows where the layer did not run
   * (T-GATE replay).
   */
  spectra: Float32Array;
}

export interface GenerateResult {
  images: GeneratedImage[];
  timings: { textEncodeMs: number; stepsMs: number[]; decodeMs: number; totalMs: number };
  capture?: { steps: number; layers: LayerCapture[] };
  /** The options as run, defaults filled in (callbacks and the signal left out). */
  options: Omit<ParsedGenerateOptions, 'onProgress' | 'signal'> & { steps: number; guidanceScale: number; guidanceRescale: number; seed: number; batchSize: number; scheduler: SchedulerKind; width: number; height: number };
}

const SAMPLER_NAMES: Record<SchedulerKind, string> = { ddim: 'DDIM', euler: 'Euler', 'euler-ancestral': 'Euler a', 'dpmpp-2m': 'DPM++ 2M' };
const NAG_DEFAULT_NEGATIVE = 'low resolution, blurry';

function invalid(message: string): DiffusionAttentionError {
  return new DiffusionAttentionError('E_INVALID_ARGUMENT', message);
}

function list(v: string | readonly string[] | undefined, fallback: string): string[] {
  return v === undefined ? [fallback] : typeof v === 'string' ? [v] : [...v];
}

/** Rows `rows` (each `[T, D]`) of `e` `[n, T, D]` stacked into one host array. */
function gather(e: Float32Array, rowSize: number, rows: number[]): Float32Array {
  const out = new Float32Array(rows.length * rowSize);
  rows.forEach((r, i) => out.set(e.subarray(r * rowSize, (r + 1) * rowSize), i * rowSize));
  return out;
}

export async function generate(pipe: Pipeline, options: GenerateOptions): Promise<GenerateResult> {
  const t0 = performance.now();
  const o = parseGenerateOptions(options);
  const { unet, vae, textEncoder } = pipe;
  if (!textEncoder || !pipe.tokenizer) throw new DiffusionAttentionError('E_MODEL_FORMAT', `${pipe.source.path}: the model has no text encoder and tokenizer to read a prompt`);
  if (!pipe.schedulerConfig) throw new DiffusionAttentionError('E_MODEL_FORMAT', `${pipe.source.path}: the model has no scheduler/scheduler_config.json`);

  // Sizes: the VAE scales by 2^(levels-1); the UNet needs multiples of its own 2^(levels-1).
  const vaeFactor = vae ? 2 ** (vae.config.block_out_channels.length - 1) : 1;
  const step = vaeFactor * unet.sizeMultiple;
  const native = (unet.config.sample_size ?? 64) * vaeFactor;
  const width = o.width ?? native;
  const height = o.height ?? native;
  if (width % step !== 0 || height % step !== 0) throw invalid(`width and height must be multiples of ${step} for this model, got ${width}x${height}`);
  const steps = o.steps ?? pipe.defaults.steps ?? 25;
  const guidanceScale = o.guidanceScale ?? pipe.defaults.guidanceScale ?? 7.5;
  const guidanceRescale = o.guidanceRescale ?? pipe.defaults.guidanceRescale ?? 0;
  const batchSize = o.batchSize ?? 1;
  const seed = o.seed ?? randomInt(0, 2 ** 32);
  const config = parseSchedulerConfig(pipe.schedulerConfig);
  const fallback = defaultScheduler(config);
  const kind = o.scheduler ?? fallback?.kind ?? 'dpmpp-2m';
  const scheduler = createScheduler(kind, pipe.schedulerConfig, steps, o.karras === undefined ? {} : { karras: o.karras });
  const prompts = list(o.prompt, '');
  const negatives = list(o.negativePrompt, '');
  if (negatives.length !== 1 && negatives.length !== prompts.length) throw invalid(`negativePrompt needs one entry or one per prompt (${prompts.length}), got ${negatives.length}`);
  const B = prompts.length * batchSize;
  const cfg = guidanceScale > 1;
  const g = o.attentionGuidance;
  const tgate = o.tgate;
  if (tgate && (tgate.warmUp ?? 0) >= (tgate.gateStep ?? 10) && (tgate.gateStep ?? 10) < steps) {
    throw invalid('tgate.warmUp must be below tgate.gateStep');
  }
  if (pipe.memoryBudget !== null) {
    // The largest call: every guidance branch at once (CFG halves, PAG), then the decode.
    const branches = (cfg ? 2 : 1) + (g?.kind === 'pag' ? 1 : 0);
    const need = Math.max(unetActivationBytes(unet.config, branches * B, height / vaeFactor, width / vaeFactor, dtypeBytes(unet.placement.dtype)),
      vae ? vaeDecodeBytes(vae.config, B, height, width, dtypeBytes(vae.placement.dtype)) : 0);
    if (need > pipe.memoryBudget) {
      const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
      throw new DiffusionAttentionError('E_RESOURCE', `this request needs about ${mib(need)} of activations, over the pipeline's memory budget of ${mib(pipe.memoryBudget)}: use a smaller size or batch`);
    }
  }
  const plan = new GenerationPlan(unet.attentionLayers, o, steps, B, cfg);
  const { onProgress, signal, ...given } = o;
  const resolved = { ...given, steps, guidanceScale, guidanceRescale, seed, batchSize, scheduler: kind, width, height };

  const progress = (stepDone: number, phase: 'encode' | 'denoise' | 'decode', stepsMs: number[]) => {
    if (!onProgress) return;
    const mean = stepsMs.length ? stepsMs.reduce((a, b) => a + b, 0) / stepsMs.length : 0;
    onProgress({ step: stepDone, steps, phase, elapsedMs: performance.now() - t0, etaMs: mean * (steps - stepDone) });
  };
  const held: Tensor[] = [];
  const hold = (t: Tensor) => (held.push(t), t);
  try {
    signal?.throwIfAborted();
    progress(0, 'encode', []);
    // Prompt i of image b is prompts[floor(b / batchSize)] (diffusers' num_images_per_prompt order).
    const tEncode = performance.now();
    const nagPrompt = g?.kind === 'nag' ? (g.negativePrompt ?? (negatives[0] || NAG_DEFAULT_NEGATIVE)) : undefined;
    const unique = [...new Set([...prompts, ...(cfg ? negatives : []), ...(nagPrompt === undefined ? [] : [nagPrompt])])];
    const encoded = hold(await textEncoder.encode(unique));
    const [, T, D] = encoded.shape as [number, number, number];
    const table = await readFloat32(encoded);
    const rowOf = (p: string) => unique.indexOf(p);
    const perImage = (pick: (b: number) => string) => Array.from({ length: B }, (_, b) => rowOf(pick(b)));
    const condRows = perImage((b) => prompts[Math.floor(b / batchSize)]!);
    const uncondRows = perImage((b) => negatives[negatives.length === 1 ? 0 : Math.floor(b / batchSize)]!);
    const textEncodeMs = performance.now() - tEncode;

    const rowsOf: Record<Branch, number[]> = { uncond: uncondRows, cond: condRows, perturbed: condRows };
    const contexts = new Map<string, Tensor>();
    // Each branch combination's context is built once, in the UNet's placement (uploaded once for CUDA).
    const contextFor = async (branches: Branch[], nag: boolean): Promise<Tensor> => {
      const key = `${branches.join(',')}${nag ? '+nag' : ''}`;
      let t = contexts.get(key);
      if (!t) {
        // NAG's negative keys for the conditional rows; every other row gets its own context (a no-op).
        const rows = branches.flatMap((br) => (nag && br === 'cond' ? condRows.map(() => rowOf(nagPrompt!)) : rowsOf[br]));
        const host = hold(Tensor.from(gather(table, T * D, rows), [rows.length, T, D]));
        t = hold(await toPlacement(host, unet.placement));
        contexts.set(key, t);
      }
      return t;
    };

    // Image b starts from its own generator, seeded seed + b, so it regenerates alone from its seed.
    const C = unet.config.in_channels;
    const h = height / vaeFactor;
    const w = width / vaeFactor;
    const per = C * h * w;
    const rngs = Array.from({ length: B }, (_, b) => new GaussianRandom(seed + b));
    let x = new Float32Array(B * per);
    rngs.forEach((r, b) => r.fill(x.subarray(b * per, (b + 1) * per)));
    if (scheduler.initNoiseSigma !== 1) x = x.map((v) => v * scheduler.initNoiseSigma);
    const noise = (n: number) => {
      const out = new Float32Array(n);
      rngs.forEach((r, b) => r.fill(out.subarray((b * n) / B, ((b + 1) * n) / B)));
      return out;
    };

    const stepsMs: number[] = [];
    const captured = new Map<string, { grid: [number, number]; bins: number; spectra: Float32Array }>();
    progress(0, 'denoise', stepsMs);
    for (let s = 0; s < steps; s++) {
      signal?.throwIfAborted();
      const tStep = performance.now();
      const call = plan.call(s);
      const n = call.branches.length;
      const input = scheduler.scaleModelInput(x, s);
      const batch = new Float32Array(n * B * per);
      for (let i = 0; i < n; i++) batch.set(input, i * B * per);
      const sample = Tensor.from(batch, [n * B, C, h, w]);
      const nag = g?.kind === 'nag' && call.cross !== 'replay';
      const result = await unet.run(sample, scheduler.timesteps[s]!, await contextFor(call.branches, false), {
        layers: call.layers,
        ...(nag ? { negativeContext: await contextFor(call.branches, true) } : {}),
      });
      sample.dispose();
      const out = await readFloat32(result.output);
      result.output.dispose();
      const at = (br: Branch) => call.branches.indexOf(br) * B * per;
      const c = at('cond');
      const guided = new Float32Array(B * per);
      const u = at('uncond');
      const p = at('perturbed');
      const pagScale = g?.kind === 'pag' ? (g.scale ?? 3) : 0;
      for (let i = 0; i < guided.length; i++) {
        const fc = out[c + i]!;
        let v = u >= 0 ? out[u + i]! + guidanceScale * (fc - out[u + i]!) : fc;
        if (p >= 0) v += pagScale * (fc - out[p + i]!);
        guided[i] = v;
      }
      if (u >= 0 && guidanceRescale > 0) rescaleGuidance(guided, out.subarray(c, c + guided.length), B, per, guidanceRescale);
      x = scheduler.step(guided, s, x, noise);
      collect(captured, result.layers, call.branches.indexOf('cond') * B, B, s, steps);
      stepsMs.push(performance.now() - tStep);
      progress(s + 1, 'denoise', stepsMs);
    }

    signal?.throwIfAborted();
    progress(steps, 'decode', stepsMs);
    const tDecode = performance.now();
    let pixels: Float32Array;
    if (vae) {
      const factor = vae.config.scaling_factor;
      const latents = Tensor.from(x.map((v) => v / factor), [B, C, h, w]);
      const decoded = await vae.decode(latents);
      latents.dispose();
      pixels = await readFloat32(decoded);
      decoded.dispose();
    } else {
      pixels = x;
    }
    const decodeMs = performance.now() - tDecode;
    const images = Array.from({ length: B }, (_, b) => new GeneratedImage(
      toRgb(pixels, b, height, width), width, height, seed + b,
      parameters(prompts[Math.floor(b / batchSize)]!, negatives[negatives.length === 1 ? 0 : Math.floor(b / batchSize)]!, pipe, resolved, seed + b, scheduler.karras),
    ));
    const capture = o.capture ? { steps, layers: [...captured.entries()].map(([name, c]) => ({ name, ...c })) } : undefined;
    return { images, timings: { textEncodeMs, stepsMs, decodeMs, totalMs: performance.now() - t0 }, ...(capture ? { capture } : {}), options: resolved };
  } finally {
    plan.dispose();
    for (const t of held) t.dispose();
  }
}

/** Adds call s's spectra of the conditional rows [first, first + B), averaged, to `into`. */
function collect(into: Map<string, { grid: [number, number]; bins: number; spectra: Float32Array }>, layers: Map<string, UNetLayerResult>,
  first: number, B: number, s: number, steps: number): void {
  for (const [name, r] of layers) {
    if (!r.capture) continue;
    const { bins, grid, spectrum } = r.capture;
    let entry = into.get(name);
    if (!entry) {
      entry = { grid, bins, spectra: new Float32Array(steps * bins).fill(NaN) };
      into.set(name, entry);
    }
    for (let k = 0; k < bins; k++) {
      let sum = 0;
      for (let b = first; b < first + B; b++) sum += spectrum[b * bins + k]!;
      entry.spectra[s * bins + k] = sum / B;
    }
  }
}

/** The `parameters` text of an image, in AUTOMATIC1111's format. */
function parameters(prompt: string, negative: string, pipe: Pipeline, o: GenerateResult['options'], seed: number, karras: boolean): string {
  const fields: Array<[string, string | number]> = [
    ['Steps', o.steps], ['Sampler', SAMPLER_NAMES[o.scheduler] + (karras ? ' Karras' : '')], ['CFG scale', o.guidanceScale],
    ...(o.guidanceRescale > 0 ? [['CFG rescale', o.guidanceRescale] as [string, number]] : []), ['Seed', seed], ['Size', `${o.width}x${o.height}`], ['Model', path.basename(pipe.source.path).replace(/\.safetensors$/, '')],
  ];
  const layers = (l: unknown) => (Array.isArray(l) ? `${l.length} layers` : String(l));
  if (o.afm) {
    const a = o.afm;
    fields.push(['AFM', `strength ${a.strength ?? 0.2} ${a.schedule ?? 'curve'}${a.entropyGate ? ' entropy-gated' : ''} cutoff ${a.cutoff ?? 0.25} on ${layers(a.layers ?? 'down')}`]);
  }
  if (o.tgate) {
    const t = o.tgate;
    fields.push(['T-GATE', `gate ${t.gateStep ?? 10} warm-up ${t.warmUp ?? 0} sp ${t.spInterval ?? 1} fi ${t.fiInterval ?? 1}`]);
  }
  const g = o.attentionGuidance;
  if (g) fields.push([g.kind.toUpperCase(), `scale ${g.scale ?? (g.kind === 'pag' ? 3 : 5)}${'layers' in g && g.layers ? ` on ${layers(g.layers)}` : ''}`]);
  fields.push(['Version', `diffusion-attention ${info().version}`]);
  const line = fields.map(([k, v]) => `${k}: ${typeof v === 'string' && /[,:]/.test(v) ? JSON.stringify(v) : v}`).join(', ');
  return `${prompt}${negative ? `\nNegative prompt: ${negative}` : ''}\n${line}`;
}
