import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { PromptTokenizer } from '../ts/models/tokenizer.js';
import { WeightFile } from '../ts/weights/weight-file.js';
import { throwsCode } from './helpers/errors.js';

const FIX = path.join(__dirname, 'fixtures');

test('tokenizes as the reference tokenizer did (fixture ids)', async () => {
  const t = await PromptTokenizer.load(path.join(FIX, 'sd1-tiny', 'tokenizer'), 16);
  const io = await WeightFile.open(path.join(FIX, 'sd1-tiny-io.safetensors'));
  const prompts = JSON.parse(io.header.metadata.prompts!) as string[];
  const { ids, shape } = t.encode(prompts);
  assert.equal(shape, [prompts.length, 16]);
  const e = io.entry('prompt.input_ids')!;
  const raw = fs.readFileSync(io.path).subarray(e.offset, e.offset + e.nbytes);
  const want = Array.from({ length: e.nbytes / 8 }, (_, i) => Number(raw.readBigInt64LE(8 * i)));
  assert.equal(Array.from(ids), want);
});

test('documented examples: padding with EOS, unknown words, truncation keeps EOS last', async () => {
  const t = await PromptTokenizer.load(path.join(FIX, 'sd1-tiny', 'tokenizer'), 16);
  assert.equal(Array.from(t.encode(['A red circle on the left, blue background.']).ids), [0, 5, 14, 23, 9, 7, 29, 3, 16, 60, 4, 1, 1, 1, 1, 1]);
  assert.equal(Array.from(t.encode(['Two cats, big sun.']).ids), [0, 41, 2, 3, 37, 48, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  const long = t.encode([Array(30).fill('red').join(' ')]).ids;
  assert.is(long.length, 16);
  assert.is(long[0], 0);
  assert.is(long[15], t.eosId);
});

test('a folder without tokenizer.json is E_MODEL_FORMAT', async () => {
  await throwsCode(() => PromptTokenizer.load(path.join(FIX, 'sd1-tiny', 'unet'), 16), 'E_MODEL_FORMAT');
});

// CLIPTokenizer folders (vocab.json + merges.txt, no tokenizer.json) against the plain-Python
// reference of CLIP's BPE (tools/sd_reference/clip_bpe.py), which wrote the expected ids.
const CLIP = path.join(FIX, 'bpe-vocab');
interface ClipCase {
  name: string;
  prompt: string;
  ids: number[];
  input_ids: { pad_endoftext: number[]; pad_exclamation: number[] };
}
const expected = JSON.parse(fs.readFileSync(path.join(CLIP, 'expected.json'), 'utf8')) as {
  max_length: number; bos_id: number; eos_id: number; pad_ids: { pad_endoftext: number; pad_exclamation: number }; cases: ClipCase[];
};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'da-tokenizer-'));

