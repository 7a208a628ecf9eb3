/**
 * Prompt tokenization for the text encoder, through Hugging Face's tokenizers.js
 * (`@huggingface/tokenizers`). A tokenizer folder holds either a `tokenizer.json` (read as is), or,
 * as SD 1.x / 2.x model folders ship it, a CLIPTokenizer's `vocab.json` + `merges.txt`, from which the
 * fast CLIP tokenizer's `tokenizer.json` is built in memory (clip-bpe.ts). Special tokens come from
 * `special_tokens_map.json`, else `tokenizer_config.json` (transformers lets the first override the
 * second). Sequences are cut and padded the way SD pipelines do: the tokenizer's own special tokens
 * (BOS ... EOS), truncated to the text encoder's `max_position_embeddings` with EOS kept last, padded
 * with the folder's pad token (SD 1.x: `<|endoftext|>`, SD 2.x: `!`) to exactly that length.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

import { DiffusionAttentionError } from '../errors.js';
import { CLIP_BOS, CLIP_EOS, clipTokenizerJson, parseClipMerges, parseClipVocab } from './clip-bpe.js';

// The package ships a CommonJS build for Node but only ES-module type declarations.
type Tokenizers = typeof import('@huggingface/tokenizers', { with: { 'resolution-mode': 'import' } });
type Tokenizer = InstanceType<Tokenizers['Tokenizer']>;
const { Tokenizer } = require('@huggingface/tokenizers') as Tokenizers;

function tokenName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

export class PromptTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    /** Sequence length of every encoding (the text encoder's max_position_embeddings). */
    readonly length: number,
    readonly eosId: number,
    readonly padId: number,
    /** The files it was read from, for messages. */
    private readonly source: string,
  ) {}

  /**
   * Reads `dir/tokenizer.json`, or `dir/vocab.json` + `dir/merges.txt` when there is no
   * `tokenizer.json`, with `special_tokens_map.json` / `tokenizer_config.json` when present.
   * @throws DiffusionAttentionError `E_MODEL_FORMAT` when the files are missing or malformed.
   */
  static async load(dir: string, length: number): Promise<PromptTokenizer> {
    const readText = async (name: string): Promise<string | undefined> => {
      const file = path.join(dir, name);
      try {
        return await fs.readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new DiffusionAttentionError('E_MODEL_FORMAT', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
      }
    };
    const readJson = async (name: string): Promise<Record<string, unknown> | undefined> => {
      const text = await readText(name);
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text) as Record<string, unknown>;
      } catch (err) {
        throw new DiffusionAttentionError('E_MODEL_FORMAT', `${path.join(dir, name)} is not valid JSON (${(err as Error).message})`, { cause: err });
      }
    };
    const config = (await readJson('tokenizer_config.json')) ?? {};
    const specialsMap = (await readJson('special_tokens_map.json')) ?? {};
    const special = (key: string): string | undefined => tokenName(specialsMap[key]) ?? tokenName(config[key]);

    let json = await readJson('tokenizer.json');
    let source = `${dir}/tokenizer.json`;
    let tokenizerConfig: Record<string, unknown> = config;
    if (json === undefined) {
      const [vocabText, mergesText] = [await readText('vocab.json'), await readText('merges.txt')];
      if (vocabText === undefined || mergesText === undefined) {
        throw new DiffusionAttentionError('E_MODEL_FORMAT', `${dir}: no tokenizer.json, and no vocab.json + merges.txt (CLIPTokenizer)`);
      }
      source = `${dir}/vocab.json + merges.txt`;
      const vocabFile = path.join(dir, 'vocab.json');
      let vocabJson: unknown;
      try {
        vocabJson = JSON.parse(vocabText);
      } catch (err) {
        throw new DiffusionAttentionError('E_MODEL_FORMAT', `${vocabFile} is not valid JSON (${(err as Error).message})`, { cause: err });
      }
      const vocab = parseClipVocab(vocabJson, vocabFile);
      const merges = parseClipMerges(mergesText, vocab, path.join(dir, 'merges.txt'));
      const eos = special('eos_token') ?? CLIP_EOS;
      json = clipTokenizerJson(vocab, merges, { bos: special('bos_token') ?? CLIP_BOS, eos, unk: special('unk_token') ?? eos }, dir);
      // The built document defines the whole pipeline; tokenizer_config.json options meant for
      // transformers' slow CLIPTokenizer (do_lower_case, errors, ...) do not apply to it.
      tokenizerConfig = {};
    }
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json, tokenizerConfig);
    } catch (err) {
      throw new DiffusionAttentionError('E_MODEL_FORMAT', `${source}: ${(err as Error).message}`, { cause: err });
    }
    const idOf = (what: string, names: Array<string | undefined>): number => {
      for (const n of names) {
        const id = n === undefined ? undefined : tokenizer.token_to_id(n);
        if (id !== undefined) return id;
      }
      throw new DiffusionAttentionError('E_MODEL_FORMAT', `${dir}: the tokenizer has no ${what} token`);
    };
    const padding = json.padding as { pad_token?: string } | null | undefined;
    const eosId = idOf('end-of-text', [special('eos_token'), CLIP_EOS]);
    const padId = idOf('padding', [special('pad_token'), padding?.pad_token, special('eos_token'), CLIP_EOS]);
    const loaded = new PromptTokenizer(tokenizer, length, eosId, padId, source);
    // A definition that parses but cannot encode (a malformed post-processor, say) fails here, at
    // load time, rather than in the first generate().
    loaded.encode(['a photo']);
    return loaded;
  }

  /** Token ids `[prompts.length, length]`, row-major. */
  encode(prompts: readonly string[]): { ids: Int32Array; shape: [number, number] } {
    const ids = new Int32Array(prompts.length * this.length);
    prompts.forEach((prompt, b) => {
      let seq: number[];
      try {
        seq = this.tokenizer.encode(prompt).ids;
      } catch (err) {
        throw new DiffusionAttentionError('E_MODEL_FORMAT', `${this.source}: the tokenizer failed on ${JSON.stringify(prompt)}: ${(err as Error).message}`, { cause: err });
      }
      if (!seq.every((id) => Number.isInteger(id) && id >= 0)) {
        throw new DiffusionAttentionError('E_MODEL_FORMAT', `${this.source}: the tokenizer produced invalid ids for ${JSON.stringify(prompt)}`);
      }
      if (seq.length > this.length) seq = [...seq.slice(0, this.length - 1), this.eosId];
      const row = ids.subarray(b * this.length, (b + 1) * this.length);
      row.fill(this.padId);
      row.set(seq);
    });
    return { ids, shape: [prompts.length, this.length] };
  }
}
