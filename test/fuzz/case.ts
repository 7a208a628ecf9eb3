/**
 * One fuzz case and how its outcome is judged. The contract under test (README "API", ts/errors.ts):
 * every call either succeeds or throws a DiffusionAttentionError with a documented `code`. Anything
 * else is a failure: another error type, an unknown code, `E_INTERNAL` (documented as "a bug in this
 * package"), a result that breaks its documented shape, or an outcome that contradicts the case's
 * expectation where the generator can tell in advance that an input is valid or invalid.
 */
import { DiffusionAttentionError, type ErrorCode } from '../../ts/index.js';

/** The codes README.md and ts/errors.ts document, minus E_INTERNAL, which reports a bug. */
export const DOCUMENTED_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'E_SHAPE', 'E_DTYPE', 'E_DEVICE', 'E_NO_CUDA', 'E_DISPOSED', 'E_MODEL_FORMAT', 'E_RESOURCE', 'E_CUDA', 'E_LOAD', 'E_IO',
  'E_INVALID_ARGUMENT',
]);

/**
 * What the generator knows in advance. `succeed`: the input is valid, so only `E_RESOURCE` may
 * refuse it. `reject`: the input is invalid (`why`), so the call must throw one of `codes`.
 * `either`: the input is questionable (`why`: empty, extreme), so the call may succeed or throw one
 * of `codes` or `E_RESOURCE`.
 */
export type Expectation =
  | { kind: 'succeed' }
  | { kind: 'reject'; codes: readonly ErrorCode[]; why: string }
  | { kind: 'either'; codes: readonly ErrorCode[]; why: string };

export interface FuzzCase<R = unknown> {
  /** `area/kind`, e.g. `tensor/from`; the report counts outcomes per category. */
  category: string;
  /** The inputs, precise enough to rebuild the call by hand (replay with the seed and index). */
  description: string;
  /** The call under test; what it throws is judged by {@link judge}. */
  call: () => Promise<R> | R;
  expect?: Expectation;
  /** Checks a successful result; throws {@link CheckFailure} when it breaks its documented shape. */
  check?: (result: R) => Promise<void> | void;
  /** Releases what the case made (tensors, temporary files), whatever the outcome. */
  cleanup?: () => Promise<void> | void;
}

/** A broken result, found by a check rather than thrown by the library. */
export class CheckFailure extends Error {
  override name = 'CheckFailure';
}

export type Outcome =
  | { kind: 'ok' }
  | { kind: 'rejected'; code: ErrorCode }
  | { kind: 'failure'; message: string };

function describeError(err: unknown): string {
  if (err instanceof DiffusionAttentionError) return `DiffusionAttentionError ${err.code}: ${err.message}`;
  if (err instanceof Error) return `${err.constructor.name} (${err.name}): ${err.message}\n${err.stack?.split('\n').slice(1, 6).join('\n') ?? ''}`;
  return `non-error thrown: ${typeof err} ${String(err)}`;
}

/** Runs a case and judges the outcome; never throws. */
export async function judge(c: FuzzCase): Promise<Outcome> {
  const outcome = await judgeCall(c);
  try {
    await c.cleanup?.();
  } catch (err) {
    // Cleanup disposes tensors and removes files: dispose() is documented never to throw.
    if (outcome.kind !== 'failure') return { kind: 'failure', message: `cleanup threw ${describeError(err)}` };
  }
  return outcome;
}

async function judgeCall(c: FuzzCase): Promise<Outcome> {
  let result: unknown;
  try {
    result = await c.call();
  } catch (err) {
    if (!(err instanceof DiffusionAttentionError) || !DOCUMENTED_CODES.has(err.code)) {
      return { kind: 'failure', message: `threw ${describeError(err)}` };
    }
    const e = c.expect;
    if (e?.kind === 'succeed' && err.code !== 'E_RESOURCE') return { kind: 'failure', message: `valid input refused: ${describeError(err)}` };
    if ((e?.kind === 'reject' || (e?.kind === 'either' && err.code !== 'E_RESOURCE')) && !e.codes.includes(err.code)) {
      return { kind: 'failure', message: `${e.why}: expected ${e.codes.join(' or ')}, got ${describeError(err)}` };
    }
    return { kind: 'rejected', code: err.code };
  }
  if (c.expect?.kind === 'reject') return { kind: 'failure', message: `accepted invalid input (${c.expect.why}); expected ${c.expect.codes.join(' or ')}` };
  try {
    await c.check?.(result);
  } catch (err) {
    return { kind: 'failure', message: err instanceof CheckFailure ? `bad result: ${err.message}` : `the check of the result threw ${describeError(err)}` };
  }
  return { kind: 'ok' };
}
