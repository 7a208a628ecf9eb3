/**
 * Opens a model for the engine: a diffusers folder (`model_index.json`, one folder per component
 * with `config.json` and safetensors weights, single or sharded with an index) or an original
 * single-file checkpoint (`.safetensors`), whose names are mapped to diffusers names
 * (single-file.ts). Configs are validated (config.ts). Components that `model_index.json` marks
 * null, or that a folder lacks (a pixel-space model has no `vae/`), are null.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

import { DiffusionAttentionError } from '../errors.js';
import { WeightFile } from '../weights/weight-file.js';
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
   * config describe it (single files carry no configs).
   */
  config?: string;
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

async function openSingleFile(file: string, options: OpenOptions): Promise<ModelSource> {
  if (!options.config) {
    throw formatError(`${file}: a single-file checkpoint carries no configs; pass { config: <a diffusers folder describing it> }`);
  }
  const described = await openFolder(options.config);
  const weights = await WeightFile.open(file);
  const component = <C>(name: string, c: Component<C> | null, map: (f: WeightFile, cfg: C) => Map<string, WeightRef>): Component<C> | null => {
    if (!c) return null;
    const refs = map(weights, c.config);
    if (refs.size === 0) throw formatError(`${file}: no ${name} weights found`);
    return { config: c.config, weights: new ComponentWeights(refs) };
  };
  return {
    kind: 'single-file',
    path: file,
    unet: component('unet', described.unet, unetWeights)!,
    textEncoder: component('text encoder', described.textEncoder, (f) => textEncoderWeights(f)),
    vae: component('vae', described.vae, vaeWeights),
    tokenizerDir: described.tokenizerDir,
    schedulerConfig: described.schedulerConfig,
  };
}

/**
 * Opens a model folder or a single-file checkpoint and validates its configs and weight files.
 * @throws DiffusionAttentionError `E_MODEL_FORMAT` naming the file and field or tensor at fault.
 */
export async function openModel(location: string, options: OpenOptions = {}): Promise<ModelSource> {
  const stat = await fs.stat(location).catch((err: unknown) => {
    throw formatError(`cannot open model ${location}: ${(err as Error).message}`, err);
  });
  if (stat.isDirectory()) return openFolder(location);
  if (location.endsWith('.safetensors')) return openSingleFile(location, options);
  throw formatError(`${location} is neither a diffusers model folder nor a .safetensors checkpoint`);
}
