import * as assert from 'uvu/assert';

import { DiffusionAttentionError } from '../../ts/index.js';

/** Expects `fn` (sync or async) to throw a DiffusionAttentionError with `code`. */
export async function throwsCode(fn: () => unknown, code: string): Promise<void> {
  try {
    await fn();
  } catch (err) {
    assert.instance(err, DiffusionAttentionError);
    assert.is((err as DiffusionAttentionError).code, code, (err as Error).message);
    return;
  }
  assert.unreachable(`expected ${code}`);
}
