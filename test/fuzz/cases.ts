/**
 * The fuzz case of a given run seed and index: the area (tensor, attention, model) is drawn with
 * fixed weights from the case's own generator, so case I of seed S is the same case however many
 * cases run, and replays alone.
 */
import { attentionCase } from './attention-cases.js';
import type { FuzzCase } from './case.js';
import { modelCase, type ModelContext } from './model-cases.js';
import { Random } from './random.js';
import { disposedTensorCase, tensorFromCase, tensorToCase } from './tensor-cases.js';

export interface CaseContext extends ModelContext {
  /** Whether the loaded binary has a CUDA device (then 'cuda' tensors are valid). */
  cuda: boolean;
}

/** Relative weights of the generators (model cases cost ~100 ms each, the others ~1 ms). */
const GENERATORS: ReadonlyArray<readonly [(r: Random, ctx: CaseContext, index: number) => FuzzCase<unknown>, number]> = [
  [(r, ctx) => tensorFromCase(r, ctx.cuda) as FuzzCase<unknown>, 18],
  [(r, ctx) => tensorToCase(r, ctx.cuda) as FuzzCase<unknown>, 6],
  [(r) => disposedTensorCase(r), 6],
  [(r) => attentionCase(r) as FuzzCase<unknown>, 50],
  [(r, ctx, index) => modelCase(r, ctx, index), 20],
];

export function makeCase(seed: number, index: number, ctx: CaseContext): FuzzCase<unknown> {
  const r = Random.forCase(seed, index);
  return r.weighted(GENERATORS)(r, ctx, index);
}
