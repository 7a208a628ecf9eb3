/**
 * Opens a model for the engine: a diffusers folder (`model_index.json`, one folder per component
 * with `config.json` and safetensors weights, single or sharded with an index) or an original
 * single-file checkpoint (`.safetensors`), whose names are mapped to diffusers names
 * (single-file.ts). A single file is described either by a diffusers folder (`{ config }`) or, without
 * one, by the built-in SD 1.x / 2.x configs its structure identifies (builtin-configs.ts). Configs
 * are validated (config.ts). Components that `model_index.json` marks null, or that a folder lacks
 * (a pixel-space model has no `vae/`), are null.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

import { DiffusionAttentionError } from '../errors.js';
import { WeightFile } from '../weights/weight-file.js';
import { describeSingleFile, familyMismatches } from './builtin-configs.js';
import {
  clipTextConfigSchema, modelIndexSchema, parseConfig, unetConfigSchema, vaeConfigSchema, type ClipTextConfig, type UNetConfig,
  type VaeConfig,
} from './config.js';
import { textEncoderWeights, unetWeights, vaeWeights } from './single-file.js';
import { ComponentWeights, type WeightRef } from './weights.js';

export interface Component<C> {
  config: C;
  weights: ComponentWeights;
}

export interface ModelSource {
  kind: 'diffusers' | 'single-file';
  path: string;
  unet: Component<UNetConfig>;
  textEncoder: Component<ClipTextConfig> | null;
  vae: Component<VaeConfig> | null;
  /** The folder holding the tokenizer files, or null. */
  tokenizerDir: string | null;
  /** `scheduler/scheduler_config.json` as written (the sampler validates it). */
  schedulerConfig: Record<string, unknown> | null;
}

export interface OpenOptions {
  /**
   * For a single-file checkpoint: a diffusers folder whose configs, tokenizer and scheduler
   * config describe it (single files carry no configs). Without it, a standard SD 1.x / 2.x file
   * is described by the built-in configs of the family its tensors identify (builtin-configs.ts).
   */
  config?: string;
  /**
   * A tokenizer folder (`tokenizer.json`, or a CLIPTokenizer's `vocab.json` + `merges.txt`) to use
   * instead of the model's own; single files carry none, so without it (and without `config`) their
   * `tokenizerDir` is null.
   */
  tokenizer?: string;
  /**
   * The scheduler config's `prediction_type`, overriding the model's. A single SD 2.x file cannot
   * tell the 768-v model from the 512 base model: the built-in config assumes `v_prediction` (SD 2.1,
   * as diffusers does for SD 2.x files without a `global_step`); `'epsilon'` selects the 2.1-base
   * config (epsilon, sample size 64, no attention upcast).
   */
  predictionType?: 'epsilon' | 'v_prediction';
}

function formatError(message: string, cause?: unknown): DiffusionAttentionError {
  return new DiffusionAttentionError('E_MODEL_FORMAT', message, cause === undefined ? undefined : { cause });
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(() => true, () => false);
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw formatError(`cannot read ${file}: ${(err as Error).message}`, err);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw formatError(`${file} is not valid JSON (${(err as Error).message})`, err);
  }
}

/** The weights of a component folder: `<base>.safetensors`, or shards listed in `<base>.safetensors.index.json`. */
async function folderWeights(dir: string, base: string): Promise<ComponentWeights> {
  const single = path.join(dir, `${base}.safetensors`);
  if (await exists(single)) {
    const file = await WeightFile.open(single);
    return new ComponentWeights(new Map(file.names().map((n): [string, WeightRef] => [n, { file, name: n }])));
  }
  const indexPath = path.join(dir, `${base}.safetensors.index.json`);
  if (!(await exists(indexPath))) throw formatError(`${dir}: no ${base}.safetensors and no ${base}.safetensors.index.json`);
  const index = await readJson(indexPath) as { weight_map?: unknown };
  const map = index?.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) throw formatError(`${indexPath}: weight_map must be an object`);
  const files = new Map<string, WeightFile>();
  const refs = new Map<string, WeightRef>();
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    // Shards are plain file names in the same folder: no paths out of it.
    if (typeof shard !== 'string' || shard !== path.basename(shard) || shard === '..' || !shard.endsWith('.safetensors')) {
      throw formatError(`${indexPath}: weight_map.${name} must name a .safetensors file in ${dir}`);
    }
    if (!files.has(shard)) files.set(shard, await WeightFile.open(path.join(dir, shard)));
    const file = files.get(shard)!;
    if (!file.entry(name)) throw formatError(`${indexPath}: ${name} is not in ${shard}`);
    refs.set(name, { file, name });
  }
  return new ComponentWeights(refs);
}

