/**
 * Mutations of a copy of the sd1-tiny fixture model (test/fixtures/sd1-tiny, a diffusers folder,
 * and sd1-tiny.safetensors, its single-file checkpoint): one file's bytes or JSON changed
 * (safetensors-mutations.ts, json-mutations.ts), or a file or folder removed or replaced by a
 * directory or a symlink loop. Each mutation carries a verdict on the model as a whole, as in
 * safetensors-mutations.ts: `valid` (it must load and run), `invalid` (loading must fail with
 * E_MODEL_FORMAT), `unknown`.
 */
import fs from 'node:fs';
import path from 'node:path';

import { mutateJson } from './json-mutations.js';
import type { Random } from './random.js';
import { mutateSafetensors, type Verdict } from './safetensors-mutations.js';

export interface Applied {
  what: string;
  verdict: Verdict;
}

/** The folder's files, by kind; `essential` ones are read by every load (openModel and loadPipeline). */
const JSON_FILES = [
  'model_index.json', 'unet/config.json', 'text_encoder/config.json', 'vae/config.json', 'scheduler/scheduler_config.json',
  'tokenizer/tokenizer.json', 'tokenizer/tokenizer_config.json', 'tokenizer/special_tokens_map.json',
  'unet/diffusion_pytorch_model.safetensors.index.json',
];
const WEIGHT_FILES = [
  'unet/diffusion_pytorch_model-00001-of-00002.safetensors', 'unet/diffusion_pytorch_model-00002-of-00002.safetensors',
  'text_encoder/model.safetensors', 'vae/diffusion_pytorch_model.safetensors',
];
const ESSENTIAL = new Set([
  'model_index.json', 'unet/config.json', 'text_encoder/config.json', 'vae/config.json', 'unet/diffusion_pytorch_model.safetensors.index.json', ...WEIGHT_FILES,
]);
/** Folders model_index.json lists, so that their absence is an error (tokenizer/ and scheduler/ only matter to generate()). */
const LISTED_FOLDERS = ['unet', 'text_encoder', 'vae'];
const OPTIONAL_FOLDERS = ['tokenizer', 'scheduler'];

/**
 * Tensors that loadPipeline reads, so that a missing one fails the load. Not the DDPM schedule and
 * position_ids of the single file, and not the VAE's: the VAE checks its weights when it first
 * decodes (E_MODEL_FORMAT from generate()), and its encoder's never unless it encodes.
 */
function singleFileUses(name: string): boolean {
  return /^(model\.diffusion_model|cond_stage_model)\./.test(name) && !name.endsWith('position_ids');
}

function folderUses(file: string): (name: string) => boolean {
  return () => !file.startsWith('vae/');
}

const TOKENIZER = 'tokenizer/tokenizer.json';

interface TokenizerJson {
  model: { vocab: Record<string, unknown> };
}

/** The tokenizer file with a vocabulary to mutate, or null once an earlier mutation broke it. */
function parsedTokenizer(file: string): TokenizerJson | null {
  try {
    const t = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<TokenizerJson> | null;
    return t && typeof t.model?.vocab === 'object' && t.model.vocab !== null ? (t as TokenizerJson) : null;
  } catch {
    return null;
  }
}

/**
 * Token ids the text encoder does not have (it has 64): a tokenizer and a text encoder that
 * disagree must not index outside the embedding table.
 */
function mutateVocab(r: Random, file: string, t: TokenizerJson): Applied {
  const words = Object.keys(t.model.vocab);
  const changed: string[] = [];
  for (const word of words) {
    if (!r.chance(0.3)) continue;
    t.model.vocab[word] = r.pick<unknown>([64, 1000, 2 ** 31, 2 ** 32, -1, 1.5, 1e300, '5', null]);
    changed.push(`${word}=${t.model.vocab[word]}`);
  }
  fs.writeFileSync(file, JSON.stringify(t));
  return { what: `${TOKENIZER}: vocabulary ids ${changed.slice(0, 8).join(' ')}${changed.length > 8 ? ` (${changed.length} in all)` : ''}`, verdict: 'unknown' };
}

/** Replaces `file` by something that is not a readable file. */
function replaceFile(r: Random, dir: string, rel: string): Applied {
  const file = path.join(dir, rel);
  fs.rmSync(file, { force: true });
  const how = r.pick(['removed', 'a directory', 'a symlink loop', 'a dangling symlink']);
  if (how === 'a directory') fs.mkdirSync(file);
  if (how === 'a symlink loop') fs.symlinkSync(path.basename(file), file);
  if (how === 'a dangling symlink') fs.symlinkSync('does-not-exist', file);
  return { what: `${rel}: ${how}`, verdict: ESSENTIAL.has(rel) ? 'invalid' : 'unknown' };
}

/** One mutation of the diffusers folder `dir` (a copy of test/fixtures/sd1-tiny). */
export function mutateFolder(r: Random, dir: string): Applied {
  // Earlier mutations of this case may have removed or replaced files: mutate the ones still there.
  const present = (rel: string) => fs.lstatSync(path.join(dir, rel), { throwIfNoEntry: false })?.isFile() === true;
  const json = JSON_FILES.filter(present);
  const weights = WEIGHT_FILES.filter(present);
  const tokenizer = present(TOKENIZER) ? parsedTokenizer(path.join(dir, TOKENIZER)) : null;
  const kind = r.weighted<string>([
    ['json', json.length ? 9 : 0], ['weights', weights.length ? 9 : 0], ['vocab', tokenizer ? 1 : 0],
    ['replace', json.length + weights.length ? 1 : 0], ['folder', 1],
  ]);
  if (kind === 'vocab') return mutateVocab(r, path.join(dir, TOKENIZER), tokenizer!);
  if (kind === 'json') {
    const rel = r.pick(json);
    const file = path.join(dir, rel);
    const original = fs.readFileSync(file, 'utf8');
    const m = mutateJson(r, original);
    fs.writeFileSync(file, m.bytes);
    return { what: `${rel}: ${m.what}`, verdict: 'unknown' };
  }
  if (kind === 'weights') {
    const rel = r.pick(weights);
    const file = path.join(dir, rel);
    const m = mutateSafetensors(r, fs.readFileSync(file), folderUses(rel));
    fs.writeFileSync(file, m.bytes);
    return { what: `${rel}: ${m.what}`, verdict: m.verdict };
  }
  if (kind === 'replace') return replaceFile(r, dir, r.pick([...json, ...weights]));
  const folder = r.pick([...LISTED_FOLDERS, ...OPTIONAL_FOLDERS]);
  fs.rmSync(path.join(dir, folder), { recursive: true, force: true });
  return { what: `${folder}/ removed`, verdict: LISTED_FOLDERS.includes(folder) ? 'invalid' : 'unknown' };
}

/** One mutation of the single-file checkpoint `file`. */
export function mutateSingleFile(r: Random, file: string): Applied {
  const m = mutateSafetensors(r, fs.readFileSync(file), singleFileUses);
  fs.writeFileSync(file, m.bytes);
  return { what: `${path.basename(file)}: ${m.what}`, verdict: m.verdict };
}

/** The verdict on a model after all of `applied` (one invalid mutation could be undone by another, e.g. its folder removed). */
export function overall(applied: Applied[]): Verdict {
  if (applied.every((a) => a.verdict === 'valid')) return 'valid';
  return applied.length === 1 ? applied[0]!.verdict : 'unknown';
}
