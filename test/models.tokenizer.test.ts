import fs from 'node:fs';
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

test.run();