async function componentFolder<C>(root: string, name: string, base: string, schema: Parameters<typeof parseConfig>[0]): Promise<Component<C> | null> {
  const dir = path.join(root, name);
  if (!(await exists(dir))) return null;
  const configFile = path.join(dir, 'config.json');
  const config = parseConfig(schema, await readJson(configFile), configFile) as C;
  return { config, weights: await folderWeights(dir, base) };
}

async function openFolder(root: string): Promise<ModelSource> {
  const indexFile = path.join(root, 'model_index.json');
  const index = parseConfig(modelIndexSchema, await readJson(indexFile), indexFile);
  const present = (c: [string | null, string | null] | undefined) => c !== undefined && c[0] !== null;
  const unet = await componentFolder<UNetConfig>(root, 'unet', 'diffusion_pytorch_model', unetConfigSchema);
  if (!unet) throw formatError(`${root}: model_index.json lists a unet but there is no unet/ folder`);
  const textEncoder = present(index.text_encoder) ? await componentFolder<ClipTextConfig>(root, 'text_encoder', 'model', clipTextConfigSchema) : null;
  const vae = present(index.vae) ? await componentFolder<VaeConfig>(root, 'vae', 'diffusion_pytorch_model', vaeConfigSchema) : null;
  if (present(index.text_encoder) && !textEncoder) throw formatError(`${root}: model_index.json lists a text_encoder but there is no text_encoder/ folder`);
  if (present(index.vae) && !vae) throw formatError(`${root}: model_index.json lists a vae but there is no vae/ folder`);
  const schedulerFile = path.join(root, 'scheduler', 'scheduler_config.json');
  const tokenizerDir = path.join(root, 'tokenizer');
  return {
    kind: 'diffusers',
    path: root,
    unet,
    textEncoder,
    vae,
    tokenizerDir: present(index.tokenizer) && (await exists(tokenizerDir)) ? tokenizerDir : null,
    schedulerConfig: (await exists(schedulerFile)) ? (await readJson(schedulerFile)) as Record<string, unknown> : null,
  };
}

/** Mapped text-encoder weights minus transformers' `position_ids` buffer (int64, not a weight). */
function textRefs(file: WeightFile, keepLayers?: number): Map<string, WeightRef> {
  const refs = textEncoderWeights(file);
  for (const name of [...refs.keys()]) {
    const layer = /^text_model\.encoder\.layers\.(\d+)\./.exec(name);
    if (name === 'text_model.embeddings.position_ids' || (keepLayers !== undefined && layer && Number(layer[1]) >= keepLayers)) refs.delete(name);
  }
  return refs;
}

/** A component of single file `file` with `config`; empty weights are an error. */
function fileComponent<C>(file: string, name: string, config: C, refs: Map<string, WeightRef>): Component<C> {
  if (refs.size === 0) throw formatError(`${file}: no ${name} weights found`);
  return { config, weights: new ComponentWeights(refs) };
}

async function openSingleFile(file: string, options: OpenOptions): Promise<ModelSource> {
  const weights = await WeightFile.open(file);
  if (!options.config) return openBuiltin(file, weights, options.predictionType);
  const described = await openFolder(options.config);
  return {
    kind: 'single-file',
    path: file,
    unet: fileComponent(file, 'unet', described.unet.config, unetWeights(weights, described.unet.config)),
    textEncoder: described.textEncoder && fileComponent(file, 'text encoder', described.textEncoder.config, textRefs(weights)),
    vae: described.vae && fileComponent(file, 'vae', described.vae.config, vaeWeights(weights, described.vae.config)),
    tokenizerDir: described.tokenizerDir,
    schedulerConfig: described.schedulerConfig,
  };
}