/** A copy of the CLIP fixture folder with SD 2.x's "!" padding (its pad-exclamation/ configs). */
function sd2StyleFolder(): string {
  const dir = path.join(tmp, 'clip-pad-exclamation');
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['vocab.json', 'merges.txt']) fs.copyFileSync(path.join(CLIP, f), path.join(dir, f));
  for (const f of ['special_tokens_map.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(CLIP, 'pad-exclamation', f), path.join(dir, f));
  return dir;
}

test('CLIP BPE folder: ids equal the Python reference for every prompt (SD 1.x padding with <|endoftext|>)', async () => {
  assert.not.ok(fs.existsSync(path.join(CLIP, 'tokenizer.json')));
  const t = await PromptTokenizer.load(CLIP, expected.max_length);
  assert.is(t.eosId, expected.eos_id);
  assert.is(t.padId, expected.pad_ids.pad_endoftext);
  for (const c of expected.cases) {
    assert.equal(Array.from(t.encode([c.prompt]).ids), c.input_ids.pad_endoftext, `${c.name}: ${JSON.stringify(c.prompt)}`);
  }
  // The whole batch at once gives the same rows.
  const batch = t.encode(expected.cases.map((c) => c.prompt));
  assert.equal(batch.shape, [expected.cases.length, expected.max_length]);
  assert.equal(Array.from(batch.ids), expected.cases.flatMap((c) => c.input_ids.pad_endoftext));
});

test('CLIP BPE folder with SD 2.x configs: pads with "!" (id 0) while a "!" in the prompt stays "!</w>"', async () => {
  const t = await PromptTokenizer.load(sd2StyleFolder(), expected.max_length);
  assert.is(t.padId, 0);
  assert.is(t.padId, expected.pad_ids.pad_exclamation);
  assert.is(t.eosId, expected.eos_id);
  for (const c of expected.cases) {
    assert.equal(Array.from(t.encode([c.prompt]).ids), c.input_ids.pad_exclamation, `${c.name}: ${JSON.stringify(c.prompt)}`);
  }
  const bang = expected.cases.find((c) => c.prompt.includes('wow!'))!;
  assert.ok(bang.ids.includes(256), '"!" at the end of a piece is "!</w>" (256), not the pad id');
});

test('CLIP BPE semantics visible in the fixture: case, whitespace, NFC, truncation, empty prompt', async () => {
  const t = await PromptTokenizer.load(CLIP, expected.max_length);
  const ids = (prompt: string) => Array.from(t.encode([prompt]).ids);
  const byName = (name: string) => expected.cases.find((c) => c.name.startsWith(name))!;
  assert.equal(ids('A PHOTO OF A CAT'), ids('a photo of a cat'));
  assert.equal(ids('  a   cat \t on\n the    mat  '), ids('a cat on the mat'));
  assert.equal(ids('cafe\u0301 au lait'), ids('café au lait'));
  assert.equal(ids('CAFÉ AU LAIT'), ids('café au lait'));
  const digits = byName('digits').ids;
  assert.ok(digits.length > 8);
  const empty = ids('');
  assert.equal(empty.slice(0, 2), [expected.bos_id, expected.eos_id]);
  assert.ok(empty.slice(2).every((x) => x === expected.pad_ids.pad_endoftext));
  const long = byName('longer than max_length');
  assert.ok(long.ids.length > expected.max_length - 2);
  const row = ids(long.prompt);
  assert.is(row.length, expected.max_length);
  assert.equal(row, [expected.bos_id, ...long.ids.slice(0, expected.max_length - 2), expected.eos_id]);
});

test('CLIP BPE folder: the same ids at SD length 77', async () => {
  const t = await PromptTokenizer.load(CLIP, 77);
  for (const c of expected.cases) {
    const row = Array.from(t.encode([c.prompt]).ids);
    const content = c.ids.slice(0, 75);
    assert.equal(row, [expected.bos_id, ...content, expected.eos_id, ...Array(75 - content.length).fill(expected.eos_id)], c.name);
  }
});

test('malformed CLIPTokenizer folders are E_MODEL_FORMAT naming the file', async () => {
  const variant = (name: string, edit: (dir: string) => void): string => {
    const dir = path.join(tmp, name);
    fs.cpSync(CLIP, dir, { recursive: true });
    edit(dir);
    return dir;
  };
  const rejects = async (dir: string, pattern: RegExp) => {
    await throwsCode(() => PromptTokenizer.load(dir, 16), 'E_MODEL_FORMAT');
    await PromptTokenizer.load(dir, 16).catch((err: Error) => assert.match(err.message, pattern));
  };
  await rejects(variant('no-merges', (d) => fs.rmSync(path.join(d, 'merges.txt'))), /no tokenizer\.json, and no vocab\.json \+ merges\.txt/);
  await rejects(variant('bad-vocab', (d) => fs.writeFileSync(path.join(d, 'vocab.json'), '{"a": 1, "b": 1}')), /vocab\.json: id 1 is used by both/);
  await rejects(variant('bad-json', (d) => fs.writeFileSync(path.join(d, 'vocab.json'), '{')), /vocab\.json is not valid JSON/);
  await rejects(variant('bad-merge', (d) => fs.appendFileSync(path.join(d, 'merges.txt'), 'zz qq\n')), /merges\.txt: line \d+: "zz" is not in the vocabulary/);
  await rejects(variant('odd-merge', (d) => fs.appendFileSync(path.join(d, 'merges.txt'), 'a b c\n')), /merges\.txt: line \d+ is not a pair/);
  await rejects(variant('no-eos', (d) => {
    const v = JSON.parse(fs.readFileSync(path.join(d, 'vocab.json'), 'utf8'));
    delete v['<|endoftext|>'];
    fs.writeFileSync(path.join(d, 'vocab.json'), JSON.stringify(v));
  }), /end-of-text token "<\|endoftext\|>" is not in the vocabulary/);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.run();
