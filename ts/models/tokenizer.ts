/**
 * Prompt tokenization for the text encoder, through Hugging Face's tokenizers.js
 * (`@huggingface/tokenizers`) reading the model folder's `tokenizer.json` (and
 * `tokenizer_config.json`). Sequences are cut and padded the way SD pipelines do: the tokenizer's
 * own special tokens (BOS ... EOS), truncated to the text encoder's `max_position_embeddings` with
 * EOS kept last, padded with the tokenizer's pad token to exactly that length.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

import { DiffusionAttentionError } from '../errors.js';

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
  ) {}

  /**
   * Reads `dir/tokenizer.json` (and `tokenizer_config.json` when present).
   * @throws DiffusionAttentionError `E_MODEL_FORMAT` when the files are missing or malformed.
   */
  static async load(dir: string, length: number): Promise<PromptTokenizer> {
    const read = async (name: string, required: boolean): Promise<Record<string, unknown>> => {
      const file = path.join(dir, name);
      try {
        return JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
      } catch (err) {
        if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
        throw new DiffusionAttentionError('E_MODEL_FORMAT', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
      }
    };
    const json = await read('tokenizer.json', true);
    const config = await read('tokenizer_config.json', false);
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json, config);
    } catch (err) {
      throw new DiffusionAttentionError('E_MODEL_FORMAT', `${dir}/tokenizer.json: ${(err as Error).message}`, { cause: err });
    }
    const idOf = (what: string, names: Array<string | undefined>): number => {
      for (const n of names) {
        const id = n === undefined ? undefined : tokenizer.token_to_id(n);
        if (id !== undefined) return id;
      }
      throw new DiffusionAttentionError('E_MODEL_FORMAT', `${dir}: the tokenizer has no ${what} token`);
    };
    const padding = json.padding as { pad_token?: string } | null | undefined;
    const eosId = idOf('end-of-text', [tokenName(config.eos_token), '<|endoftext|>']);
    const padId = idOf('padding', [tokenName(config.pad_token), padding?.pad_token, tokenName(config.eos_token), '<|endoftext|>']);
    return new PromptTokenizer(tokenizer, length, eosId, padId);
  }

  /** Token ids `[prompts.length, length]`, row-major. */
  encode(prompts: readonly string[]): { ids: Int32Array; shape: [number, number] } {
    const ids = new Int32Array(prompts.length * this.length);
    prompts.forEach((prompt, b) => {
      let seq = this.tokenizer.encode(prompt).ids;
      if (seq.length > this.length) seq = [...seq.slice(0, this.length - 1), this.eosId];
      const row = ids.subarray(b * this.length, (b + 1) * this.length);
      row.fill(this.padId);
      row.set(seq);
    });
    return { ids, shape: [prompts.length, this.length] };
  }
}