/** A single file without a config folder: configs from its structure and its family (builtin-configs.ts). */
function openBuiltin(file: string, weights: WeightFile, predictionType?: OpenOptions['predictionType']): ModelSource {
  const d = describeSingleFile(weights, { predictionType });
  const problems = familyMismatches(d);
  if (problems.length > 0) {
    throw formatError(`${file}: its structure is ${d.label}, but ${d.label}'s built-in values do not fit its sizes: ${problems.join('; ')}. `
      + 'Not a standard checkpoint: pass { config: <a diffusers folder describing it> }');
  }
  const label = (part: string) => `${file} (built-in ${d.label} ${part} config)`;
  const unet = parseConfig(unetConfigSchema, d.unet, label('unet'));
  const unetRefs = unetWeights(weights, unet);
  // Every UNet tensor of the file must have its place in the described structure.
  const used = new Set([...unetRefs.values()].map((r) => r.name));
  const unused = weights.names().filter((n) => n.startsWith('model.diffusion_model.') && !used.has(n));
  if (unused.length > 0) throw formatError(`${file}: ${unused.length} UNet tensors have no place in an ${d.label} UNet, e.g. ${unused.slice(0, 3).join(', ')}`);
  const text = d.textEncoder && parseConfig(clipTextConfigSchema, d.textEncoder, label('text_encoder'));
  const vae = d.vae && parseConfig(vaeConfigSchema, d.vae, label('vae'));
  return {
    kind: 'single-file',
    path: file,
    unet: fileComponent(file, 'unet', unet, unetRefs),
    // SD 2.x: the config uses one layer fewer than the file holds (penultimate-layer conditioning).
    textEncoder: text && fileComponent(file, 'text encoder', text, textRefs(weights, text.num_hidden_layers)),
    vae: vae && fileComponent(file, 'vae', vae, vaeWeights(weights, vae)),
    tokenizerDir: null,
    schedulerConfig: d.scheduler,
  };
}

/**
 * Opens a model folder or a single-file checkpoint and validates its configs and weight files.
 * `tokenizer` and `predictionType` override the model's tokenizer folder and scheduler prediction
 * type, for any kind of model.
 * @throws DiffusionAttentionError `E_MODEL_FORMAT` naming the file and field or tensor at fault;
 *   `E_INVALID_ARGUMENT` for an unknown `predictionType`.
 */
export async function openModel(location: string, options: OpenOptions = {}): Promise<ModelSource> {
  if (options === null || typeof options !== 'object') {
    throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  if (typeof location !== 'string') throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `the model location must be a path, got ${typeof location}`);
  if (options.config !== undefined && typeof options.config !== 'string') {
    throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `config must be the path of a diffusers folder, got ${typeof options.config}`);
  }
  const { predictionType, tokenizer } = options;
  if (predictionType !== undefined && predictionType !== 'epsilon' && predictionType !== 'v_prediction') {
    throw new DiffusionAttentionError('E_INVALID_ARGUMENT', `predictionType must be 'epsilon' or 'v_prediction', not ${JSON.stringify(predictionType)}`);
  }
  if (tokenizer !== undefined && (typeof tokenizer !== 'string' || !(await fs.stat(tokenizer).then((s) => s.isDirectory(), () => false)))) {
    throw formatError(`tokenizer ${JSON.stringify(tokenizer)} is not a folder`);
  }
  const stat = await fs.stat(location).catch((err: unknown) => {
    throw formatError(`cannot open model ${location}: ${(err as Error).message}`, err);
  });
  let source: ModelSource;
  if (stat.isDirectory()) source = await openFolder(location);
  else if (location.endsWith('.safetensors')) source = await openSingleFile(location, options);
  else throw formatError(`${location} is neither a diffusers model folder nor a .safetensors checkpoint`);
  if (tokenizer !== undefined) source.tokenizerDir = tokenizer;
  if (predictionType !== undefined) source.schedulerConfig = { ...(source.schedulerConfig ?? {}), prediction_type: predictionType };
  return source;
}
