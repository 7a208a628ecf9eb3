/**
 * The tokenizer of a CLIPTokenizer folder (`vocab.json` + `merges.txt`, as SD 1.x / 2.x model folders
 * ship it, usually without a `tokenizer.json`), built as the `tokenizer.json` document that Hugging
 * Face's fast CLIP tokenizer uses, for tokenizers.js (`@huggingface/tokenizers`) to run.
 *
 * The design follows transformers' `convert_slow_tokenizer.py` (CLIPConverter), which converts the
 * slow CLIPTokenizer (`models/clip/tokenization_clip.py`) into a fast one, and through it openai/CLIP
 * `clip/simple_tokenizer.py`, the tokenizer SD was trained with:
 * - normalizer: NFC, every whitespace run -> one space, lower-case (simple_tokenizer: ftfy's NFC,
 *   `whitespace_clean`, `.lower()`; ftfy's other repairs and its `html.unescape` are not part of it);
 * - pre-tokenizer: simple_tokenizer's pattern
 *   `'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+` (kept matches, whitespace dropped; the
 *   `<|startoftext|>` / `<|endoftext|>` alternatives of the original pattern are the added tokens here,
 *   split out of the lower-cased prompt first; the two differ only when punctuation directly precedes
 *   one, which simple_tokenizer's punctuation run then swallows), then GPT-2's byte-to-character
 *   mapping of each piece's UTF-8 bytes;
 * - model: BPE with `end_of_word_suffix` "</w>" on a word's last symbol, no continuing-subword prefix,
 *   unknown token `<|endoftext|>` (never needed with the 256 byte symbols in the vocabulary);
 * - post-processor: `<|startoftext|>` ... `<|endoftext|>` (CLIPConverter uses RobertaProcessing for this);
 * - decoder: byte level.
 *
 * Two deliberate details:
 * - CLIPConverter's ByteLevel pre-tokenizer keeps its default `use_regex: true`, which re-splits each
 *   piece with GPT-2's pattern. On the pieces of the CLIP pattern that is a no-op (a letter run, one
 *   digit, a contraction or a run of other non-space characters is one GPT-2 match), except that
 *   tokenizers.js's GPT-2 pattern uses JavaScript's `\s`, which also matches U+FEFF; so it is off here.
 * - Only the BOS, EOS (and UNK) tokens are added tokens. transformers also registers the pad token as
 *   one, so with SD 2.x's pad token "!" every "!" in a prompt becomes the pad id 0 instead of CLIP's
 *   "!</w>" (diffusers issue #4153, "The handling of the "!" token in SDv2/XL is different from the
 *   StabilityAI version"; OpenCLIP, which SD 2.x was trained with, keeps "!" as text). Here "!" is text;
 *   the pad token is only used for padding.
 *
 * `merges.txt` is read as simple_tokenizer and transformers read it: a first `#version` line skipped and
 * at most 48,894 merges (`49152 - 256 - 2`).
 */
import { DiffusionAttentionError } from '../errors.js';

export const CLIP_BOS = '<|startoftext|>';
export const CLIP_EOS = '<|endoftext|>';
/** simple_tokenizer.py / transformers' CLIPTokenizer read `merges[1 : 49152 - 256 - 2 + 1]`. */
export const CLIP_MAX_MERGES = 49152 - 256 - 2;
/** openai/CLIP simple_tokenizer.py's pattern without its two special-token alternatives. */
export const CLIP_SPLIT_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

export interface ClipSpecialTokens {
  bos: string;
  eos: string;
  unk: string;
}

function formatError(message: string): DiffusionAttentionError {
  return new DiffusionAttentionError('E_MODEL_FORMAT', message);
}

/**
 * Parses `vocab.json` (token -> id) and checks it: non-negative integer ids, each used once.
 * @throws DiffusionAttentionError `E_MODEL_FORMAT` naming `file` and the first bad entry
 */
export function parseClipVocab(json: unknown, file: string): Record<string, number> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw formatError(`${file}: must be an object of token -> id`);
  const seen = new Map<number, string>();
  for (const [token, id] of Object.entries(json as Record<string, unknown>)) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw formatError(`${file}: the id of ${JSON.stringify(token)} must be a non-negative integer`);
    const other = seen.get(id);
    if (other !== undefined) throw formatError(`${file}: id ${id} is used by both ${JSON.stringify(other)} and ${JSON.stringify(token)}`);
    seen.set(id, token);
  }
  return json as Record<string, number>;
}

/**
 * Parses `merges.txt`: one `left right` pair per line after an optional `#version` line (blank lines
 * skipped), at most {@link CLIP_MAX_MERGES} used. Both parts and their concatenation must be vocabulary tokens (as
 * Hugging Face tokenizers' BPE builder requires).
 * @throws DiffusionAttentionError `E_MODEL_FORMAT` naming `file` and the line
 */
export function parseClipMerges(text: string, vocab: Readonly<Record<string, number>>, file: string): Array<[string, string]> {
  const lines = text.trim().split('\n');
  const first = lines[0]?.startsWith('#version') ? 1 : 0;
  const merges: Array<[string, string]> = [];
  const has = (t: string) => Object.prototype.hasOwnProperty.call(vocab, t);
  for (let i = first; i < lines.length && merges.length < CLIP_MAX_MERGES; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) throw formatError(`${file}: line ${i + 1} is not a pair of tokens`);
    const [a, b] = parts as [string, string];
    for (const t of [a, b, a + b]) {
      if (!has(t)) throw formatError(`${file}: line ${i + 1}: ${JSON.stringify(t)} is not in the vocabulary`);
    }
    merges.push([a, b]);
  }
  return merges;
}

const addedToken = (content: string, id: number) => ({
  id, content, single_word: false, lstrip: false, rstrip: false,
  // Matched on the normalized (lower-cased) prompt, as the SD folders' special_tokens_map.json says.
  normalized: true, special: true,
});

/**
 * The `tokenizer.json` document of the fast CLIP tokenizer for a vocabulary and merge list.
 * @throws DiffusionAttentionError `E_MODEL_FORMAT` when a special token is not in the vocabulary
 */
export function clipTokenizerJson(vocab: Readonly<Record<string, number>>, merges: ReadonlyArray<readonly [string, string]>, specials: ClipSpecialTokens, file: string): Record<string, unknown> {
  const idOf = (what: string, token: string): number => {
    const id = Object.prototype.hasOwnProperty.call(vocab, token) ? vocab[token] : undefined;
    if (id === undefined) throw formatError(`${file}: the ${what} token ${JSON.stringify(token)} is not in the vocabulary`);
    return id;
  };
  const bos = idOf('start-of-text', specials.bos), eos = idOf('end-of-text', specials.eos), unk = idOf('unknown', specials.unk);
  const added = new Map<string, number>([[specials.bos, bos], [specials.eos, eos], [specials.unk, unk]]);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...added].sort((x, y) => x[1] - y[1]).map(([content, id]) => addedToken(content, id)),
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT_PATTERN }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: [specials.eos, eos], cls: [specials.bos, bos], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: specials.unk, continuing_subword_prefix: '', end_of_word_suffix: '</w>',
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: merges.map(([a, b]) => [a, b]),
    },
  };
}
